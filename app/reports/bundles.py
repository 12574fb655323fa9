"""Signed export bundles of approved report versions (see ``app.reports.verify`` for the format).

Bundles are written under ``<instance>/bundles/incident-<id>/``; the ``export_bundle`` row keeps the path
(relative to the instance folder), the zip's SHA-256 and size, the key id and the manifest's file list.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlmodel import Session, col, select

from app.audit import service as audit
from app.clock import Clock
from app.errors import Conflict, NotFound
from app.incidents import service as incidents
from app.reports import exports, sources
from app.reports import service as reports
from app.reports.models import ExportBundle, ReportState
from app.reports.signing import key_id, public_pem
from app.reports.verify import FORMAT, MANIFEST, PUBLIC_KEY, SIGNATURE, canonical_order, write_zip
from app.webhooks.events import emit


def manifest_for(files: dict[str, bytes], *, report: dict[str, Any], generated_at: dt.datetime,
                 kid: str) -> bytes:
    """``manifest.json`` bytes: format, report version, ``generated_at``, ``key_id`` and each file's name,
    size (bytes) and SHA-256, sorted by name."""
    body = {"format": FORMAT, "report": report, "generated_at": generated_at.isoformat(), "key_id": kid,
            "files": [{"name": n, "size": len(d), "sha256": hashlib.sha256(d).hexdigest()}
                      for n, d in sorted(files.items())]}
    return (json.dumps(body, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


def build_zip(files: dict[str, bytes], *, key: Ed25519PrivateKey, report: dict[str, Any],
              generated_at: dt.datetime) -> tuple[bytes, list[dict[str, Any]]]:
    """The bundle zip bytes and the manifest's file list. Adds ``signing-key.pem``, the manifest and its
    signature, and writes the canonical container (``verify.write_zip``: equal inputs give equal zips, and
    ``verify`` rebuilds it to check every byte)."""
    files = {**files, PUBLIC_KEY: public_pem(key)}
    manifest = manifest_for(files, report=report, generated_at=generated_at, kid=key_id(key))
    members = {**files, MANIFEST: manifest, SIGNATURE: base64.b64encode(key.sign(manifest)) + b"\n"}
    data = write_zip([(name, members[name]) for name in canonical_order(files)], generated_at=generated_at)
    listed: list[dict[str, Any]] = json.loads(manifest)["files"]
    return data, listed


def create(session: Session, *, clock: Clock, actor: str, report_id: int, key: Ed25519PrivateKey,
           instance: Path, public_url: str) -> ExportBundle:
    """Export an approved version as a signed bundle; commits. ``public_url`` is the server's, under which
    the report's JSON Schema is published (``schema_id``). ``Conflict`` unless approved; ``NotFound``."""
    report = reports.get(session, report_id=report_id)
    if report.state != ReportState.approved.value:
        raise Conflict(f"report {report_id} is {report.state}: a privacy officer must approve it before export")
    now = clock.now()
    document = reports.document(report, generated_at=now,
                                schema_url=exports.schema_url(public_url, report.report_type))
    version = {"id": report.id, "incident_id": report.incident_id, "regime": report.regime,
               "report_type": report.report_type, "phase": report.phase, "number": report.number,
               "content_sha256": report.content_sha256, "approved_by": report.approved_by}
    notice = exports.quoted_notice(document)
    files = exports.files_for(document, notice_html=sources.notice_html(session, notice=notice) if notice else None)
    data, listed = build_zip(files, key=key, report=version, generated_at=now)
    relative = Path("bundles") / f"incident-{report.incident_id}" / \
        f"report-{report.id}-v{report.number}-{now.strftime('%Y%m%dT%H%M%S%fZ')}.zip"
    target = instance / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    bundle = ExportBundle(report_id=report.id or 0, incident_id=report.incident_id, path=str(relative),
                          sha256=hashlib.sha256(data).hexdigest(), size=len(data), key_id=key_id(key),
                          files=listed, generated_at=now, generated_by=actor)
    session.add(bundle)
    session.flush()
    audit.record(session, clock=clock, actor=actor, action="report.exported", entity="export_bundle",
                 entity_id=bundle.id or 0, incident_id=report.incident_id,
                 after={"report": report.label, "sha256": bundle.sha256, "files": [f["name"] for f in listed]})
    incidents.add_timeline(session, clock=clock, incident_id=report.incident_id, actor=actor, kind="report",
                           text=f"Export bundle {bundle.id} generated for {report.label}")
    emit(session, clock=clock, event_type="report.exported", incident_id=report.incident_id,
         data={"incident_id": report.incident_id, "report_id": report.id, "bundle_id": bundle.id,
               "regime": report.regime, "phase": report.phase, "number": report.number, "sha256": bundle.sha256})
    session.commit()
    return bundle


def get(session: Session, *, bundle_id: int, incident_id: int | None = None) -> ExportBundle:
    """One bundle (of ``incident_id`` when given), or ``NotFound``."""
    bundle = session.get(ExportBundle, bundle_id)
    if bundle is None or (incident_id is not None and bundle.incident_id != incident_id):
        raise NotFound(f"export bundle {bundle_id} does not exist")
    return bundle


def for_incident(session: Session, *, incident_id: int) -> list[ExportBundle]:
    """The incident's bundles, newest first."""
    return list(session.exec(select(ExportBundle).where(ExportBundle.incident_id == incident_id)
                             .order_by(col(ExportBundle.id).desc())).all())


def read(bundle: ExportBundle, *, instance: Path) -> bytes:
    """The bundle's zip bytes; ``NotFound`` when the file is gone, ``Conflict`` when it no longer matches."""
    path = instance / bundle.path
    if not path.is_file():
        raise NotFound(f"export bundle {bundle.id}: file missing from the instance folder")
    data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() != bundle.sha256:
        raise Conflict(f"export bundle {bundle.id}: file on disk does not match its recorded SHA-256")
    return data


def file_name(bundle: ExportBundle) -> str:
    """Download name: the stored file's name."""
    return Path(bundle.path).name


def to_json(bundle: ExportBundle) -> dict[str, Any]:
    """API shape of a bundle (no path)."""
    data = bundle.model_dump(mode="json", exclude={"path"})
    data["file_name"] = file_name(bundle)
    return data
