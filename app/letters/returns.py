"""Returned mail: a CSV of letters the post could not deliver (``delivery_id, reason``) marks them failed
permanently and moves each person along the fallback chain, or into the substitute-notice pool.

The file is checked whole before anything is written: every bad row is reported by line and field
(``InvalidInput`` with ``details`` ``[{"path": "line 4.delivery_id", "reason": ...}]``) and nothing changes.
A good file is applied in one transaction with the dispatch layer's own permanent-failure path
(``app.dispatch.outcomes.fail_permanently``: the postal address is marked unusable and the person's next
delivery or pool entry is created), an attempt ``returned_mail`` per letter, one audit event and a timeline
entry.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import dataclass

from sqlmodel import Session, col, select

from app.audit import service as audit
from app.channels.base import redact
from app.clock import Clock
from app.dispatch.models import SENT, Delivery, DeliveryAttempt, DispatchRun
from app.dispatch.outcomes import Policy, fail_permanently
from app.errors import InvalidInput
from app.incidents import service as incidents
from app.wording import plural

COLUMNS = ("delivery_id", "reason")
MAX_REASON = 200


@dataclass(frozen=True)
class ReturnsReport:
    """What an import did: ``returned`` letters and where their people went (``moved_to``: channel or
    ``substitute`` -> count)."""

    returned: int
    moved_to: dict[str, int]


def _rows(text: str) -> list[tuple[int, dict[str, str]]]:
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip().lower() for h in reader.fieldnames or []]
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise InvalidInput("the returned-mail file needs the columns delivery_id and reason",
                           details=[{"path": "line 1", "reason": f"missing column {c}"} for c in missing])
    reader.fieldnames = header
    return [(reader.line_num, {k: (v or "").strip() for k, v in row.items() if k}) for row in reader]


def _check(session: Session, incident_id: int, rows: list[tuple[int, dict[str, str]]]) -> list[dict[str, str]]:
    problems: list[dict[str, str]] = []
    seen: dict[int, int] = {}
    for line, row in rows:
        raw, reason = row.get("delivery_id", ""), row.get("reason", "")
        if not reason:
            problems.append({"path": f"line {line}.reason", "reason": "empty: say why the letter came back"})
        elif len(reason) > MAX_REASON:
            problems.append({"path": f"line {line}.reason", "reason": f"longer than {MAX_REASON} characters"})
        if not raw.isdigit():
            problems.append({"path": f"line {line}.delivery_id", "reason": f"not a delivery id: {raw[:20]!r}"})
            continue
        delivery = session.get(Delivery, int(raw))
        run = session.get(DispatchRun, delivery.run_id) if delivery else None
        if delivery is None or run is None or run.incident_id != incident_id:
            why = f"no delivery {raw} in incident {incident_id}"
        elif delivery.channel != "letter":
            why = f"delivery {raw} is {delivery.channel}, not a letter"
        elif delivery.state != SENT:
            why = f"letter {raw} is {delivery.state}; only letters handed over (sent) can come back"
        elif int(raw) in seen:
            why = f"letter {raw} is already on line {seen[int(raw)]}"
        else:
            seen[int(raw)] = line
            continue
        problems.append({"path": f"line {line}.delivery_id", "reason": why})
    return problems


def import_returns(session: Session, *, clock: Clock, actor: str, incident_id: int, text: str,
                   policy: Policy) -> ReturnsReport:
    """Apply a returned-mail CSV (see the module docstring); commits once. ``InvalidInput`` names every bad
    row by line and field, and then nothing is written."""
    incidents.get(session, incident_id=incident_id)
    rows = _rows(text)
    if not rows:
        raise InvalidInput("the returned-mail file has no rows", details=[{"path": "line 2", "reason": "missing"}])
    problems = _check(session, incident_id, rows)
    if problems:
        session.rollback()
        raise InvalidInput(f"{plural(len(problems), 'problem')} in the returned-mail file; nothing was imported",
                           details=problems)
    now = clock.now()
    moved: Counter[str] = Counter()
    for _line, row in rows:
        delivery = session.execute(select(Delivery).where(col(Delivery.id) == int(row["delivery_id"]))
                                   .with_for_update()).scalar_one()
        reason = redact(row["reason"])
        session.add(DeliveryAttempt(delivery_id=delivery.id or 0, at=now, outcome="returned_mail",
                                    provider_id=delivery.provider_id, error_message=reason))
        moved[fail_permanently(session, delivery, why=f"returned mail: {reason}", dead=True, policy=policy,
                               now=now)] += 1
    audit.record(session, clock=clock, actor=actor, action="letters.returned", entity="incident",
                 entity_id=incident_id, incident_id=incident_id,
                 after={"returned": len(rows), "moved_to": dict(moved)})
    incidents.add_timeline(session, clock=clock, incident_id=incident_id, actor=actor, kind="dispatch",
                           text=f"Returned mail: {plural(len(rows), 'letter')} undeliverable; people moved to "
                                + ", ".join(f"{n} {k}" for k, n in sorted(moved.items())))
    session.commit()
    return ReturnsReport(len(rows), dict(moved))

