"""Render notices from ``templates/notices/<regime>/<locale>/`` in a sandboxed Jinja2 environment.

This environment is separate from the web UI's:

* ``jinja2.sandbox.SandboxedEnvironment`` (templates cannot reach Python internals);
* ``StrictUndefined``: a missing value stops the draft with ``NoticeRenderError`` naming the field, and a
  value that is ``None`` may not be printed either;
* HTML autoescape only for ``*.html.j2`` templates; subjects, text bodies, SMS and push are not
  HTML-escaped (``O'Brien`` stays ``O'Brien``);
* Babel filters for the render's locale: ``date``, ``datetime``, ``number``,
  ``currency``; and ``paragraphs`` (blank-line paragraphs to ``</p><p>`` in HTML, escaped).

Channels and their parts (file names inside the locale folder)::

    email            subject <- email/subject.txt.j2, text <- email/body.txt.j2, html <- email/body.html.j2
    sms              text    <- sms.txt.j2
    push             title   <- push/title.txt.j2, body <- push/body.txt.j2
    voice            notice  <- voice/notice.txt.j2 (spoken to a person), voicemail <- voice/voicemail.txt.j2,
                     menu <- voice/menu.txt.j2 (1: again, 2: link by SMS), sent <- voice/sent.txt.j2
                     (link sent), sms <- voice/sms.txt.j2 (the SMS with the personal link)
    letter           html    <- letter.html.j2     (rendered to PDF later)
    announcement     html    <- announcement.html.j2   (public / substitute notice)
    press_release    html    <- press_release.html.j2  (media audience, e.g. HIPAA 45 CFR 164.406)
    regulator_cover  text    <- regulator_cover.txt.j2

One-line parts (email ``subject``, push ``title``) are **collapsed**: every run of whitespace, line
breaks included, becomes one space and the ends are stripped. So template layout never breaks a
subject, and a line break smuggled into a value cannot reach an email header. SMS, push and voice parts
are stripped (a trailing newline would cost an SMS unit); the other parts end with exactly one newline.

Lookup: for each locale of the fallback chain (``locale_chain``), the requested regime's folder, then
``default``. The first folder that holds *all* the channel's files wins, so the parts of one notice never
mix languages or regimes. The person's language therefore outranks a regime-specific template in
another language; the content checks then say whether that notice meets the regime.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from babel import Locale
from babel.dates import format_date, format_datetime, get_timezone
from babel.numbers import format_currency, format_decimal
from jinja2 import (
    BaseLoader,
    DictLoader,
    FileSystemLoader,
    StrictUndefined,
    TemplateError,
    UndefinedError,
    pass_context,
    pass_eval_context,
)
from jinja2.nodes import EvalContext
from jinja2.runtime import Context
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup, escape

from app.notices.context import NoticeContext

CHANNELS: dict[str, tuple[tuple[str, str], ...]] = {
    "email": (("subject", "email/subject.txt.j2"), ("text", "email/body.txt.j2"),
              ("html", "email/body.html.j2")),
    "sms": (("text", "sms.txt.j2"),),
    "push": (("title", "push/title.txt.j2"), ("body", "push/body.txt.j2")),
    "voice": (("notice", "voice/notice.txt.j2"), ("voicemail", "voice/voicemail.txt.j2"), ("menu", "voice/menu.txt.j2"),
              ("sent", "voice/sent.txt.j2"), ("sms", "voice/sms.txt.j2")),
    "letter": (("html", "letter.html.j2"),),
    "announcement": (("html", "announcement.html.j2"),),
    "press_release": (("html", "press_release.html.j2"),),
    "regulator_cover": (("text", "regulator_cover.txt.j2"),),
}
ONE_LINE_PARTS = frozenset({"subject", "title"})
SHORT_CHANNELS = frozenset({"sms", "push", "voice"})
DEFAULT_REGIME = "default"
FALLBACK_LOCALE = "en"
_REGIME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_SUBTAG = re.compile(r"^[A-Za-z0-9]{1,8}$")
_RESERVED = "notice_locale"


class NoticeRenderError(Exception):
    """A notice could not be drafted. ``missing`` names the missing field when that was the cause;
    ``template`` is the template being rendered."""

    def __init__(self, message: str, *, missing: str | None = None, template: str | None = None) -> None:
        super().__init__(message)
        self.missing = missing
        self.template = template


@dataclass(frozen=True)
class RenderedNotice:
    """A rendered notice: ``parts`` maps part names (``subject``, ``text``, ``html``, ``title``,
    ``body``) to text; ``templates`` maps each part to the template used; ``regime`` and ``locale`` are
    the folder actually used, ``requested_regime`` the one asked for."""

    channel: str
    regime: str
    requested_regime: str
    locale: str
    parts: Mapping[str, str]
    templates: Mapping[str, str] = field(default_factory=dict)

    def part(self, name: str) -> str:
        """The text of one part; ``KeyError`` if this channel has no such part."""
        return self.parts[name]


def normalise_locale(tag: str | None) -> str | None:
    """Normalise a BCP 47-ish tag (``pt_br`` -> ``pt-BR``, ``zh-hant-tw`` -> ``zh-Hant-TW``); ``None``
    for an empty or invalid tag (which also keeps path characters out of template lookups)."""
    if not tag:
        return None
    subtags = re.split(r"[-_]", tag.strip())
    if not re.fullmatch(r"[A-Za-z]{2,3}", subtags[0]) or not all(_SUBTAG.match(s) for s in subtags):
        return None
    out = [subtags[0].lower()]
    for sub in subtags[1:]:
        if len(sub) == 4 and sub.isalpha():
            out.append(sub.title())
        elif (len(sub) == 2 and sub.isalpha()) or (len(sub) == 3 and sub.isdigit()):
            out.append(sub.upper())
        else:
            out.append(sub.lower())
    return "-".join(out)


def locale_chain(preferred: str | None, default: str | None = None,
                 fallback: str = FALLBACK_LOCALE) -> tuple[str, ...]:
    """Locales to try, best first: the preferred tag and its truncations, then the incident's default
    and its truncations, then ``fallback``. ``locale_chain("pt-BR", "de")`` is
    ``("pt-BR", "pt", "de", "en")``. Invalid tags are skipped."""
    chain: list[str] = []
    for tag in (preferred, default, fallback):
        norm = normalise_locale(tag)
        subtags = norm.split("-") if norm else []
        for end in range(len(subtags), 0, -1):
            candidate = "-".join(subtags[:end])
            if candidate not in chain:
                chain.append(candidate)
    return tuple(chain)


def _babel_locale(ctx: Context) -> Locale:
    return _parsed_locale(str(ctx.get(_RESERVED, FALLBACK_LOCALE)))


@functools.lru_cache(maxsize=256)
def _parsed_locale(tag: str) -> Locale:
    return Locale.parse(tag, sep="-")


@pass_context
def _date(ctx: Context, value: Any, fmt: str = "long") -> str:
    return format_date(value, fmt, locale=_babel_locale(ctx))


@pass_context
def _datetime(ctx: Context, value: Any, fmt: str = "long", tz: str = "UTC") -> str:
    return format_datetime(value, fmt, tzinfo=get_timezone(tz), locale=_babel_locale(ctx))


@pass_context
def _number(ctx: Context, value: Any) -> str:
    return format_decimal(value, locale=_babel_locale(ctx))


@pass_context
def _currency(ctx: Context, value: Any, code: str) -> str:
    return format_currency(value, code, locale=_babel_locale(ctx))


@pass_eval_context
def _paragraphs(eval_ctx: EvalContext, value: str) -> str | Markup:
    """In HTML, blank-line-separated paragraphs become ``</p><p>`` and single line breaks ``<br>``, all
    text escaped; in text templates the value is returned unchanged."""
    if not eval_ctx.autoescape:
        return value
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", value) if p.strip()]
    return Markup("</p>\n<p>").join(Markup("<br>\n").join(escape(line) for line in p.splitlines())
                                    for p in paragraphs)


def _finalize(value: Any) -> Any:
    if value is None:
        raise NoticeRenderError("a value printed in the notice is empty (None); guard it with {% if %}")
    return value


def _missing_name(error: UndefinedError) -> str | None:
    text = str(error)
    match = re.search(r"has no attribute '([^']+)'", text) or re.search(r"'([^']+)' is undefined", text)
    return match.group(1) if match else None


def _one_line(text: str) -> str:
    return " ".join(text.split())


class NoticeRenderer:
    """Renders notices from ``templates_dir`` (the ``templates/notices`` folder). Thread-safe after
    construction; templates are cached by Jinja2. ``loader`` replaces the file-system loader (see
    ``from_sources``)."""

    def __init__(self, templates_dir: str | Path, *, loader: BaseLoader | None = None) -> None:
        self.templates_dir = Path(templates_dir)
        self.env = SandboxedEnvironment(
            loader=loader or FileSystemLoader(str(self.templates_dir)),
            undefined=StrictUndefined,
            autoescape=lambda name: bool(name and self.autoescapes(name)),
            finalize=_finalize,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
        )
        self.env.filters.update(date=_date, datetime=_datetime, number=_number, currency=_currency,
                                paragraphs=_paragraphs)

    def resolve(self, *, regime: str, locales: Sequence[str], channel: str) -> tuple[str, str]:
        """The ``(regime, locale)`` folder used for ``channel``; ``NoticeRenderError`` if none has all
        of its templates."""
        if channel not in CHANNELS:
            raise NoticeRenderError(f"unknown channel {channel!r}; known: {', '.join(CHANNELS)}")
        if not _REGIME.match(regime):
            raise NoticeRenderError(f"invalid regime name {regime!r}")
        regimes = (regime, DEFAULT_REGIME) if regime != DEFAULT_REGIME else (DEFAULT_REGIME,)
        for locale in locales:
            for reg in regimes:
                folder = self.templates_dir / reg / locale
                if all((folder / name).is_file() for _, name in CHANNELS[channel]):
                    return reg, locale
        raise NoticeRenderError(
            f"no {channel} templates for regime {regime!r} in locales {', '.join(locales)}")

    def render(self, *, regime: str, locale: str | None, channel: str,
               context: Mapping[str, Any] | NoticeContext,
               default_locale: str | None = None) -> RenderedNotice:
        """Render every part of ``channel`` for ``regime`` in the best available locale.

        ``locale`` is the person's preferred language (may be ``None``), ``default_locale`` the
        incident's default; see ``locale_chain``. Raises ``NoticeRenderError`` (with ``missing`` set
        for a missing value).
        """
        reg, loc = self.resolve(regime=regime, locales=locale_chain(locale, default_locale),
                                channel=channel)
        return self.render_resolved(channel=channel, folder=(reg, loc), requested_regime=regime,
                                    context=context)

    @classmethod
    def from_sources(cls, sources: Mapping[str, str]) -> NoticeRenderer:
        """A renderer over stored template sources (``"default/en/sms.txt.j2" -> source``), e.g. the exact
        templates of an approved notice version; use it with ``render_resolved``."""
        return cls(Path("."), loader=DictLoader(dict(sources)))

    def render_resolved(self, *, channel: str, folder: tuple[str, str], requested_regime: str,
                        context: Mapping[str, Any] | NoticeContext) -> RenderedNotice:
        """Render every part of ``channel`` from the ``(regime, locale)`` ``folder`` without a lookup.

        Raises ``NoticeRenderError`` as ``render`` does (also for an unknown channel)."""
        reg, loc = folder
        raw = self.render_raw(channel=channel, folder=folder, context=context)
        return RenderedNotice(channel=channel, regime=reg, requested_regime=requested_regime, locale=loc,
                              parts={part: self.finish(channel, part, text) for part, text in raw.items()},
                              templates={part: f"{reg}/{loc}/{name}" for part, name in CHANNELS[channel]})

    def render_raw(self, *, channel: str, folder: tuple[str, str],
                   context: Mapping[str, Any] | NoticeContext) -> dict[str, str]:
        """Each part of ``channel`` from ``folder`` as the template printed it (before ``finish``).

        Raises ``NoticeRenderError`` as ``render`` does (also for an unknown channel)."""
        if channel not in CHANNELS:
            raise NoticeRenderError(f"unknown channel {channel!r}; known: {', '.join(CHANNELS)}")
        reg, loc = folder
        values = context.template_vars() if isinstance(context, NoticeContext) else dict(context)
        values[_RESERVED] = loc
        return {part: self._render_one(f"{reg}/{loc}/{name}", values) for part, name in CHANNELS[channel]}

    @staticmethod
    def finish(channel: str, part: str, text: str) -> str:
        """A rendered part's whitespace rule: one-line parts collapsed, short channels stripped, others
        stripped and ending with one newline (see the module docstring)."""
        if part in ONE_LINE_PARTS:
            return _one_line(text)
        if channel in SHORT_CHANNELS:
            return text.strip()
        return text.strip() + "\n"

    def autoescapes(self, name: str) -> bool:
        """Whether the template file ``name`` (e.g. ``email/body.html.j2``) is rendered with HTML autoescape."""
        return bool(name.endswith(".html.j2"))

    def render_for(self, context: NoticeContext, *, regime: str, channel: str) -> RenderedNotice:
        """``render`` with the locale from ``context.recipient.preferred_language`` and the default
        from ``context.facts.default_locale``."""
        preferred = context.recipient.preferred_language if context.recipient else None
        return self.render(regime=regime, locale=preferred, channel=channel, context=context,
                           default_locale=context.facts.default_locale)

    def _render_one(self, name: str, values: Mapping[str, Any]) -> str:
        try:
            return self.env.get_template(name).render(values)
        except UndefinedError as exc:
            missing = _missing_name(exc)
            raise NoticeRenderError(f"missing value {missing!r} in {name}: {exc}", missing=missing,
                                    template=name) from exc
        except NoticeRenderError as exc:
            raise NoticeRenderError(f"{exc} ({name})", template=name) from exc
        except TemplateError as exc:
            raise NoticeRenderError(f"template error in {name}: {exc}", template=name) from exc
