"""Rendering and checking one notice version, without the database.

* ``Drafting`` bundles what drafting needs besides the session: the renderer, the playbooks (which name
  the content-element sets per regime and audience) and the check limits;
* ``element_sets`` reads those sets from the playbook (``AudienceRule.content_elements``);
* ``render_stored`` renders a stored version from its *stored* template sources, so a preview or a
  send uses exactly the approved templates even after the files on disk changed;
* ``check_summary`` turns a ``Review`` into the JSON kept on the version, with reviewer messages such
  as ``missing heading "What Happened" in text (Cal. Civ. Code 1798.82(d)(1))``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from app.errors import InvalidInput
from app.notices.checks import DEFAULT_MAX_SMS_SEGMENTS, ReadabilityLimits, Review, review
from app.notices.context import IncidentFacts, NoticeContext, Recipient
from app.notices.elements import ContentElement, elements_for
from app.notices.rendering import CHANNELS, NoticeRenderer, NoticeRenderError, RenderedNotice
from app.notices.sms import fit_sms
from app.playbooks.schema import AudienceName, Playbook

SAMPLE_LINK = "https://notify.example.org/n/sample1.tq3k1c.AbCdEfGhIjKlMnOpQrStUv"
"""A personal link of realistic length (so SMS segment counts are realistic) for sample renders."""


@dataclass(frozen=True)
class Drafting:
    """What drafting and approval need besides the session: ``renderer`` (the notice templates),
    ``playbooks`` (regime id -> ``Playbook``), ``readability`` (where each language is flagged),
    ``max_sms_segments`` and ``sms_normalise`` (GSM-7 normalisation of SMS text, ``app.notices.sms``)."""

    renderer: NoticeRenderer
    playbooks: Mapping[str, Playbook]
    readability: ReadabilityLimits = field(default_factory=ReadabilityLimits)
    max_sms_segments: int = DEFAULT_MAX_SMS_SEGMENTS
    sms_normalise: bool = True


def sha256(value: Any) -> str:
    """SHA-256 (hex) of a string, or of the canonical JSON of any other value."""
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, separators=(",", ":"),
                                                           ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def sample_recipient(locale: str) -> Recipient:
    """The made-up recipient a draft is rendered for (its text is kept as evidence; no real person)."""
    return Recipient(full_name="Alex Sample", preferred_language=locale, personal_link=SAMPLE_LINK,
                     enrolment_code="SAMPLE-0000", postal_address=("1 Sample Street", "Sampletown"))


def element_sets(playbooks: Mapping[str, Playbook], *, regime: str, audience: str) -> tuple[str, ...]:
    """The content-element set ids the playbook of ``regime`` names for ``audience``.

    Raises ``InvalidInput`` for an unknown regime, audience, or an audience the regime does not regulate.
    """
    playbook = playbooks.get(regime)
    if playbook is None:
        raise InvalidInput(f"unknown regime {regime!r}", details=[{"path": "regimes", "reason": "unknown"}])
    try:
        rule = playbook.audience(AudienceName(audience))
    except ValueError as exc:
        raise InvalidInput(f"unknown audience {audience!r}", details=[{"path": "audience", "reason": "unknown"}]
                           ) from exc
    if rule is None:
        raise InvalidInput(f"{regime} has no {audience} audience",
                           details=[{"path": "audience", "reason": f"not regulated by {regime}"}])
    return tuple(rule.content_elements)


def render_error(exc: NoticeRenderError) -> InvalidInput:
    """A render failure as ``InvalidInput`` naming the missing fact or the template."""
    path = f"facts.{exc.missing}" if exc.missing else (exc.template or "template")
    return InvalidInput(f"the notice cannot be drafted: {exc}", details=[{"path": path, "reason": str(exc)}])


def template_record(renderer: NoticeRenderer, notice: RenderedNotice) -> dict[str, dict[str, str]]:
    """``{part: {"name", "sha256", "source"}}`` of the templates ``notice`` was rendered from."""
    out: dict[str, dict[str, str]] = {}
    for part, name in notice.templates.items():
        loader = renderer.env.loader
        assert loader is not None
        source = loader.get_source(renderer.env, name)[0]
        out[part] = {"name": name, "sha256": sha256(source), "source": source}
    return out


def context_for(snapshot: Mapping[str, Any], recipient: Recipient | None, notice_date: dt.date) -> NoticeContext:
    """The notice context from a version's facts ``snapshot`` for one recipient and notice date."""
    return NoticeContext(facts=IncidentFacts.model_validate(snapshot["facts"]), recipient=recipient,
                         notice_date=notice_date)


def render_stored(*, templates: Mapping[str, Mapping[str, str]], channel: str, folder: tuple[str, str],
                  regime: str, context: NoticeContext) -> RenderedNotice:
    """Render ``channel`` from stored template sources (a version's ``templates``); ``InvalidInput`` on a
    render failure."""
    renderer = NoticeRenderer.from_sources({t["name"]: t["source"] for t in templates.values()})
    try:
        return renderer.render_resolved(channel=channel, folder=folder, requested_regime=regime, context=context)
    except NoticeRenderError as exc:
        raise render_error(exc) from exc


def run_checks(notice: RenderedNotice, *, sets: Sequence[str], context: NoticeContext,
               drafting: Drafting) -> tuple[Review, tuple[ContentElement, ...]]:
    """Every check of ``app.notices.checks.review`` with the elements of ``sets``."""
    elements = elements_for(*sets)
    result = review(notice, elements=elements, context=context.template_vars(), limits=drafting.readability,
                    max_sms_segments=drafting.max_sms_segments, sms_normalise=drafting.sms_normalise)
    return result, elements


def _missing_message(element: ContentElement | None, part: str, reason: str, citation: str | None) -> str:
    cite = f" ({citation})" if citation else ""
    if element is not None and element.kind in ("title", "heading", "phrase"):
        return f'missing {element.kind} "{element.text}" in {part}{cite}'
    what = element.description if element is not None and element.description else reason
    return f"missing {what} in {part}: {reason}{cite}"


def check_summary(result: Review, *, notice: RenderedNotice, sets: Sequence[str],
                  elements: Sequence[ContentElement], warnings: Sequence[str], drafting: Drafting) -> dict[str, Any]:
    """The JSON kept on a version::

        {"element_sets": [...], "elements": [ids], "missing": [{element_id, part, reason, citation, message}],
         "forbidden": [{kind, part, excerpt}], "problems": [str], "readability": {part: {grade, metric,
         max_grade, flagged} or {ease, metric, min_ease, flagged}}, "sms": {encoding, units, segments,
         per_segment, max_segments} | None, "sms_normalise": bool, "warnings": [str], "blocking": [str],
         "ok": bool}

    ``blocking`` lists why approval is refused; ``warnings`` (readability, locale fallback, no element
    set) never block. Forbidden excerpts are masked (``***6789``). ``sms_normalise`` is how SMS text
    (an SMS notice, a voice notice's link SMS) was checked, and so how the version is sent.
    """
    by_id = {e.id: e for e in elements}
    missing = [{"element_id": m.element_id, "part": m.part, "reason": m.reason, "citation": m.citation,
                "message": _missing_message(by_id.get(m.element_id), m.part, m.reason, m.citation)}
               for m in result.missing]
    forbidden = [{"kind": h.kind, "part": h.part, "excerpt": h.excerpt} for h in result.forbidden]
    readability = {part: r.to_json() for part, r in result.readability.items()}
    notes = list(warnings) + [note for part, r in result.readability.items() if (note := r.warning(part))]
    blocking = ([m["message"] for m in missing] + [f"forbidden {h['kind']} in {h['part']}: {h['excerpt']}"
                                                   for h in forbidden] + list(result.problems))
    return {"element_sets": list(sets), "elements": [e.id for e in elements], "missing": missing,
            "forbidden": forbidden, "problems": list(result.problems), "readability": readability,
            "sms": sms_fit(notice, drafting.max_sms_segments, normalise=drafting.sms_normalise),
            "sms_normalise": drafting.sms_normalise, "warnings": notes, "blocking": blocking, "ok": not blocking}


def sms_fit(notice: RenderedNotice, max_segments: int, *, normalise: bool) -> dict[str, Any] | None:
    """Encoding, units and segments of an SMS notice (after GSM-7 normalisation when ``normalise``);
    ``None`` for others."""
    if notice.channel != "sms":
        return None
    fit = fit_sms(notice.parts["text"], max_segments=max_segments, normalise=normalise).fit
    return {"encoding": fit.encoding, "units": fit.units, "segments": fit.segments,
            "per_segment": fit.per_segment, "max_segments": max_segments}


def known_channel(channel: str) -> str:
    """``channel`` if the renderer knows it; ``InvalidInput`` otherwise."""
    if channel not in CHANNELS:
        raise InvalidInput(f"unknown channel {channel!r}; known: {', '.join(CHANNELS)}",
                           details=[{"path": "channels", "reason": f"unknown channel {channel!r}"}])
    return channel


DEFAULT_CHANNELS = ("email", "sms", "push", "letter")
# The media audience gets a press release (HIPAA 45 CFR 164.406), never the public announcement, and only it.
MEDIA_CHANNEL = "press_release"


def channels_for(audience: str, channels: Sequence[str] | None) -> list[str]:
    """The channels to draft for ``audience``: the media get ``press_release`` (the default for them) and
    nobody else does. ``InvalidInput`` for an unknown channel or one the audience cannot have."""
    chans = [known_channel(c) for c in dict.fromkeys(channels or (
        (MEDIA_CHANNEL,) if audience == "media" else DEFAULT_CHANNELS))]
    wrong = [c for c in chans if (c == MEDIA_CHANNEL) != (audience == "media")]
    if wrong:
        reason = ("a media notice is a press release: draft the press_release channel" if audience == "media"
                  else "the press_release channel is for the media audience")
        raise InvalidInput(f"{reason} (not {', '.join(wrong)})",
                           details=[{"path": "channels", "reason": reason}])
    return chans
