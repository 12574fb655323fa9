"""The incident status lifecycle: the one table of allowed transitions."""

from __future__ import annotations

from enum import StrEnum

from app.errors import Conflict, InvalidInput


class Status(StrEnum):
    """Where an incident stands."""

    detected = "detected"
    triaged = "triaged"
    contained = "contained"
    notifying = "notifying"
    closed = "closed"
    false_positive = "false_positive"


TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.detected: frozenset({Status.triaged, Status.false_positive}),
    Status.triaged: frozenset({Status.contained, Status.false_positive}),
    Status.contained: frozenset({Status.notifying, Status.closed}),
    Status.notifying: frozenset({Status.closed}),
    Status.closed: frozenset({Status.notifying}),
    Status.false_positive: frozenset({Status.detected}),
}


def parse_status(value: str) -> Status:
    """``value`` as a Status; raises ``InvalidInput`` naming the allowed values."""
    try:
        return Status(value)
    except ValueError as exc:
        allowed = ", ".join(s.value for s in Status)
        raise InvalidInput(f"status: unknown status {value!r}; one of {allowed}",
                           details=[{"path": "status", "reason": f"one of {allowed}"}]) from exc


def check_transition(current: str, target: str) -> Status:
    """Return ``target`` if the move from ``current`` is allowed, else raise ``Conflict`` naming both."""
    source, goal = parse_status(current), parse_status(target)
    if goal not in TRANSITIONS[source]:
        allowed = ", ".join(sorted(s.value for s in TRANSITIONS[source])) or "none"
        raise Conflict(f"cannot move incident from {source.value} to {goal.value} (allowed: {allowed})",
                       details=[{"path": "status", "reason": f"{source.value} -> {goal.value} not allowed"}])
    return goal


def refuse_if_false_positive(status: str, *, incident_id: int, action: str) -> None:
    """Raise ``Conflict`` when the incident is marked ``false_positive``: no personal data breach happened, so
    nothing may be sent or published about one (``action`` names what was refused, e.g. "dispatch")."""
    if status == Status.false_positive.value:
        raise Conflict(f"incident {incident_id} is marked false_positive (no personal data breach): {action} "
                       "refused; set its status back to detected first if that was a mistake")
