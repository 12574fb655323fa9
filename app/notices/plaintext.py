"""Plain-text view of rendered parts, for the content checks.

``html_lines`` turns an HTML part into the lines a reader sees: each block element (headings,
paragraphs, list items, table cells, ``<br>``) starts a new line, entities are decoded, and
``<script>``, ``<style>`` and ``<head>`` content is dropped. A heading therefore counts as "its own line"
only when it is in a block of its own.
"""

from __future__ import annotations

from html.parser import HTMLParser

_BLOCK = frozenset({
    "address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt", "footer", "h1", "h2",
    "h3", "h4", "h5", "h6", "header", "hr", "li", "main", "nav", "ol", "p", "pre", "section", "table",
    "td", "th", "tr", "ul", "body", "html",
})
_HIDDEN = frozenset({"script", "style", "head", "template"})


class _Lines(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self._current: list[str] = []
        self._hidden = 0

    def _flush(self) -> None:
        line = " ".join("".join(self._current).split())
        if line:
            self.lines.append(line)
        self._current = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _HIDDEN:
            self._hidden += 1
        elif tag in _BLOCK:
            self._flush()

    def handle_endtag(self, tag: str) -> None:
        if tag in _HIDDEN:
            self._hidden = max(0, self._hidden - 1)
        elif tag in _BLOCK:
            self._flush()

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self._current.append(data)


def html_lines(html: str) -> list[str]:
    """Visible lines of an HTML document, whitespace-collapsed, empty lines dropped."""
    parser = _Lines()
    parser.feed(html)
    parser.close()
    parser._flush()
    return parser.lines


def text_lines(text: str) -> list[str]:
    """Lines of a plain-text part, whitespace-collapsed, empty lines dropped."""
    return [" ".join(line.split()) for line in text.splitlines() if line.strip()]


def part_lines(name: str, text: str) -> list[str]:
    """Lines of a rendered part: parts named ``html`` are parsed as HTML, the others as text."""
    return html_lines(text) if name == "html" else text_lines(text)
