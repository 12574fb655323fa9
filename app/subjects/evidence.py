"""Identifying affected subjects from forensic evidence: a list of leaked records, matched by blind index.

The evidence values are normalised exactly as imported contacts are (E.164 phones, email-validator's form,
case-folded), hashed with the same keyed blind index, and looked up; only counts are kept, never the values.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlmodel import Session, col

from app.audit import service as audit
from app.clock import Clock
from app.crypto import Keys
from app.errors import InvalidInput
from app.incidents import service as incidents
from app.subjects import places, store
from app.subjects.columns import SYNONYMS, header_key
from app.subjects.dedupe import external_key
from app.subjects.encoding import detect_encoding, sniff_delimiter
from app.subjects.fields import check_email, check_phone, clean_text
from app.subjects.models import SubjectIdentifier

KEYS = ("external_id", "email", "phone")
BATCH = 2000


@dataclass(frozen=True)
class IdentifySummary:
    """Evidence records read, matched to a registry subject, unmatched, invalid; new incident links."""

    records: int
    matched: int
    unmatched: int
    invalid: int
    linked: int


def _column(headers: list[str], key: str) -> str:
    named = [SYNONYMS.get(header_key(header)) for header in headers]  # the canonical column each names, if any
    if key in named:
        return headers[named.index(key)]
    if len(headers) == 1 and named[0] not in KEYS:  # a bare list under a header of its own ("Leaked")
        return headers[0]
    raise InvalidInput(f"evidence file has no {key} column (headers: {', '.join(headers)})",
                       details=[{"path": "file", "reason": f"no {key} column"}])


def _records(path: Path, key: str) -> Iterator[tuple[str, str]]:
    """``(value, source_system)`` per evidence record (CSV with a header, or JSONL objects)."""
    encoding = detect_encoding(path)
    with path.open(encoding=encoding, newline="") as handle:
        first = handle.readline()
        if first.lstrip().startswith("{"):
            for line in [first, *handle]:
                if line.strip():
                    obj = json.loads(line)
                    if not isinstance(obj, dict):
                        raise ValueError(f"a JSON {type(obj).__name__}, not an object")
                    field = _column(list(obj), key)
                    yield str(obj.get(field) or ""), str(obj.get("source_system") or "")
            return
        delimiter = sniff_delimiter(first)
        reader = csv.reader(handle, delimiter=delimiter)
        headers = next(csv.reader([first], delimiter=delimiter))
        at = headers.index(_column(headers, key))
        system = next((i for i, h in enumerate(headers) if SYNONYMS.get(header_key(h)) == "source_system"), None)
        for row in reader:
            if row:
                yield (row[at] if at < len(row) else ""), (row[system] if system is not None
                                                            and system < len(row) else "")


def _plain(key: str, value: str, system: str, default_country: str | None) -> str | None:
    value = value.strip()
    if not value:
        return None
    if key == "email":
        email, _ = check_email(value)
        return email.casefold() if email else None
    if key == "phone":
        phone, _ = check_phone(value, default_country)
        return phone
    return external_key(clean_text(system), clean_text(value) or value)  # as the import keys it


def identify(
    session: Session, *, clock: Clock, actor: str, incident_id: int, keys: Keys, path: Path, key: str,
    default_country: str | None = None, source_system: str | None = None,
) -> IdentifySummary:
    """Link to the incident every registry subject found in the evidence file by ``key``; commits.

    ``source_system``: for ``key`` ``external_id``, the system whose ids the evidence lists, for records that
    name none (an external id is unique only within its system, and is matched with it).

    Raises ``InvalidInput`` for an unknown key, a file without that column, a ``source_system`` no import used
    or given with another key; ``NotFound``.
    """
    if key not in KEYS:
        raise InvalidInput(f"--key must be one of {', '.join(KEYS)}", details=[{"path": "key", "reason": key}])
    default_country = places.checked_country(default_country)
    incidents.get(session, incident_id=incident_id)
    if source_system is not None:
        _system_for_evidence(session, key, source_system)
    index, now = keys.blind_index(), clock.now()
    records = matched = invalid = linked = 0
    digests: list[str] = []

    def flush() -> None:
        nonlocal matched, linked
        owners = store.lookup(session, ((key, d) for d in digests))
        matched += sum(1 for d in digests if (key, d) in owners)
        linked += store.link(session, incident_id=incident_id, subject_ids=owners.values(), added_by="evidence",
                             now=now)
        digests.clear()

    try:
        for value, system in _records(path, key):
            records += 1
            plain = _plain(key, value, system or source_system or "", default_country)
            if plain is None:
                invalid += 1
                continue
            digests.append(index.digest(key, plain))
            if len(digests) >= BATCH:
                flush()
        flush()
    except (ValueError, csv.Error) as exc:  # UnicodeDecodeError and json.JSONDecodeError are ValueErrors
        session.rollback()
        raise InvalidInput(f"evidence file unreadable at record {records + 1}: {exc}",
                           details=[{"path": f"file:{records + 1}", "reason": str(exc)}]) from exc
    summary = IdentifySummary(records, matched, records - matched - invalid, invalid, linked)
    _record(session, clock=clock, actor=actor, incident_id=incident_id, what=f"evidence by {key}",
            counts=summary.__dict__)
    session.commit()
    return summary


def select_source_system(session: Session, *, clock: Clock, actor: str, incident_id: int, source_system: str
                         ) -> dict[str, int]:
    """Link every registry subject with an identifier from ``source_system`` (matched as imports store names:
    case, repeated or outer spaces and Unicode form ignored, as evidence matches systems); returns
    ``{"selected": subjects from it, "linked": new links}`` (those linked before are selected, not linked again);
    commits.

    Raises ``NotFound`` for the incident, or ``InvalidInput`` naming the registry's systems when none matches
    (a misspelt system would otherwise link nobody without a word).
    """
    incidents.get(session, incident_id=incident_id)
    spellings = _spellings(session, source_system)
    ids = set(session.execute(select(col(SubjectIdentifier.subject_id)).where(
        col(SubjectIdentifier.source_system).in_(spellings))).scalars())
    linked = store.link(session, incident_id=incident_id, subject_ids=ids, added_by="source", now=clock.now())
    counts = {"selected": len(ids), "linked": linked}
    _record(session, clock=clock, actor=actor, incident_id=incident_id, what=f"source system {source_system}",
            counts=counts)
    session.commit()
    return counts


def _system_for_evidence(session: Session, key: str, source_system: str) -> None:
    """Refuse a ``source_system`` that cannot scope the evidence: with a key other than ``external_id`` (emails and
    phones are matched whatever system they came from) or one no import used (a misspelt system matched nobody)."""
    if key != "external_id":
        raise InvalidInput(f"--source-system scopes external ids only: with --key {key} the evidence is matched "
                           "whatever system the subjects came from; leave it out",
                           details=[{"path": "source_system", "reason": f"not used with key {key}"}])
    _spellings(session, source_system)


def _spellings(session: Session, source_system: str) -> list[str]:
    """The stored spellings of ``source_system`` (``CRM``, ``crm ``...); raises ``InvalidInput`` if none."""
    known = sorted(session.execute(select(col(SubjectIdentifier.source_system)).where(
        col(SubjectIdentifier.source_system).is_not(None)).distinct()).scalars(), key=lambda n: (n.casefold(), n))
    wanted = (clean_text(source_system) or "").casefold()  # as imports store names: spaces collapsed, NFC
    spellings = [name for name in known if (clean_text(name) or "").casefold() == wanted]
    if not spellings:
        listed = ", ".join(known[:20]) + (f" and {len(known) - 20} more" if len(known) > 20 else "")
        raise InvalidInput(f"no subject in the registry comes from source system {source_system!r}; "
                           f"known systems: {listed or 'none (no import named a source_system)'}",
                           details=[{"path": "source_system", "reason": "unknown source system"}])
    return spellings


def _record(session: Session, *, clock: Clock, actor: str, incident_id: int, what: str, counts: dict[str, int]
            ) -> None:
    audit.record(session, clock=clock, actor=actor, action="subjects.identified", entity="incident",
                 entity_id=incident_id, incident_id=incident_id, after={"by": what, **counts})
    incidents.add_timeline(session, clock=clock, incident_id=incident_id, actor=actor, kind="subjects",
                           text=f"Identified subjects from {what}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
