"""Notice facts, drafting, submission, approval and preview (the database side of issue 5).

Every function takes keyword-only arguments with an explicit ``session`` and ``clock``; every change
writes audit events (ids, states and SHA-256 hashes only: never contact data or notice text) and a
timeline entry in the same transaction, then commits once.

Approval is the four-eyes rule: the approver must differ from the drafter and the submitter
(``Forbidden``), and the checks, re-run at approval from the stored templates against the playbook's
current content elements, must not block (``Conflict`` listing what is missing). Checking the role
(privacy officer or admin) is the caller's job. See ``app.notices.models`` for states and for how the
current approved version is found.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator
from pydantic import ValidationError as PydanticValidationError
from sqlmodel import Session, col, func, select

from app import approval
from app.audit import service as audit
from app.clock import Clock
from app.errors import Conflict, InvalidInput, NotFound
from app.incidents import service as incidents
from app.notices.context import IncidentFacts, Recipient
from app.notices.drafting import (
    Drafting,
    channels_for,
    check_summary,
    context_for,
    element_sets,
    render_error,
    render_stored,
    run_checks,
    sample_recipient,
    sha256,
    template_record,
)
from app.notices.models import LIVE, NoticeFacts, NoticeState, NoticeVersion
from app.notices.rendering import NoticeRenderError, normalise_locale
from app.obligations import service as obligations
from app.webhooks.events import emit


class FactsInput(BaseModel):
    """Body of ``PUT .../notices/facts``: ``facts`` (``IncidentFacts``), the email ``sender_name`` and
    ``sender_address``, and an optional ``reply_to``. Unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    facts: IncidentFacts
    sender_name: str = Field(min_length=1, max_length=200)
    sender_address: EmailStr
    reply_to: EmailStr | None = None

    @field_validator("sender_name")
    @classmethod
    def _one_line(cls, value: str) -> str:
        if "\n" in value or "\r" in value:
            raise ValueError("must be one line")
        return value


def _parse_facts(data: Any) -> FactsInput:
    if not isinstance(data, Mapping):
        raise InvalidInput("the notice facts must be an object", details=[{"path": "", "reason": "expected an object"}])
    try:
        return FactsInput.model_validate(dict(data))
    except PydanticValidationError as exc:
        raise InvalidInput.from_pydantic(exc) from exc


def check_dates(facts: IncidentFacts, *, today: dt.date) -> None:
    """Refuse dates a notice must not state: a discovery or breach date after ``today`` (UTC; a day later is
    allowed, as the date is written where the organisation is, up to UTC+14), or a remedy whose ``enrol_by``
    has passed (people would be offered what they can no longer take up). Checked on saving and drafting.

    Raises ``InvalidInput`` naming each field (``facts.discovered_on``, ``facts.remedies.0.enrol_by``...).
    """
    problems = [{"path": f"facts.{name}", "reason": f"is after today ({today.isoformat()})"}
                for name in ("discovered_on", "breach_start", "breach_end")
                if (value := getattr(facts, name)) is not None and value > today + dt.timedelta(days=1)]
    problems += [{"path": f"facts.remedies.{i}.enrol_by",
                  "reason": f"has passed (today is {today.isoformat()}): give a date people can still enrol by"}
                 for i, remedy in enumerate(facts.remedies) if remedy.enrol_by is not None and remedy.enrol_by < today]
    if problems:
        raise InvalidInput("; ".join(f"{p['path']} {p['reason']}" for p in problems), details=problems)


def get_facts(session: Session, *, incident_id: int) -> NoticeFacts | None:
    """The incident's notice facts, or None when none were saved yet."""
    return session.exec(select(NoticeFacts).where(NoticeFacts.incident_id == incident_id)).first()


def facts_to_json(row: NoticeFacts) -> dict[str, Any]:
    """API shape of the facts: the ``FactsInput`` body plus ``version``, ``updated_at``, ``updated_by``."""
    return {"facts": row.facts, "sender_name": row.sender_name, "sender_address": row.sender_address,
            "reply_to": row.reply_to, "version": row.version, "updated_at": row.updated_at.isoformat(),
            "updated_by": row.updated_by}


def save_facts(session: Session, *, clock: Clock, actor: str, incident_id: int, data: Any,
               drafting: Drafting) -> tuple[NoticeFacts, list[NoticeVersion]]:
    """Create or replace the incident's notice facts; commits.

    When they changed, ``version`` goes up and every key with a live version (draft, submitted or
    approved) is drafted again from the new facts, so an edit always needs a new approval. Returns the
    row and the new versions. Raises ``InvalidInput`` (field paths), ``NotFound`` (incident).
    """
    parsed = _parse_facts(data)
    incidents.get(session, incident_id=incident_id)
    check_dates(parsed.facts, today=clock.now().date())
    values = {"facts": parsed.facts.model_dump(mode="json"), "sender_name": parsed.sender_name,
              "sender_address": str(parsed.sender_address), "reply_to": str(parsed.reply_to or "") or None}
    row = get_facts(session, incident_id=incident_id)
    if row is not None and all(getattr(row, k) == v for k, v in values.items()):
        return row, []
    now = clock.now()
    row = row or NoticeFacts(incident_id=incident_id, version=0, updated_at=now, updated_by=actor, facts={},
                             default_locale="en", sender_name="", sender_address="")
    for key, value in values.items():
        setattr(row, key, value)
    row.default_locale, row.version, row.updated_at, row.updated_by = parsed.facts.default_locale, \
        row.version + 1, now, actor
    session.add(row)
    session.flush()
    audit.record(session, clock=clock, actor=actor, action="notice.facts_saved", entity="notice_facts",
                 entity_id=row.id or 0, incident_id=incident_id,
                 after={"version": row.version, "facts_sha256": sha256(values)})
    incidents.add_timeline(session, clock=clock, incident_id=incident_id, actor=actor, kind="notice",
                           text=f"Notice facts saved (version {row.version})")
    keys = sorted({(v.audience, v.regime, v.channel, v.locale) for v in versions(session, incident_id=incident_id)
                   if v.state in LIVE})
    drafted = [_draft_one(session, clock=clock, actor=actor, facts=row, key=k, drafting=drafting) for k in keys]
    session.commit()
    return row, [v for v, new in drafted if new]


def _latest(session: Session, incident_id: int, key: tuple[str, str, str, str]) -> NoticeVersion | None:
    audience, regime, channel, locale = key
    return session.exec(select(NoticeVersion).where(
        NoticeVersion.incident_id == incident_id, NoticeVersion.audience == audience, NoticeVersion.regime == regime,
        NoticeVersion.channel == channel, NoticeVersion.locale == locale).order_by(col(NoticeVersion.number).desc())
    ).first()


def _supersede(session: Session, *, incident_id: int, key: tuple[str, str, str, str], states: Sequence[str],
               now: dt.datetime, keep: int | None) -> list[int]:
    audience, regime, channel, locale = key
    rows = session.exec(select(NoticeVersion).where(
        NoticeVersion.incident_id == incident_id, NoticeVersion.audience == audience, NoticeVersion.regime == regime,
        NoticeVersion.channel == channel, NoticeVersion.locale == locale, col(NoticeVersion.state).in_(states))).all()
    done = []
    for row in rows:
        if row.id != keep:
            row.state, row.superseded_at = NoticeState.superseded.value, now
            session.add(row)
            done.append(row.id or 0)
    return done


def _draft_one(session: Session, *, clock: Clock, actor: str, facts: NoticeFacts, key: tuple[str, str, str, str],
               drafting: Drafting) -> tuple[NoticeVersion, bool]:
    """Render and check one key; reuse the latest live version when nothing changed. Returns
    ``(version, created)``."""
    audience, regime, channel, locale = key
    sets = element_sets(drafting.playbooks, regime=regime, audience=audience)
    now = clock.now()
    context = context_for({"facts": facts.facts}, sample_recipient(locale), now.date())
    try:
        notice = drafting.renderer.render(regime=regime, locale=locale, channel=channel, context=context,
                                          default_locale=facts.default_locale)
    except NoticeRenderError as exc:
        raise render_error(exc) from exc
    templates = template_record(drafting.renderer, notice)
    snapshot = {"facts": facts.facts, "sender_name": facts.sender_name, "sender_address": facts.sender_address,
                "reply_to": facts.reply_to}
    content = sha256({"snapshot": snapshot, "folder": [notice.regime, notice.locale], "sets": sets,
                      "templates": {p: t["sha256"] for p, t in templates.items()}})
    latest = _latest(session, facts.incident_id, key)
    if latest is not None and latest.state in LIVE and latest.content_sha256 == content:
        return latest, False
    warnings = [f"no {channel} templates in {locale!r}: rendered in {notice.locale!r}"] if notice.locale != locale \
        else []
    warnings += [] if sets else [f"the {regime} playbook names no content elements for {audience}: only "
                                 "forbidden-data and channel checks ran"]
    result, elements = run_checks(notice, sets=sets, context=context, drafting=drafting)
    version = NoticeVersion(
        incident_id=facts.incident_id, audience=audience, regime=regime, channel=channel, locale=locale,
        number=(latest.number + 1) if latest else 1, state=NoticeState.draft.value, template_regime=notice.regime,
        template_locale=notice.locale, facts_version=facts.version, facts_snapshot=snapshot, templates=templates,
        rendered=dict(notice.parts), rendered_sha256=sha256(dict(notice.parts)), content_sha256=content,
        checks=check_summary(result, notice=notice, sets=sets, elements=elements, warnings=warnings,
                             drafting=drafting),
        drafted_by=actor, drafted_at=now)
    superseded = _supersede(session, incident_id=facts.incident_id, key=key, now=now,
                            states=(NoticeState.draft.value, NoticeState.submitted.value), keep=None)
    session.add(version)
    session.flush()
    _audit(session, clock=clock, actor=actor, version=version, action="notice.drafted",
           extra={"facts_version": facts.version, "superseded": superseded,
                  "missing": sorted({m["element_id"] for m in version.checks["missing"]})})
    return version, True


def _audit(session: Session, *, clock: Clock, actor: str, version: NoticeVersion, action: str,
           before: Any = None, extra: Mapping[str, Any] | None = None) -> None:
    after = {"key": version.label, "state": version.state, "rendered_sha256": version.rendered_sha256,
             "templates": {p: t["sha256"] for p, t in version.templates.items()}, "ok": version.checks["ok"],
             **(extra or {})}
    audit.record(session, clock=clock, actor=actor, action=action, entity="notice_version",
                 entity_id=version.id or 0, incident_id=version.incident_id, before=before, after=after)


def _locales(locales: Sequence[str] | None, default: str) -> list[str]:
    out = []
    for tag in locales or [default]:
        norm = normalise_locale(tag)
        if norm is None:
            raise InvalidInput(f"invalid locale {tag!r}", details=[{"path": "locales", "reason": "not a BCP 47 tag"}])
        out.append(norm)
    return list(dict.fromkeys(out))


def draft(session: Session, *, clock: Clock, actor: str, incident_id: int, audience: str, regimes: Sequence[str],
          drafting: Drafting, channels: Sequence[str] | None = None,
          locales: Sequence[str] | None = None) -> list[NoticeVersion]:
    """Draft a version per ``regime`` x ``channel`` (default ``DEFAULT_CHANNELS``; for the media audience
    only ``press_release``) x ``locale`` (default: the facts' default locale) for ``audience``; commits.

    A key whose latest live version has the same facts, templates and element sets is not drafted again
    (that version is returned). Raises ``Conflict`` when no facts were saved, ``InvalidInput`` for an
    unknown regime, audience, channel or locale, or a fact a template needs, ``NotFound``.
    """
    incidents.get(session, incident_id=incident_id)
    facts = get_facts(session, incident_id=incident_id)
    if facts is None:
        raise Conflict(f"incident {incident_id} has no notice facts yet: save them first")
    check_dates(IncidentFacts.model_validate(facts.facts), today=clock.now().date())
    if not regimes:
        raise InvalidInput("name at least one regime", details=[{"path": "regimes", "reason": "empty"}])
    chans = channels_for(audience, channels)
    keys = [(audience, r, c, loc) for r in dict.fromkeys(regimes) for c in chans
            for loc in _locales(locales, facts.default_locale)]
    drafted = [_draft_one(session, clock=clock, actor=actor, facts=facts, key=k, drafting=drafting) for k in keys]
    created = [v.label for v, new in drafted if new]
    if created:
        incidents.add_timeline(session, clock=clock, incident_id=incident_id, actor=actor, kind="notice",
                               text=f"Notices drafted: {', '.join(created)}")
    session.commit()
    return [v for v, _ in drafted]


def required_regimes(session: Session, *, incident_id: int, audience: str) -> list[str]:
    """Regimes with a required, open or met obligation to notify ``audience`` for the incident (the
    default regimes to draft for)."""
    rows = obligations.for_incident(session, incident_id=incident_id)
    return sorted({r.regime for r in rows if r.audience == audience and r.required and r.part == ""
                   and r.status not in ("superseded", "not_required")})


def get_version(session: Session, *, version_id: int, incident_id: int | None = None) -> NoticeVersion:
    """One version (of ``incident_id`` when given), or ``NotFound``."""
    version = session.get(NoticeVersion, version_id)
    if version is None or (incident_id is not None and version.incident_id != incident_id):
        raise NotFound(f"notice version {version_id} does not exist")
    return version


def versions(session: Session, *, incident_id: int, state: str | None = None) -> list[NoticeVersion]:
    """The incident's versions by regime, audience, channel, locale, newest number first."""
    query = select(NoticeVersion).where(NoticeVersion.incident_id == incident_id).order_by(
        col(NoticeVersion.regime), col(NoticeVersion.audience), col(NoticeVersion.channel),
        col(NoticeVersion.locale), col(NoticeVersion.number).desc())
    if state:
        query = query.where(NoticeVersion.state == state)
    return list(session.exec(query).all())


def state_counts(session: Session, *, incident_id: int) -> dict[str, int]:
    """``{state: number of versions}`` for the incident."""
    rows = session.exec(select(NoticeVersion.state, func.count()).where(NoticeVersion.incident_id == incident_id)
                        .group_by(NoticeVersion.state)).all()
    return {state: int(count) for state, count in rows}


def submit(session: Session, *, clock: Clock, actor: str, version_id: int) -> NoticeVersion:
    """Submit a draft for approval; commits. ``Conflict`` unless it is a draft; ``NotFound``."""
    version = get_version(session, version_id=version_id)
    approval.submit(version, name=f"notice version {version_id}", actor=actor, now=clock.now())
    session.add(version)
    _audit(session, clock=clock, actor=actor, version=version, action="notice.submitted", before={"state": "draft"})
    incidents.add_timeline(session, clock=clock, incident_id=version.incident_id, actor=actor, kind="notice",
                           text=f"Notice submitted for approval: {version.label}")
    session.commit()
    return version


def recheck(version: NoticeVersion, *, drafting: Drafting) -> dict[str, Any]:
    """Re-run the checks on the version's stored templates and facts (sample recipient, drafting date) with
    the content elements the playbook names now. Returns the ``check_summary`` shape."""
    sets = element_sets(drafting.playbooks, regime=version.regime, audience=version.audience)
    context = context_for(version.facts_snapshot, sample_recipient(version.locale), version.drafted_at.date())
    notice = render_stored(templates=version.templates, channel=version.channel, regime=version.regime,
                           folder=(version.template_regime, version.template_locale), context=context)
    result, elements = run_checks(notice, sets=sets, context=context, drafting=drafting)
    kept = [w for w in version.checks.get("warnings", []) if not w.startswith("readability")]
    return check_summary(result, notice=notice, sets=sets, elements=elements, warnings=kept, drafting=drafting)


def approve(session: Session, *, clock: Clock, actor: str, version_id: int, drafting: Drafting) -> NoticeVersion:
    """Approve a submitted version: it becomes the key's current approved version and is locked; the
    previously approved one is superseded (kept as evidence). Commits.

    Raises ``Conflict`` (not submitted; or checks block: ``details`` list each problem, e.g.
    ``missing heading "What Happened" in text (Cal. Civ. Code 1798.82(d)(1))``), ``Forbidden`` (approver
    drafted or submitted it), ``NotFound``.
    """
    version = get_version(session, version_id=version_id)
    approval.check_approver(version, name=f"notice version {version_id}", noun="version", actor=actor,
                            refusal="a notice must be approved by someone other than its drafter and submitter "
                                    "(four eyes)")
    checks = recheck(version, drafting=drafting)
    if not checks["ok"]:
        raise Conflict(f"notice version {version_id} cannot be approved: " + "; ".join(checks["blocking"]),
                       details=[{"path": version.label, "reason": reason} for reason in checks["blocking"]])
    now = clock.now()
    key = (version.audience, version.regime, version.channel, version.locale)
    superseded = _supersede(session, incident_id=version.incident_id, key=key, now=now,
                            states=(NoticeState.approved.value,), keep=version.id)
    version.state, version.approved_by, version.approved_at, version.checks = \
        NoticeState.approved.value, actor, now, checks
    session.add(version)
    _audit(session, clock=clock, actor=actor, version=version, action="notice.approved",
           before={"state": "submitted"}, extra={"superseded": superseded, "content_sha256": version.content_sha256})
    incidents.add_timeline(session, clock=clock, incident_id=version.incident_id, actor=actor, kind="notice",
                           text=f"Notice approved and locked: {version.label}")
    emit(session, clock=clock, event_type="notice.approved", incident_id=version.incident_id,
         data={"incident_id": version.incident_id, "notice_version_id": version.id, "audience": version.audience,
               "regime": version.regime, "channel": version.channel, "locale": version.locale,
               "number": version.number})
    session.commit()
    return version


def current_approved(session: Session, *, incident_id: int, audience: str, regime: str, channel: str,
                     locale: str) -> NoticeVersion | None:
    """The approved version of a key (at most one is ``approved``), or None: what the sender may send."""
    return session.exec(select(NoticeVersion).where(
        NoticeVersion.incident_id == incident_id, NoticeVersion.audience == audience, NoticeVersion.regime == regime,
        NoticeVersion.channel == channel, NoticeVersion.locale == locale,
        NoticeVersion.state == NoticeState.approved.value)).first()


@dataclass(frozen=True)
class Preview:
    """A version rendered for one recipient: ``parts`` (name -> text), ``sms`` fit (or None),
    ``blocking`` problems and ``warnings`` (e.g. the recipient's name pushes the SMS over its limit)."""

    version_id: int
    channel: str
    locale: str
    parts: Mapping[str, str]
    sms: dict[str, Any] | None
    blocking: list[str]
    warnings: list[str]


def preview(session: Session, *, clock: Clock, version_id: int, recipient: Recipient,
            drafting: Drafting) -> Preview:
    """Render a version from its stored templates for ``recipient``, dated today, and check it.

    Reads only. The subjects work calls this with a ``Recipient`` built from a real subject of the
    incident (name, preferred language, personal link, enrolment code, postal address).
    """
    version = get_version(session, version_id=version_id)
    context = context_for(version.facts_snapshot, recipient, clock.now().date())
    notice = render_stored(templates=version.templates, channel=version.channel, regime=version.regime,
                           folder=(version.template_regime, version.template_locale), context=context)
    sets = version.checks.get("element_sets", [])
    result, elements = run_checks(notice, sets=sets, context=context, drafting=drafting)
    summary = check_summary(result, notice=notice, sets=sets, elements=elements, warnings=[], drafting=drafting)
    return Preview(version.id or 0, version.channel, notice.locale, dict(notice.parts),
                   summary["sms"], summary["blocking"], summary["warnings"])


def to_json(version: NoticeVersion, *, with_text: bool = False) -> dict[str, Any]:
    """API shape of a version; ``with_text`` adds the rendered sample parts and template sources."""
    data = version.model_dump(mode="json", exclude={"facts_snapshot", "templates", "rendered"})
    data["templates"] = {p: {"name": t["name"], "sha256": t["sha256"]} for p, t in version.templates.items()}
    if with_text:
        data["rendered"] = version.rendered
        data["template_sources"] = {p: t["source"] for p, t in version.templates.items()}
        data["facts_snapshot"] = version.facts_snapshot
    return data
