"""Receiving a case from an incident-response tool: create the incident, or update the one already linked.

The link (``incident_source``: source + the tool's case id, unique) is written in the same transaction as
the new incident, so the same payload sent twice (or twice at once) never files two incidents: the second
finds the link and updates. An update applies only values present in the payload (mapping defaults fill
gaps only at creation), re-validates the whole incident file and re-decides obligations; a payload that
changes no mapped field leaves the incident as it is. The lifecycle status is never set from outside.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from app.audit import service as audit
from app.clock import Clock
from app.errors import InvalidInput
from app.incidents import flows
from app.incidents import service as incidents
from app.incidents.models import Incident
from app.intake.mapping import MISSING, Rules, apply, resolve, unwrap
from app.intake.models import IncidentSource
from app.playbooks.schema import Playbook


class Received(BaseModel):
    """What happened (also the API answer): ``action`` ``created`` / ``updated`` / ``unchanged``, the
    ``incident_id``, the case's ``source``, ``external_id`` and ``url``, and the incident-file paths
    ``changed``."""

    action: str
    incident_id: int
    source: str
    external_id: str
    url: str | None
    changed: list[str]


def _merge(base: dict[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in patch.items():
        out[key] = _merge(out[key], value) if isinstance(value, Mapping) and isinstance(out.get(key), dict) else value
    return out


def _rewrite(exc: InvalidInput, rules: Rules) -> InvalidInput:
    """Name the source field next to the incident field in validation errors of the mapped document."""
    sources = {target: " | ".join(rule.from_) for target, rule in rules.fields.items()}
    details = [{"path": f"case.{sources[d['path']]}" if d["path"] in sources else d["path"],
                "reason": f"{d['reason']} (incident field {d['path']})"} for d in exc.details]
    return InvalidInput("invalid case: " + "; ".join(f"{d['path']}: {d['reason']}" for d in details),
                        details=details)


def external_id(rules: Rules, case: Any) -> str:
    """The case id at ``rules.id``; ``InvalidInput`` naming it when absent."""
    value = resolve(case, rules.id)
    if value is MISSING or isinstance(value, Mapping | list):
        raise InvalidInput(f"case.{rules.id}: missing; the case id is required",
                           details=[{"path": f"case.{rules.id}", "reason": "missing; the case id is required"}])
    return str(value)[:200]


def receive(session: Session, *, clock: Clock, actor: str, source: str, rules: Rules, payload: Any,
            playbooks: Mapping[str, Playbook], base_url: str | None) -> Received:
    """Create or update the incident for ``payload`` (see the module docstring); commits.

    Raises ``InvalidInput`` naming the source field (``case.<path>``) or, for rules, ``mapping.<path>``.
    """
    case = unwrap(rules, payload)
    if not isinstance(case, Mapping):
        raise InvalidInput("the case must be a JSON object", details=[{"path": "case", "reason": "expected an object"}])
    ext = external_id(rules, case)
    found, defaults = apply(rules, case)
    url = rules.link.format(base=(base_url or "").rstrip("/"), id=ext) if rules.link and base_url else None
    digest = hashlib.sha256(json.dumps(case, sort_keys=True, default=str).encode()).hexdigest()
    link = session.exec(select(IncidentSource).where(IncidentSource.source == source,
                                                     IncidentSource.external_id == ext)).first()
    if link is None:
        try:
            return _create(session, clock=clock, actor=actor, source=source, ext=ext, url=url, digest=digest,
                           document=_merge(defaults, found), playbooks=playbooks, rules=rules)
        except IntegrityError:  # the same case arrived twice at once: the other request filed it
            session.rollback()
            link = session.exec(select(IncidentSource).where(IncidentSource.source == source,
                                                             IncidentSource.external_id == ext)).one()
    return _update(session, clock=clock, actor=actor, link=link, url=url, digest=digest, found=found,
                   playbooks=playbooks, rules=rules)


def _create(session: Session, *, clock: Clock, actor: str, source: str, ext: str, url: str | None, digest: str,
            document: dict[str, Any], playbooks: Mapping[str, Playbook], rules: Rules) -> Received:
    now = clock.now()

    def link(s: Session, incident: Incident) -> None:
        s.add(IncidentSource(incident_id=incident.id or 0, source=source, external_id=ext, url=url,
                             payload_sha256=digest, first_received_at=now, last_received_at=now))
        incidents.add_timeline(s, clock=clock, incident_id=incident.id or 0, actor=actor, kind="intake",
                               text=f"Filed from {source} case {ext}" + (f" ({url})" if url else ""))
        audit.record(s, clock=clock, actor=actor, action="intake.linked", entity="incident",
                     entity_id=incident.id or 0, incident_id=incident.id,
                     after={"source": source, "external_id": ext, "url": url, "payload_sha256": digest})

    try:
        incident = flows.file_incident(session, clock=clock, actor=actor, data=document, playbooks=playbooks,
                                       also=link)
    except InvalidInput as exc:
        session.rollback()
        raise _rewrite(exc, rules) from exc
    return Received(action="created", incident_id=incident.id or 0, source=source, external_id=ext, url=url,
                    changed=[])


def _update(session: Session, *, clock: Clock, actor: str, link: IncidentSource, url: str | None, digest: str,
            found: dict[str, Any], playbooks: Mapping[str, Playbook], rules: Rules) -> Received:
    incident = incidents.get(session, incident_id=link.incident_id)
    merged = _merge(incident.document, found)
    try:
        facts = incidents.validate_document(merged)
    except InvalidInput as exc:
        raise _rewrite(exc, rules) from exc
    changed = incidents.changed_paths(incident.document, facts.as_document())
    if changed:
        flows.change_incident(session, clock=clock, actor=actor, incident_id=link.incident_id, changes=found,
                              note=f"Updated from {link.source} case {link.external_id}", playbooks=playbooks)
    now = clock.now()
    link.received, link.last_received_at, link.payload_sha256 = link.received + 1, now, digest
    link.url = url or link.url
    session.add(link)
    audit.record(session, clock=clock, actor=actor, action="intake.received", entity="incident_source",
                 entity_id=link.id or 0, incident_id=link.incident_id,
                 after={"source": link.source, "external_id": link.external_id, "changed": changed,
                        "payload_sha256": digest})
    session.commit()
    return Received(action="updated" if changed else "unchanged", incident_id=link.incident_id,
                    source=link.source, external_id=link.external_id, url=link.url, changed=changed)
