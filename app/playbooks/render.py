"""Output of ``assess``: the JSON document of ``../shared/contracts/assess.md`` and a human table.

The JSON keeps every contract key and adds ``state`` and ``parts`` to each obligation (the contract may
be extended, never broken).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from rich.console import Console
from rich.table import Table

from app.playbooks.engine import Assessment, Obligation, PartResult


def iso_utc(value: dt.datetime | None) -> str | None:
    """``2026-03-05T08:00:00Z`` for an aware datetime, None for None."""
    if value is None:
        return None
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def _part(part: PartResult) -> dict[str, Any]:
    return {
        "name": part.name,
        "required": part.required,
        "recipient": part.recipient,
        "due_at": iso_utc(part.due_at),
        "reasons": list(part.reasons),
        "citations": list(part.citations),
    }


def _obligation(ob: Obligation) -> dict[str, Any]:
    return {
        "regime": ob.regime,
        "audience": ob.audience,
        "required": ob.required,
        "recipient": ob.recipient,
        "due_at": iso_utc(ob.due_at),
        "reasons": list(ob.reasons),
        "citations": list(ob.citations),
        "state": ob.state,
        "parts": [_part(p) for p in ob.parts],
    }


def assessment_document(assessment: Assessment) -> dict[str, Any]:
    """The ``assess --format json`` document: ``{"severity": {...}, "obligations": [...]}``."""
    sev = assessment.severity
    return {
        "severity": {
            "method": sev.method,
            "dpc": sev.dpc,
            "ei": sev.ei,
            "cb": sev.cb,
            "score": sev.score,
            "band": sev.band,
            "reasons": list(sev.reasons),
        },
        "obligations": [_obligation(ob) for ob in assessment.obligations],
    }


def print_table(assessment: Assessment, console: Console) -> None:
    """Print the obligations as a table, then the severity, for people at a terminal."""
    table = Table(title=f"Obligations (now {iso_utc(assessment.now)})", show_lines=True)
    for column in ("Regime", "Audience", "Required", "Recipient", "Due (UTC)", "State", "Why", "Citations"):
        table.add_column(column, overflow="fold")
    for ob in assessment.obligations:
        table.add_row(
            ob.regime,
            ob.audience,
            "yes" if ob.required else "no",
            ob.recipient,
            iso_utc(ob.due_at) or "-",
            ob.state,
            "\n".join(r for r in ob.reasons if not r.startswith("applies: ")),
            "\n".join(ob.citations),
        )
    console.print(table)
    sev = assessment.severity
    console.print(
        f"Severity ({sev.method}, advisory): SE = {sev.dpc} x {sev.ei:g} + {sev.cb:g} = {sev.score:g} ({sev.band})"
    )
    for reason in sev.reasons:
        console.print(f"  - {reason}")
