"""Regulator report versions: drafting per phase with a diff from the previous version, the late-filing
rule, four-eyes approval, and the exported document.

Every function takes keyword-only arguments with an explicit ``session`` and ``clock``; every change writes
an audit event (ids, states, hashes: never contact data or report text) and a timeline entry in the same
transaction, then commits once. Checking the role (privacy officer or admin to approve) is the caller's.

Late filing: the initial phase copies ``due_at`` from the regime's earliest open regulator obligation
(e.g. GDPR Art. 33(1) 72 hours, 45 CFR 164.408(b) 60 days). Drafting or approving it after ``due_at``
without ``reason_for_delay`` raises ``InvalidInput`` (GDPR Art. 33(1): "accompanied by reasons for the
delay"). Follow-up and final phases (Art. 33(4), HHS addenda) have no deadline of their own.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError as PydanticValidationError
from sqlmodel import Session, col, select

from app import approval
from app.audit import service as audit
from app.clock import Clock
from app.errors import Conflict, InvalidInput, NotFound
from app.incidents import service as incidents
from app.playbooks.schema import Playbook
from app.reports import content as builder
from app.reports.models import Phase, RegulatorReport, ReportState
from app.reports.regimes import REGIME_REPORT, REPORT_TYPES
from app.reports.sources import gather

OPEN_DRAFTS = (ReportState.draft.value, ReportState.submitted.value)


def sha256_json(value: Any) -> str:
    """SHA-256 (hex) of canonical JSON (sorted keys, UTF-8)."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def regulator_due(obligations: list[dict[str, Any]], regime: str) -> dt.datetime | None:
    """The earliest deadline of the regime's open or met, required regulator obligations, or None."""
    dues = [o["due_at"] for o in obligations if o["regime"] == regime and o["audience"] == "regulator"
            and o["required"] and o["status"] not in ("superseded", "not_required") and o["due_at"] is not None]
    return min(dues) if dues else None


def _late_check(*, due_at: dt.datetime | None, now: dt.datetime, reason: str | None, regime: str) -> None:
    if due_at is not None and now > due_at and not (reason or "").strip():
        hours = (now - due_at).total_seconds() / 3600
        raise InvalidInput(
            f"the {regime} regulator report is late (due {due_at.isoformat()}, {hours:.1f} h ago): a late report "
            "must carry the reason for the delay (reason_for_delay; GDPR Art. 33(1))",
            details=[{"path": "reason_for_delay", "reason": f"required: deadline {due_at.isoformat()} has passed"}])


def _extras(report_type: str, data: Any, previous: Mapping[str, Any] | None) -> tuple[dict[str, Any], Any]:
    if data is not None and not isinstance(data, Mapping):
        raise InvalidInput("extras must be an object", details=[{"path": "extras", "reason": "expected an object"}])
    merged = {**(previous or {}), **(data or {})}
    try:
        model = REPORT_TYPES[report_type].extras.model_validate(merged)
    except PydanticValidationError as exc:
        raise InvalidInput.from_pydantic(exc, "extras.") from exc
    return model.model_dump(mode="json", exclude_unset=True), model


def versions(session: Session, *, incident_id: int, regime: str | None = None) -> list[RegulatorReport]:
    """The incident's report versions by regime, newest number first."""
    query = select(RegulatorReport).where(RegulatorReport.incident_id == incident_id)
    if regime:
        query = query.where(RegulatorReport.regime == regime)
    return list(session.exec(query.order_by(col(RegulatorReport.regime), col(RegulatorReport.number).desc())).all())


def get(session: Session, *, report_id: int, incident_id: int | None = None) -> RegulatorReport:
    """One report version (of ``incident_id`` when given), or ``NotFound``."""
    report = session.get(RegulatorReport, report_id)
    if report is None or (incident_id is not None and report.incident_id != incident_id):
        raise NotFound(f"report {report_id} does not exist")
    return report


def _record(session: Session, *, clock: Clock, actor: str, report: RegulatorReport, action: str, text: str,
            before: Any = None, extra: Mapping[str, Any] | None = None) -> None:
    audit.record(session, clock=clock, actor=actor, action=action, entity="regulator_report",
                 entity_id=report.id or 0, incident_id=report.incident_id, before=before,
                 after={"report": report.label, "state": report.state, "content_sha256": report.content_sha256,
                        **(extra or {})})
    incidents.add_timeline(session, clock=clock, incident_id=report.incident_id, actor=actor, kind="report",
                           text=text)


def draft(session: Session, *, clock: Clock, actor: str, incident_id: int, regime: str, phase: str = "initial",
          playbooks: Mapping[str, Playbook], extras: Any = None, reason_for_delay: str | None = None,
          substitute: Mapping[str, Any] | None = None) -> RegulatorReport:
    """Draft the next version of the incident's ``regime`` report for ``phase``; commits.

    ``playbooks`` (id -> playbook): the regime's playbook sets whom the report counts
    (``app.announcements.scope.scope_of``: everyone, or the regime's residents); its dispatch figures are the
    runs that sent that regime's notices.

    ``substitute``: the live substitute-notice decision (``app.announcements.service.decide_for``), which
    sets the HHS ``substitute_notice_required`` flag (45 CFR 164.404(d)(2)) and the GDPR public communication
    (Art. 34(3)(c)); None reads the stored decision.

    Extras merge over the previous version's. Older drafts and submissions are superseded. Raises
    ``InvalidInput`` (unknown regime or phase, bad extras, late without a reason), ``Conflict`` (the first
    version must be ``initial``; nothing follows an approved ``final``), ``NotFound``.
    """
    if regime not in REGIME_REPORT:
        known = ", ".join(sorted(REGIME_REPORT))
        raise InvalidInput(f"breach-notify has no regulator report format for {regime!r} (it drafts reports for "
                           f"{known}): notify that regulator by its own form or letter, then record it with "
                           "`obligations close ID --outcome met`",
                           details=[{"path": "regime", "reason": f"no report format; one of {known}"}])
    if phase not in Phase.__members__:
        raise InvalidInput(f"phase must be initial, follow_up or final, not {phase!r}",
                           details=[{"path": "phase", "reason": "initial|follow_up|final"}])
    sources = gather(session, clock=clock, incident_id=incident_id, regime=regime, playbook=playbooks.get(regime),
                     substitute=substitute)
    report_type = REGIME_REPORT[regime]
    existing = versions(session, incident_id=incident_id, regime=regime)
    latest = existing[0] if existing else None
    approved = [v for v in existing if v.state == ReportState.approved.value]
    if not approved and phase != Phase.initial.value and not any(v.phase == "initial" for v in existing):
        raise Conflict(f"the first {regime} report must be the initial phase")
    if any(v.phase == Phase.final.value for v in approved):
        raise Conflict(f"the {regime} final report is approved: no further versions")
    given, model = _extras(report_type, extras, latest.extras if latest else None)
    now = clock.now()
    due_at = regulator_due(sources.obligations, regime) if phase == Phase.initial.value else None
    _late_check(due_at=due_at, now=now, reason=reason_for_delay, regime=regime)
    number = (latest.number + 1) if latest else 1
    body = builder.build(report_type, sources, model, phase=phase, number=number, regime=regime)
    report = RegulatorReport(
        incident_id=incident_id, regime=regime, report_type=report_type, phase=phase, number=number,
        state=ReportState.draft.value, content=body, extras=given,
        diff=builder.diff(latest.content, body) if latest else [], content_sha256=sha256_json(body),
        reason_for_delay=(reason_for_delay or "").strip() or None, due_at=due_at, drafted_by=actor, drafted_at=now)
    superseded = []
    for old in existing:
        if old.state in OPEN_DRAFTS:
            old.state, old.superseded_at = ReportState.superseded.value, now
            session.add(old)
            superseded.append(old.id)
    session.add(report)
    session.flush()
    _record(session, clock=clock, actor=actor, report=report, action="report.drafted",
            text=f"Regulator report drafted: {report.label}",
            extra={"superseded": superseded, "late": bool(due_at and now > due_at), "changes": len(report.diff)})
    session.commit()
    return report


def submit(session: Session, *, clock: Clock, actor: str, report_id: int) -> RegulatorReport:
    """Submit a draft for approval; commits. ``Conflict`` unless it is a draft; ``NotFound``."""
    report = get(session, report_id=report_id)
    approval.submit(report, name=f"report {report_id}", actor=actor, now=clock.now())
    session.add(report)
    _record(session, clock=clock, actor=actor, report=report, action="report.submitted", before={"state": "draft"},
            text=f"Regulator report submitted for approval: {report.label}")
    session.commit()
    return report


def approve(session: Session, *, clock: Clock, actor: str, report_id: int,
            reason_for_delay: str | None = None) -> RegulatorReport:
    """Approve a submitted version (four eyes): it is locked and may be exported. Commits.

    ``reason_for_delay`` may be added here when the version has none. Raises ``Conflict`` (not submitted),
    ``Forbidden`` (the approver drafted or submitted it), ``InvalidInput`` (late without a reason).
    """
    report = get(session, report_id=report_id)
    approval.check_approver(report, name=f"report {report_id}", noun="report", actor=actor,
                            refusal="a report must be approved by a privacy officer other than its drafter and "
                                    "submitter")
    now = clock.now()
    reason = report.reason_for_delay or (reason_for_delay or "").strip() or None
    _late_check(due_at=report.due_at, now=now, reason=reason, regime=report.regime)
    report.reason_for_delay = reason
    report.state, report.approved_by, report.approved_at = ReportState.approved.value, actor, now
    session.add(report)
    _record(session, clock=clock, actor=actor, report=report, action="report.approved",
            before={"state": "submitted"}, text=f"Regulator report approved and locked: {report.label}")
    session.commit()
    return report


def is_late(report: RegulatorReport) -> bool:
    """True when the version was drafted or approved after its deadline."""
    at = report.approved_at or report.drafted_at
    return report.due_at is not None and at > report.due_at


def document(report: RegulatorReport, *, generated_at: dt.datetime, schema_url: str) -> dict[str, Any]:
    """The exported JSON document (``regimes.ReportDocument`` for the report type), validated;
    ``schema_id`` is ``schema_url``, where its JSON Schema is published."""
    data = {"schema_id": schema_url,
            "report_type": report.report_type, "regime": report.regime, "incident_id": report.incident_id,
            "report_id": report.id, "number": report.number, "phase": report.phase, "state": report.state,
            "due_at": report.due_at, "late": is_late(report), "reason_for_delay": report.reason_for_delay,
            "drafted_by": report.drafted_by, "approved_by": report.approved_by, "approved_at": report.approved_at,
            "generated_at": generated_at, "content": report.content}
    model = REPORT_TYPES[report.report_type].document_model().model_validate(data)
    return model.model_dump(mode="json")


def to_json(report: RegulatorReport) -> dict[str, Any]:
    """API shape of a version (content, diff, extras and states)."""
    data = report.model_dump(mode="json")
    data["late"], data["label"] = is_late(report), report.label
    return data
