"""Content checks on rendered notices: required elements, forbidden data, readability, channel fit.

Which checks apply to which channel (``CHANNEL_POLICY``):

==================  ===========================  ==========  ===========  ==========================
channel             required elements on parts   forbidden   readability  short-channel checks
==================  ===========================  ==========  ===========  ==========================
email               ``text`` and ``html`` each    all parts   ``text``     -
letter              ``html``                      all parts   ``html``     -
announcement        ``html``                      all parts   ``html``     -
regulator_cover     none (regulator reports have  all parts   -            -
                    their own content rules)
sms                 none: supplementary only      all parts   -            link + organisation name,
                    (us.md 5, "channels")                                  segments <= max
push                none: supplementary only      all parts   -            link + organisation name,
                                                                           payload <= 3993 bytes
voice               none: supplementary only      all parts   -            organisation name and
                                                                           call-centre number spoken;
                                                                           link in the ``sms`` part
==================  ===========================  ==========  ===========  ==========================

Both email bodies are checked because the reader's client shows either one. ``review`` combines all
checks; a notice may be approved only when ``Review.ok`` (readability is a flag, not a blocker).

Readability per language (``readability``, textstat; limits from ``ReadabilityLimits``, flags only):

* ``en``: Coleman-Liau index, a US school grade, flagged above ``en``;
* ``de``: Wiener Sachtextformel, first variant (Bamberger and Vanecek, for non-fiction), a German school
  grade from 4 (easy) to 15 (hard), flagged above ``de``;
* ``fr``: Flesch reading ease with Kandel and Moles' French coefficients
  (207 - 1.015 x words per sentence - 73.6 x syllables per word), 0-100, higher is easier, flagged below
  ``fr``;
* others (``zh``): no score; these formulas count words between spaces and syllables, which Chinese
  text has not.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from babel import Locale
from babel.dates import format_date

from app.notices.elements import ContentElement
from app.notices.forbidden import ForbiddenHit, find_forbidden
from app.notices.plaintext import html_lines, part_lines
from app.notices.push import PUSH_MAX_PLAINTEXT_BYTES, PushPayloadTooLarge, build_push_payload
from app.notices.rendering import RenderedNotice
from app.notices.sms import fit_sms

CHANNEL_POLICY: dict[str, dict[str, tuple[str, ...]]] = {
    "email": {"elements": ("text", "html"), "readability": ("text",)},
    "letter": {"elements": ("html",), "readability": ("html",)},
    "announcement": {"elements": ("html",), "readability": ("html",)},
    "press_release": {"elements": ("html",), "readability": ("html",)},
    "regulator_cover": {"elements": (), "readability": ()},
    "sms": {"elements": (), "readability": ()},
    "push": {"elements": (), "readability": ()},
    "voice": {"elements": (), "readability": ()},
}
DEFAULT_MAX_GRADE = 8.0
DEFAULT_MAX_GRADE_DE = 8.0
DEFAULT_MIN_EASE_FR = 60.0
DEFAULT_MAX_SMS_SEGMENTS = 3
_DATE_FORMATS = ("short", "medium", "long", "full")
_URLISH = re.compile(r"https?://|www\.|\S@\S")


@dataclass(frozen=True)
class Missing:
    """A required element not found: ``element_id``, the ``part`` checked, a ``reason`` and the
    ``citation`` of the rule."""

    element_id: str
    part: str
    reason: str
    citation: str | None


@dataclass(frozen=True)
class ReadabilityLimits:
    """Where readability is flagged, per language (see the module docstring): ``en`` and ``de`` are the
    highest school grade, ``fr`` the lowest reading ease."""

    en: float = DEFAULT_MAX_GRADE
    de: float = DEFAULT_MAX_GRADE_DE
    fr: float = DEFAULT_MIN_EASE_FR


@dataclass(frozen=True)
class Readability:
    """A readability ``score`` by ``metric`` (``None`` for languages without one) and whether it is
    ``flagged``: a ``grade`` scale is flagged above ``limit``, an ``ease`` scale (higher is easier) below."""

    score: float | None
    metric: str
    scale: Literal["grade", "ease"]
    limit: float | None
    flagged: bool

    def to_json(self) -> dict[str, Any]:
        """``{grade, metric, max_grade, flagged}`` for a grade scale (the shape versions always kept),
        ``{ease, metric, min_ease, flagged}`` for an ease scale."""
        if self.scale == "ease":
            return {"ease": self.score, "metric": self.metric, "min_ease": self.limit, "flagged": self.flagged}
        return {"grade": self.score, "metric": self.metric, "max_grade": self.limit, "flagged": self.flagged}

    def warning(self, part: str) -> str | None:
        """The reviewer's note when flagged (it starts with ``readability``), else None."""
        if not self.flagged:
            return None
        if self.scale == "ease":
            return f"readability: reading ease {self.score} in {part} is below {self.limit}"
        return f"readability grade {self.score} in {part} is above {self.limit}"


@dataclass(frozen=True)
class Review:
    """Everything the approval step needs: ``missing`` elements, ``forbidden`` hits, ``problems`` of
    short-channel fit, and ``readability`` per part. ``ok`` is ``True`` when nothing blocks approval."""

    missing: list[Missing] = field(default_factory=list)
    forbidden: list[ForbiddenHit] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    readability: dict[str, Readability] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """No missing element, no forbidden data, no fit problem."""
        return not (self.missing or self.forbidden or self.problems)

    def blocking(self) -> list[str]:
        """Human-readable reasons approval is refused, one per line."""
        out = [f"missing {m.element_id} in {m.part}: {m.reason}"
               + (f" ({m.citation})" if m.citation else "") for m in self.missing]
        out += [f"forbidden {h.kind} in {h.part}: {h.excerpt}" for h in self.forbidden]
        return out + self.problems


def _norm(text: str) -> str:
    return " ".join(text.split()).casefold()


def _heading_norm(text: str) -> str:
    return _norm(text).rstrip(":?").strip()


def lookup(context: Any, path: str) -> list[Any]:
    """Values at a dotted ``path`` of a nested mapping; a list on the way (or at the end) is mapped
    over. Missing keys, ``None``, empty strings and empty lists give no value."""
    current: list[Any] = [context]
    for key in path.split("."):
        step: list[Any] = []
        for item in current:
            if isinstance(item, Mapping) and key in item:
                value = item[key]
                step.extend(value if isinstance(value, list) else [value])
        current = step
    return [v for v in current if v is not None and v != "" and v != []]


def _needles(value: Any, locale: Locale) -> tuple[str, ...] | None:
    """Accepted renderings of one value; ``None`` means "presence is enough"."""
    if isinstance(value, str):
        return (_norm(value),)
    if isinstance(value, dt.date):
        return tuple(_norm(format_date(value, f, locale=locale)) for f in _DATE_FORMATS)
    return None


def _fact_reason(path: str, context: Mapping[str, Any], haystack: str, locale: Locale,
                 optional: bool) -> str | None:
    values = lookup(context, path)
    if not values:
        return None if optional else f"no value for {path} in the notice context"
    for value in values:
        needles = _needles(value, locale)
        if needles is not None and not any(n in haystack for n in needles):
            return f"the value of {path} does not appear in the notice"
    return None


def _element_reason(element: ContentElement, lines: list[str], context: Mapping[str, Any],
                    locale: Locale) -> str | None:
    haystack = _norm(" ".join(lines))
    if element.kind in ("title", "heading"):
        wanted = {_heading_norm(t) for t in (element.text or "", *element.alternatives)}
        found = any(_heading_norm(line) in wanted for line in lines)
        return None if found else f'"{element.text}" is not on a line of its own'
    if element.kind == "phrase":
        found = any(_norm(t) in haystack for t in (element.text or "", *element.alternatives))
        return None if found else f'"{element.text}" does not appear'
    if element.field:
        return _fact_reason(element.field, context, haystack, locale, element.optional)
    reasons = [_fact_reason(p, context, haystack, locale, element.optional) for p in element.any_of]
    return None if any(r is None for r in reasons) else f"none of {', '.join(element.any_of)} appears"


def check_elements(notice: RenderedNotice, elements: Sequence[ContentElement],
                   context: Mapping[str, Any]) -> list[Missing]:
    """Required ``elements`` missing from the parts ``CHANNEL_POLICY`` names for the notice's channel.

    ``context`` is the mapping the notice was rendered from (``NoticeContext.template_vars()``).
    Returns one ``Missing`` per element and part; empty when complete (or for sms/push/regulator
    cover, which carry no element checks).
    """
    locale = Locale.parse(notice.locale, sep="-")
    missing: list[Missing] = []
    for part in CHANNEL_POLICY.get(notice.channel, {}).get("elements", ()):
        lines = part_lines(part, notice.parts[part])
        for element in elements:
            reason = _element_reason(element, lines, context, locale)
            if reason:
                missing.append(Missing(element.id, part, reason, element.citation))
    return missing


def check_forbidden(notice: RenderedNotice, *, breached_values: Iterable[str] = (),
                    context: Any = None) -> list[ForbiddenHit]:
    """Breached values in any part (HTML parts are checked raw and as the reader sees them); see
    ``app.notices.forbidden``. ``breached_values`` are the person's actual values to keep out."""
    views: dict[str, str] = {}
    for part, text in notice.parts.items():
        views[part] = text
        if part == "html":
            views["html (visible text)"] = "\n".join(html_lines(text))
    hits = find_forbidden(views, breached_values=list(breached_values), context=context)
    unique: dict[tuple[str, str, str], ForbiddenHit] = {}
    for hit in hits:  # one hit per value and part (raw HTML and its visible text count as one part)
        unique.setdefault((hit.kind, hit.excerpt, hit.part.split(" ")[0]), hit)
    return list(unique.values())


def prose(lines: Iterable[str]) -> str:
    """The sentences of a notice for readability scoring: lines that end like a sentence (``.``, ``!``,
    ``?``) and carry no URL or email address. Headings, list items and contact lines are left out,
    since they are not prose and would distort a sentence-length formula."""
    return "\n".join(line for line in lines if line.endswith((".", "!", "?"))
                     and not _URLISH.search(line))


def readability(text: str, *, locale: str, limits: ReadabilityLimits | None = None) -> Readability:
    """The readability of ``text`` in the language of ``locale`` (textstat), flagged against ``limits``.

    English: Coleman-Liau index, a US grade. It counts letters, words and sentences, so it needs no
    pronunciation dictionary (textstat's English syllable counts would download NLTK's cmudict at run
    time). German: Wiener Sachtextformel (first variant), a German school grade for non-fiction. French:
    Flesch reading ease with Kandel and Moles' French coefficients. German and French syllables are
    estimated from the hyphenation points of pyphen's bundled dictionaries (no download); these run a little
    low ("Abend" counts as one), so the scores lean easy. Other languages (Chinese) get ``score=None``.
    Plain language is required by HIPAA 164.404(c)(2), GDPR Art. 34(2) and Cal. Civ. Code 1798.82(d)(1).
    """
    limits = limits or ReadabilityLimits()
    language = locale.replace("_", "-").split("-")[0].lower()
    if language not in ("en", "de", "fr") or not text.strip():
        return Readability(None, "none", "grade", None, False)
    from textstat.backend import metrics  # type: ignore[import-untyped]  # imported lazily: it loads nltk

    if language == "fr":
        ease = round(float(metrics.flesch_reading_ease(text, "fr")), 1)
        return Readability(ease, "flesch-kandel-moles", "ease", limits.fr, ease < limits.fr)
    if language == "de":
        grade = round(float(metrics.wiener_sachtextformel(text, 1, "de")), 1)
        return Readability(grade, "wiener-sachtextformel-1", "grade", limits.de, grade > limits.de)
    grade = round(float(metrics.coleman_liau_index(text)), 1)
    return Readability(grade, "coleman-liau", "grade", limits.en, grade > limits.en)


def check_short_channel(notice: RenderedNotice, *, personal_link: str, organisation_name: str,
                        max_sms_segments: int = DEFAULT_MAX_SMS_SEGMENTS, sms_normalise: bool = True,
                        max_push_bytes: int = PUSH_MAX_PLAINTEXT_BYTES) -> list[str]:
    """Problems of an SMS, voice or push notice: the organisation name must appear; an SMS (and a voice
    notice's ``sms`` part) must carry the personal link and fit ``max_sms_segments`` (after GSM-7
    normalisation when ``sms_normalise``); a push payload (whose ``url`` is the personal link) must fit
    ``max_push_bytes`` without shortening the body."""
    text = " ".join(notice.parts.values())
    problems = [] if _norm(organisation_name) in _norm(text) else [
        f"{notice.channel}: organisation name missing"]
    if notice.channel == "sms":
        if not personal_link or personal_link not in text:
            problems.append("sms: personal link missing")
        check = fit_sms(notice.parts["text"], max_segments=max_sms_segments, normalise=sms_normalise)
        problems += [f"sms: {check.problem}"] if check.problem else []
    elif notice.channel == "voice":
        if not personal_link or personal_link not in notice.parts["sms"]:
            problems.append("voice: personal link missing from the sms part")
        check = fit_sms(notice.parts["sms"], max_segments=max_sms_segments, normalise=sms_normalise)
        problems += [f"voice sms: {check.problem}"] if check.problem else []
    elif notice.channel == "push":
        if not personal_link:
            problems.append("push: personal link missing")
        try:
            payload = build_push_payload(title=notice.parts["title"], body=notice.parts["body"],
                                         url=personal_link, max_bytes=max_push_bytes)
        except PushPayloadTooLarge as exc:
            return [*problems, f"push: {exc}"]
        if json.loads(payload)["body"] != notice.parts["body"]:
            problems.append(f"push: body shortened to fit {max_push_bytes} bytes")
    return problems


def check_call_centre(notice: RenderedNotice, contact: Mapping[str, Any]) -> list[str]:
    """Problems of a voice notice: the call-centre number (``toll_free_phone``, else ``phone``) of the facts
    must be spoken in the ``notice`` and ``voicemail`` parts, since a listener cannot click a link."""
    number = contact.get("toll_free_phone") or contact.get("phone")
    if not number:
        return []
    return [f"voice: call-centre number missing from the {part} part" for part in ("notice", "voicemail")
            if str(number) not in notice.parts[part]]


def review(notice: RenderedNotice, *, elements: Sequence[ContentElement], context: Mapping[str, Any],
           breached_values: Iterable[str] = (), limits: ReadabilityLimits | None = None,
           max_sms_segments: int = DEFAULT_MAX_SMS_SEGMENTS, sms_normalise: bool = True) -> Review:
    """Run every check ``CHANNEL_POLICY`` applies to ``notice`` and collect the results (readability
    against ``limits``; SMS fit after GSM-7 normalisation when ``sms_normalise``)."""
    result = Review(missing=check_elements(notice, elements, context),
                    forbidden=check_forbidden(notice, breached_values=breached_values, context=context))
    if notice.channel in ("sms", "push", "voice"):
        recipient = context.get("recipient") or {}
        facts = context.get("facts") or {}
        result.problems.extend(check_short_channel(
            notice, personal_link=str(recipient.get("personal_link", "")),
            organisation_name=str(facts.get("organisation_name", "")),
            max_sms_segments=max_sms_segments, sms_normalise=sms_normalise))
        if notice.channel == "voice":
            result.problems.extend(check_call_centre(notice, facts.get("contact") or {}))
    for part in CHANNEL_POLICY.get(notice.channel, {}).get("readability", ()):
        text = prose(part_lines(part, notice.parts[part]))
        result.readability[part] = readability(text, locale=notice.locale, limits=limits)
    return result
