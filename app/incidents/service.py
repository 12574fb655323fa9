"""Filing, changing and reading incidents. Each change writes a timeline entry and an audit event in the
same transaction as the change itself."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

from pydantic import ValidationError as PydanticValidationError
from sqlmodel import Session, col, select

from app.audit import service as audit
from app.clock import Clock
from app.errors import Conflict, InvalidInput, NotFound
from app.incidents.lifecycle import Status, check_transition
from app.incidents.models import Incident, TimelineEntry
from app.incidents.schema import IncidentFile
from app.webhooks.events import emit

SUMMARY_FIELDS = ("title", "status", "aware_at", "cause", "subjects_count")


def validate_document(data: Any) -> IncidentFile:
    """Validate an incident file (mapping); raises ``InvalidInput`` with field paths and reasons."""
    if not isinstance(data, Mapping):
        raise InvalidInput("the incident must be a JSON/YAML object",
                           details=[{"path": "", "reason": "expected an object"}])
    InvalidInput.refuse_nul(dict(data))
    try:
        return IncidentFile.model_validate(dict(data))
    except PydanticValidationError as exc:
        raise InvalidInput.from_pydantic(exc) from exc


CLOCK_SKEW = dt.timedelta(minutes=5)
"""How far ahead of our clock an awareness or occurrence time may be (another machine's clock)."""


def check_times(facts: IncidentFile, *, now: dt.datetime) -> None:
    """Refuse times that cannot be true: ``aware_at`` or ``occurred_at`` later than ``now`` (UTC, give or take
    ``CLOCK_SKEW``), or ``occurred_at`` after ``aware_at``. Awareness starts the legal clock (GDPR Art. 33(1):
    "after having become aware"; 45 CFR 164.404(a)(2): "discovered"), so a wrong one moves every deadline.

    Raises ``InvalidInput`` naming each field at fault.
    """
    problems = []
    if facts.aware_at > now + CLOCK_SKEW:
        problems.append({"path": "aware_at", "reason": f"is in the future (now is {now.isoformat()}): give the time "
                                                       "the organisation became aware, which starts the deadlines"})
    if facts.occurred_at is not None and facts.occurred_at > now + CLOCK_SKEW:
        problems.append({"path": "occurred_at", "reason": f"is in the future (now is {now.isoformat()})"})
    elif facts.occurred_at is not None and facts.occurred_at > facts.aware_at:
        problems.append({"path": "occurred_at", "reason": "is after aware_at: nobody can be aware of a breach "
                                                          "before it occurred (check both times and their offsets)"})
    if problems:
        raise InvalidInput("; ".join(f"{p['path']} {p['reason']}" for p in problems), details=problems)


def _summary(incident: Incident) -> dict[str, Any]:
    return {k: (v.isoformat() if hasattr(v, "isoformat") else v)
            for k in SUMMARY_FIELDS for v in [getattr(incident, k)]}


def _apply(incident: Incident, facts: IncidentFile) -> None:
    incident.title = facts.title
    incident.aware_at = facts.aware_at
    incident.occurred_at = facts.occurred_at
    incident.controller_name = facts.controller.name
    incident.cause = str(facts.cause)
    incident.subjects_count = facts.subjects.count
    incident.document = facts.as_document()


def add_timeline(session: Session, *, clock: Clock, incident_id: int, actor: str, kind: str, text: str) -> None:
    """Add a timeline entry in the caller's transaction (no commit); for other domains' steps."""
    session.add(TimelineEntry(incident_id=incident_id, at=clock.now(), actor=actor, kind=kind, text=text))


def _timeline(session: Session, incident: Incident, *, clock: Clock, actor: str, kind: str, text: str) -> None:
    add_timeline(session, clock=clock, incident_id=incident.id or 0, actor=actor, kind=kind, text=text)


def create(session: Session, *, clock: Clock, actor: str, data: Any,
           also: Callable[[Session, Incident], None] | None = None) -> Incident:
    """File a new incident from an incident-file mapping; status ``detected``; commits. ``also`` writes
    more rows about the new incident in the same transaction (e.g. the link to the case it came from).

    Raises ``InvalidInput`` (nothing is written) when the file is invalid.
    """
    facts = validate_document(data)
    now = clock.now()
    check_times(facts, now=now)
    incident = Incident(status=Status.detected.value, created_at=now, updated_at=now, created_by=actor,
                        title="", aware_at=facts.aware_at, controller_name="", cause="", document={})
    _apply(incident, facts)
    session.add(incident)
    session.flush()
    _timeline(session, incident, clock=clock, actor=actor, kind="created", text=f"Incident filed: {facts.title}")
    audit.record(session, clock=clock, actor=actor, action="incident.created", entity="incident",
                 entity_id=incident.id or 0, incident_id=incident.id, after=_summary(incident))
    emit(session, clock=clock, event_type="incident.created", incident_id=incident.id,
         data={"incident_id": incident.id, "status": incident.status})
    if also is not None:
        also(session, incident)
    session.commit()
    return incident


def get(session: Session, *, incident_id: int) -> Incident:
    """The incident, or ``NotFound``."""
    incident = session.get(Incident, incident_id)
    if incident is None:
        raise NotFound(f"incident {incident_id} does not exist")
    return incident


def list_all(session: Session, *, status: str | None = None, limit: int = 200) -> list[Incident]:
    """Incidents, newest awareness first, optionally of one status (``InvalidInput`` naming ``status`` for
    one that does not exist: an empty list would read as "no such incidents")."""
    if status and status not in Status.__members__:
        raise InvalidInput(f"status must be one of {', '.join(Status.__members__)}, not {status!r}",
                           details=[{"path": "status", "reason": "unknown status"}])
    query = select(Incident).order_by(col(Incident.aware_at).desc()).limit(limit)
    if status:
        query = query.where(Incident.status == status)
    return list(session.exec(query).all())


def _merge(base: dict[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in patch.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict) and key != "by_jurisdiction":
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def changed_paths(old: Mapping[str, Any], new: Mapping[str, Any], prefix: str = "") -> list[str]:
    """Dotted paths of the leaves that differ between two incident documents."""
    paths: list[str] = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if isinstance(a, Mapping) and isinstance(b, Mapping) and key != "by_jurisdiction":
            paths += changed_paths(a, b, f"{prefix}{key}.")
        elif a != b:
            paths.append(f"{prefix}{key}")
    return paths


def update(
    session: Session, *, clock: Clock, actor: str, incident_id: int, changes: Any, note: str | None = None
) -> Incident:
    """Apply a partial change: incident-file fields (deep-merged, then the whole file re-validated) and/or
    ``status`` (checked against the lifecycle). Commits, or raises with nothing written:
    ``InvalidInput`` for bad fields, ``Conflict`` for a disallowed transition, ``NotFound``.
    """
    if not isinstance(changes, Mapping):
        raise InvalidInput("the change must be a JSON object", details=[{"path": "", "reason": "expected an object"}])
    incident = get(session, incident_id=incident_id)
    fields = {k: v for k, v in changes.items() if k != "status"}
    target = changes.get("status")
    facts = validate_document(_merge(incident.document, fields)) if fields else None
    if facts is not None and {"aware_at", "occurred_at"} & set(fields):
        check_times(facts, now=clock.now())
    new_status = check_transition(incident.status, str(target)) if target is not None else None
    if new_status is Status.false_positive:
        _refuse_false_positive_while_notifying(session, incident_id)
    before = _summary(incident)
    changed = changed_paths(incident.document, facts.as_document()) if facts is not None else []
    if facts is not None and changed:
        _apply(incident, facts)
        _timeline(session, incident, clock=clock, actor=actor, kind="updated", text="Changed: " + ", ".join(changed))
    if new_status is not None:
        incident.status = new_status.value
        _timeline(session, incident, clock=clock, actor=actor, kind="status",
                  text=f"Status {before['status']} -> {new_status.value}")
        emit(session, clock=clock, event_type="incident.status_changed", incident_id=incident_id,
             data={"incident_id": incident_id, "from": before["status"], "to": new_status.value})
    if note:
        _timeline(session, incident, clock=clock, actor=actor, kind="note", text=note)
    incident.updated_at = clock.now()
    incident.version += 1
    session.add(incident)
    audit.record(session, clock=clock, actor=actor, action="incident.updated", entity="incident",
                 entity_id=incident_id, incident_id=incident_id, before=before,
                 after={**_summary(incident), "changed": changed, "note": bool(note)})
    session.commit()
    return incident


def _refuse_false_positive_while_notifying(session: Session, incident_id: int) -> None:
    """``Conflict`` while a dispatch run is live or a public notice is published: stop those first, so marking
    the incident a false positive never leaves notices going out about a breach that did not happen."""
    from app.announcements.models import PublicNotice
    from app.dispatch.runs import live_run

    run = live_run(session, incident_id=incident_id)
    if run is not None:
        raise Conflict(f"dispatch run {run.id} of incident {incident_id} is {run.state}: cancel it before marking "
                       "the incident a false positive")
    notice = session.exec(select(PublicNotice).where(PublicNotice.incident_id == incident_id,
                                                     PublicNotice.state == "published")).first()
    if notice is not None:
        raise Conflict(f"incident {incident_id} has a published public notice: withdraw it before marking the "
                       "incident a false positive")


def timeline(session: Session, *, incident_id: int) -> list[TimelineEntry]:
    """The incident's timeline, oldest first."""
    return list(session.exec(select(TimelineEntry).where(TimelineEntry.incident_id == incident_id)
                             .order_by(col(TimelineEntry.at), col(TimelineEntry.id))).all())


def to_json(incident: Incident) -> dict[str, Any]:
    """API representation: the incident file plus ``id``, ``status``, timestamps and ``version``."""
    return {
        "id": incident.id,
        "status": incident.status,
        "created_at": incident.created_at.isoformat(),
        "updated_at": incident.updated_at.isoformat(),
        "version": incident.version,
        "incident": incident.document,
    }
