"""Render a notice once per (version, language, date) and fill in only the per-person values.

Dispatch renders the same approved templates for thousands of people who differ only in
``recipient.full_name`` and ``recipient.personal_link`` (``PERSONAL``). A ``Skeleton`` is the rendered
notice with unique marker strings where those values go; ``fill`` splices in a person's values (HTML-escaped
with ``markupsafe.escape`` in ``*.html.j2`` parts exactly as Jinja2's autoescape would, unescaped elsewhere)
and then applies the part's usual whitespace rule (``NoticeRenderer.finish``).

That is only the same as rendering the template for the person when the template prints those two values
as they are and never looks at them otherwise. ``personal_outputs_only`` proves it on the parsed template
(Jinja2 AST): the two values may appear only as a whole ``{{ recipient.full_name }}`` /
``{{ recipient.personal_link }}`` expression (no filter, test, comparison, ``set``, macro or call
argument), ``recipient`` is never bound, passed or printed as a whole, and the template has no
``extends``/``include``/``import``, macros, call, filter or ``set`` blocks, ``autoescape`` blocks or
``self`` (whose output could be post-processed). Other recipient fields may be used freely: they are
part of the cache key (``preferred_language``) or the same for every dispatched person. ``make_skeleton``
also renders the parts twice with different markers and checks that they differ only at the markers;
``MessageBuilder`` compares the first person of each skeleton with a full render. Any template that
fails a check is rendered per person as before.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from jinja2 import TemplateError, nodes
from markupsafe import escape

from app.notices.rendering import CHANNELS, NoticeRenderer, RenderedNotice

PERSONAL = ("full_name", "personal_link")
"""Recipient fields filled per person into a skeleton."""

_FORBIDDEN = (nodes.Extends, nodes.Include, nodes.Import, nodes.FromImport, nodes.Macro, nodes.CallBlock,
              nodes.FilterBlock, nodes.AssignBlock, nodes.EvalContextModifier)
_SALT = secrets.token_hex(8)


def _marker(field: str, variant: str) -> str:
    return f"\ue000{variant}{_SALT}{field}\ue001"


def _printed_as_is(tree: nodes.Template) -> set[int]:
    """Ids of the ``recipient`` Name nodes whose ``recipient.<PERSONAL>`` is a whole printed expression."""
    found: set[int] = set()
    for output in tree.find_all(nodes.Output):
        for child in output.nodes:
            if (isinstance(child, nodes.Getattr) and isinstance(child.node, nodes.Name)
                    and child.node.name == "recipient" and child.attr in PERSONAL):
                found.add(id(child.node))
    return found


def _other_fields(tree: nodes.Template) -> set[int]:
    """Ids of ``recipient`` Name nodes read as ``recipient.<field>`` for a field not in ``PERSONAL``."""
    return {id(g.node) for g in tree.find_all(nodes.Getattr)
            if isinstance(g.node, nodes.Name) and g.node.name == "recipient" and g.attr not in PERSONAL}


def personal_outputs_only(source: str, renderer: NoticeRenderer) -> bool:
    """Whether a template prints the ``PERSONAL`` recipient fields only as whole ``{{ }}`` expressions and
    never inspects them (see the module docstring); ``False`` also for a template that does not parse."""
    try:
        tree = renderer.env.parse(source)
    except TemplateError:
        return False
    if any(True for _ in tree.find_all(_FORBIDDEN)):
        return False
    allowed = _printed_as_is(tree) | _other_fields(tree)
    for name in tree.find_all(nodes.Name):
        if name.name == "self" or (name.name == "recipient" and (name.ctx != "load" or id(name) not in allowed)):
            return False
    return True


@dataclass(frozen=True)
class Skeleton:
    """A notice rendered with markers: per part the literal pieces and, between them, the ``PERSONAL``
    field that goes there; ``escaped`` names the HTML parts."""

    notice: RenderedNotice
    pieces: Mapping[str, tuple[tuple[str, ...], tuple[str, ...]]]
    escaped: frozenset[str]

    def fill(self, values: Mapping[str, str]) -> RenderedNotice:
        """The notice for one person: ``values`` maps each ``PERSONAL`` field to the value the template
        would print (``str(recipient.personal_link)``, the validated ``full_name``)."""
        parts: dict[str, str] = {}
        for part, (texts, fields) in self.pieces.items():
            quoted = {f: str(escape(v)) for f, v in values.items()} if part in self.escaped else values
            out = [texts[0]]
            for field, text in zip(fields, texts[1:], strict=True):
                out.append(quoted[field])
                out.append(text)
            parts[part] = NoticeRenderer.finish(self.notice.channel, part, "".join(out))
        n = self.notice
        return RenderedNotice(channel=n.channel, regime=n.regime, requested_regime=n.requested_regime,
                              locale=n.locale, parts=parts, templates=n.templates)


def _split(text: str, variant: str) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
    pattern = "|".join(re.escape(_marker(f, variant)) for f in PERSONAL)
    pieces = re.split(f"({pattern})", text)
    fields = tuple(next(f for f in PERSONAL if _marker(f, variant) == m) for m in pieces[1::2])
    texts = tuple(pieces[0::2])
    if any("\ue000" in t and _SALT in t for t in texts):
        return None
    return texts, fields


def make_skeleton(renderer: NoticeRenderer, *, channel: str, folder: tuple[str, str], requested_regime: str,
                  values: Mapping[str, Any]) -> Skeleton | None:
    """The skeleton of ``channel`` from ``folder`` for template variables ``values`` (``template_vars()``
    of a context with a recipient), or ``None`` when a template may not be rendered this way.

    Raises ``NoticeRenderError`` as ``render_resolved`` does."""
    names = [f"{folder[0]}/{folder[1]}/{name}" for _, name in CHANNELS.get(channel, ())]
    if not names or renderer.env.loader is None or not isinstance(values.get("recipient"), Mapping):
        return None
    for name in names:
        source = renderer.env.loader.get_source(renderer.env, name)[0]
        if not personal_outputs_only(source, renderer):
            return None
    raw = {}
    for variant in ("a", "b"):
        marked = dict(values)
        marked["recipient"] = {**values["recipient"], **{f: _marker(f, variant) for f in PERSONAL}}
        raw[variant] = renderer.render_raw(channel=channel, folder=folder, context=marked)
    pieces = {}
    for part, text in raw["a"].items():
        split, other = _split(text, "a"), _split(raw["b"][part], "b")
        if split is None or split != other:
            return None
        pieces[part] = split
    escaped = frozenset(part for part, name in CHANNELS[channel] if renderer.autoescapes(name))
    notice = RenderedNotice(channel=channel, regime=folder[0], requested_regime=requested_regime,
                            locale=folder[1], parts={},
                            templates={p: f"{folder[0]}/{folder[1]}/{n}" for p, n in CHANNELS[channel]})
    return Skeleton(notice, pieces, escaped)
