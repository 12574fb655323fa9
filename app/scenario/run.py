"""Run a whole breach response end to end against the sandbox peers, and write what happened.

For each chosen HHS record: file the incident, import a synthetic population, decide obligations, draft and
approve the notices (approvals are recorded as the ``scenario:*`` actors; only this mode does that), dispatch
through the real protocol peers with injected failures, decide and publish the substitute notice, build and
verify the regulator export bundle; at the end verify the audit chain. Each stage is timed.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import func, make_url
from sqlmodel import Session, select
from werkzeug.serving import make_server

from app import create_app, db
from app.announcements import service as announcements
from app.audit import service as audit
from app.errors import Conflict
from app.incidents import flows
from app.incidents.models import Incident
from app.notices import service as notices
from app.notices.routes import app_drafting
from app.ops.logs import QUIET
from app.sandbox.common import free_port
from app.sandbox.peers import SandboxPeers
from app.scenario import hhs
from app.scenario.facts import notice_facts
from app.scenario.outcomes import dispatch_and_wait, export_report, incident_summary, record_met
from app.subjects import service as subjects
from app.wording import plural

DRAFTER, APPROVER = "scenario:drafter", "scenario:approver"
CHANNELS = ("email", "sms", "push", "letter")
# what a run writes into OUT (database, keys and bundles under instance/); --force removes these and nothing else
WRITTEN = ("instance", "rejects", "summary.json", "summary.md", "subjects-*.csv")


@dataclass
class Options:
    """What to rehearse: ``rows`` records (or the given ``indices``), at most ``max_subjects`` people each."""

    out: Path
    rows: int = 5
    max_subjects: int = 2000
    seed: int = 1
    data: Path = hhs.DATA
    indices: list[int] | None = None
    failure_rate: float = 0.05
    receipt_delay: float = 0.2
    database_url: str | None = None
    dispatch_timeout: float = 600.0
    force: bool = False


@dataclass
class Stages:
    """Elapsed seconds per stage."""

    seconds: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def time(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = round(time.perf_counter() - start, 3)


def _config(options: Options, peers: SandboxPeers, port: int) -> dict[str, Any]:
    instance = options.out / "instance"
    return {"DATABASE_URL": options.database_url or f"sqlite:///{instance / 'scenario.sqlite'}",
            "INSTANCE_PATH": str(instance), "SCHEDULER": "off", "WORKER": "off",
            "PUBLIC_URL": f"http://127.0.0.1:{port}", "DISPATCH_RATES": "email=0,sms=0,push=0",
            "RECEIPT_TIMEOUTS": "sms=15", "DISPATCH_BACKOFF": "1", "DISPATCH_MAX_ATTEMPTS": "3",
            "CLAIM_TIMEOUT": "60", "LOG_LEVEL": "WARNING", **peers.settings()}


@contextmanager
def _served(app: Flask, port: int) -> Iterator[None]:
    """Serve the app on loopback so the Twilio peer's signed status callbacks reach the webhook."""
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        thread.join(timeout=10)


def _people(record: hhs.Record, options: Options, peers: SandboxPeers, folder: Path) -> Path:
    path = folder / f"subjects-{record.row}.csv"
    size = min(record.affected, options.max_subjects)
    hhs.write_population(path, hhs.population(record, size=size, seed=options.seed + record.row,
                                              push_subscription=lambda: json.dumps(peers.webpush.new_subscription())))
    return path


def _approve_all(session: Session, app: Flask, versions: list[Any]) -> int:
    clock, drafting = app.extensions["clock"], app_drafting(app)
    for version in versions:
        if version.state == "draft":
            notices.submit(session, clock=clock, actor=DRAFTER, version_id=version.id)
        if version.state != "approved":
            notices.approve(session, clock=clock, actor=APPROVER, version_id=version.id, drafting=drafting)
    return len(versions)


def draft_and_approve(session: Session, app: Flask, incident_id: int, document: dict[str, Any]) -> int:
    """Save the notice facts from the incident file, draft the individual notices of every required regime (and
    the public announcement), and approve them as the ``scenario`` actors; returns how many were approved."""
    clock, drafting = app.extensions["clock"], app_drafting(app)
    aware = dt.datetime.fromisoformat(document["aware_at"]).date()
    notices.save_facts(session, clock=clock, actor=DRAFTER, incident_id=incident_id,
                       data=notice_facts(document, discovered_on=aware), drafting=drafting)
    regimes = notices.required_regimes(session, incident_id=incident_id, audience="individuals")
    drafted = notices.draft(session, clock=clock, actor=DRAFTER, incident_id=incident_id, audience="individuals",
                            regimes=regimes, drafting=drafting, channels=list(CHANNELS))
    if regimes:
        drafted += notices.draft(session, clock=clock, actor=DRAFTER, incident_id=incident_id, audience="public",
                                 regimes=regimes[:1], drafting=drafting, channels=["announcement"])
    return _approve_all(session, app, drafted)


def rehearse(app: Flask, *, document: dict[str, Any], people: Path, options: Options,
             source: dict[str, Any]) -> dict[str, Any]:
    """One incident end to end (its incident file and subject file); returns its summary item."""
    stages, clock, playbooks = Stages(), app.extensions["clock"], app.extensions["playbooks"]
    engine = db.engine_for(app)
    with app.app_context(), db.session_scope(engine) as session:
        with stages.time("file_incident"):
            incident = flows.file_incident(session, clock=clock, actor=DRAFTER, data=document, playbooks=playbooks)
        incident_id = incident.id or 0
        with stages.time("import_subjects"):
            processes = subjects.worker_processes(app.config["IMPORT_PROCESSES"], file_bytes=people.stat().st_size)
            imported = subjects.import_file(session, clock=clock, actor=DRAFTER, path=people,
                                            keys=app.extensions["keys"], rejects_dir=options.out / "rejects",
                                            incident_id=incident_id, processes=processes)
        with stages.time("assess"):
            flows.reassess(session, clock=clock, actor=DRAFTER, incident_id=incident_id, playbooks=playbooks)
        with stages.time("draft_and_approve_notices"):
            approved = draft_and_approve(session, app, incident_id, document)
            regime = dispatch_regime(session, incident_id)
    with stages.time("dispatch"):
        dispatch = dispatch_and_wait(app, incident_id=incident_id, actor=APPROVER, timeout=options.dispatch_timeout,
                                     regime=regime)
    with app.app_context(), db.session_scope(engine) as session:
        with stages.time("substitute_notice"):
            decision = flows_decide(session, app, incident_id)
            published = None
            if decision["required"] or decision["allowed"]:
                published = announcements.publish(session, clock=clock, actor=APPROVER, incident_id=incident_id,
                                                  decision=decision)
        with stages.time("regulator_export"):
            exports = export_report(app, session, incident_id=incident_id, drafter=DRAFTER, approver=APPROVER,
                                    regime=regime)
        record_met(session, clock=clock, incident_id=incident_id, actor=APPROVER, dispatch=dispatch,
                   published=published.slug if published else None, exports=exports)
        summary = incident_summary(session, incident_id=incident_id, now=clock.now())
    return {**source, "incident_id": incident_id,
            "subjects": {"imported": imported.imported, "rejected_rows": imported.rejected,
                         "merged_duplicates": imported.merged_duplicates},
            "notices_approved": approved, **summary, "deliveries": dispatch,
            "substitute_notice": {"decision": decision, "published": published.slug if published else None,
                                  "stands_for": published.stands_for if published else 0},
            "exports": exports, "export_verified": all(e["verified"] for e in exports) and bool(exports),
            "elapsed_seconds": stages.seconds}


def dispatch_regime(session: Session, incident_id: int) -> str | None:
    """HIPAA's notice for a covered entity (45 CFR 164.404), else the engine's first individual duty."""
    regimes = notices.required_regimes(session, incident_id=incident_id, audience="individuals")
    return "us-hipaa" if "us-hipaa" in regimes else (regimes[0] if regimes else None)


def _record_source(record: hhs.Record) -> dict[str, Any]:
    values = record.values
    return {"source_row": record.row, "entity": values["Name of Covered Entity"].strip(),
            "breach_type": values["Type of Breach"], "location": values["Location of Breached Information"]}


def flows_decide(session: Session, app: Flask, incident_id: int) -> dict[str, Any]:
    """Recompute the substitute-notice decision after dispatch (the pool now holds who was not reached)."""
    return announcements.decide_for(session, clock=app.extensions["clock"], actor=APPROVER, incident_id=incident_id,
                                    playbooks=app.extensions["playbooks"], unit_costs=app.config["UNIT_COSTS"])


Case = Callable[[Flask, SandboxPeers], dict[str, Any]]


def run(options: Options, *, progress: Callable[[str], None] = lambda _m: None) -> dict[str, Any]:
    """Rehearse the chosen HHS records; writes ``summary.json`` and ``summary.md`` in ``options.out``."""
    records = list(hhs.read_records(options.data))
    chosen = ([records[i] for i in options.indices] if options.indices
              else hhs.choose(records, count=options.rows, seed=options.seed))

    def case(record: hhs.Record) -> Case:
        def go(app: Flask, peers: SandboxPeers) -> dict[str, Any]:
            progress(f"row {record.row}: {record.values['Name of Covered Entity'].strip()}")
            document = hhs.incident_file(record, aware_at=app.extensions["clock"].now() - dt.timedelta(days=1))
            return rehearse(app, document=document, people=_people(record, options, peers, options.out),
                            options=options, source=_record_source(record))
        return go

    return run_cases(options, [case(r) for r in chosen], generated_by="breach-notify scenario hhs")


def run_file(options: Options, *, incident: dict[str, Any], people: Path) -> dict[str, Any]:
    """Rehearse one incident file with its subject file (``breach-notify scenario file``)."""
    def go(app: Flask, _peers: SandboxPeers) -> dict[str, Any]:
        return rehearse(app, document=incident, people=people, options=options,
                        source={"source_row": None, "entity": incident.get("controller", {}).get("name"),
                                "breach_type": incident.get("cause"), "location": str(people.name)})

    return run_cases(options, [go], generated_by="breach-notify scenario file")


def fresh_out(out: Path, *, force: bool) -> None:
    """Make ``out`` ready for a new rehearsal: a folder without the files of an earlier run (``WRITTEN``).

    Raises ``Conflict`` naming the folder when an earlier run's files are there and ``force`` is false; with
    ``force`` they are deleted (only those; other files in ``out`` and anything outside it are left alone).
    """
    earlier = sorted({path for pattern in WRITTEN for path in out.glob(pattern)})
    if earlier and not force:
        names = ", ".join(p.name + ("/" if p.is_dir() and not p.is_symlink() else "") for p in earlier)
        raise Conflict(f"{out} already holds a rehearsal ({names}); pass --force to replace it or choose "
                       "another --out")
    for path in earlier:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
    out.mkdir(parents=True, exist_ok=True)


def require_empty(url: str) -> None:
    """Migrate the database ``--database-url`` names; raises ``Conflict`` when it already holds incidents (a
    database we did not create is never emptied by a rehearsal)."""
    engine = db.make_engine(url)
    try:
        db.upgrade(engine)
        with db.session_scope(engine) as session:
            count = session.exec(select(func.count()).select_from(Incident)).one()
    finally:
        engine.dispose()
    if count:
        shown = make_url(url).render_as_string(hide_password=True)
        raise Conflict(f"{shown} already holds {plural(count, 'incident')}; a rehearsal needs an empty database "
                       "(or leave out --database-url for a fresh SQLite file under --out)")


def run_cases(options: Options, cases: list[Case], *, generated_by: str) -> dict[str, Any]:
    """Start the peers and the app, run each case, verify the audit chain, write the summary.

    Raises ``Conflict`` before anything runs when ``options.out`` holds an earlier rehearsal (see ``fresh_out``)
    or ``options.database_url`` names a database that already holds incidents.
    """
    from app.scenario.summary import write_summary

    fresh_out(options.out, force=options.force)
    if options.database_url:
        require_empty(options.database_url)
    for noisy, level in QUIET.items():
        logging.getLogger(noisy).setLevel(level)
    started = time.perf_counter()
    with SandboxPeers(failure_rate=options.failure_rate, receipt_delay=options.receipt_delay,
                      seed=options.seed) as peers:
        port = free_port()
        app = create_app(_config(options, peers, port))
        db.upgrade(db.engine_for(app))
        items = []
        with _served(app, port), _worker(app):
            for case in cases:
                items.append(case(app, peers))
        with app.app_context(), db.session_scope(db.engine_for(app)) as session:
            chain = audit.verify(session)
    result = {"generated_by": generated_by, "seed": options.seed, "data": str(options.data),
              "incidents": items, "audit_verified": chain.ok, "audit_events": chain.checked,
              "elapsed_seconds": round(time.perf_counter() - started, 2)}
    for item in items:
        item["audit_verified"] = chain.ok
    write_summary(options.out, result)
    return result


@contextmanager
def _worker(app: Flask) -> Iterator[None]:
    from app.dispatch.wiring import start_background_worker

    with app.app_context():
        thread, stop = start_background_worker(app)
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=30)
