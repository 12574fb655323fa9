"""The whole pipeline per stage and size, next to the simplest possible version of each stage (the ceilings).

Usage: .venv/bin/python bench/pipeline.py --subjects 10000,100000,1000000 --db sqlite|postgres
           [--stages import,identify,assess,draft,queue,render,dispatch] [--channels email,sms]
           [--dispatch-limit 20000] [--render-limit 20000] [--processes 2] [--concurrency 4]

For each size N, in a fresh process (so peak RSS is that size's alone) and a fresh database: write a realistic
subject file (``bench/import_subjects.write_file``), file an incident from a real HHS breach record
(``app.scenario.hhs``), then run and time the product's own stages:
  import    ``subjects.import_file`` (normalise, encrypt, index, de-duplicate, link)      items: rows
  identify  ``subjects.reach`` (who is affected, where, reachable on which channel)      items: subjects
  assess    ``flows.reassess`` (obligations per regime from the resolved jurisdictions)  items: subjects
  draft     ``scenario.run.draft_and_approve`` (facts, drafts per regime, four eyes)     items: notice versions
  queue     ``dispatch.runs.start`` per channel (plan + one delivery row per person)     items: deliveries
  render    ``MessageBuilder.build`` of the first --render-limit deliveries (decrypt, render, MIME)
  dispatch  one in-process ``Worker`` (rate limits off) until --dispatch-limit messages went out (then it stops
            claiming; what it had claimed, at most its batch of 200, still goes out; the line shows ``cap``)
and in the same run the ceilings: ``loader`` (csv.reader + executemany, ``import_subjects.ceiling``),
``render`` (the same stored templates rendered in a plain loop) and ``sender`` (the raw smtplib / twilio client
loop of ``channels_ceiling``, run right before and after each dispatch stage; the mean is used). The sandbox
peers run in a separate process. Prints one JSON line per stage and
size: seconds, items, items/s, peak RSS (MiB, this size's process and its import workers) and, where a ceiling
exists, ``ceiling_items_per_s`` and ``ratio_to_ceiling``. PostgreSQL: BREACH_TEST_PG_URL (a database is created
and dropped per size).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing
import queue
import resource
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from channels_ceiling import bench_email, bench_sms
from dispatch import bench_app, database, serve_peers
from import_subjects import ceiling as loader_ceiling
from import_subjects import write_file

from app import db
from app.dispatch import runs
from app.dispatch.outbox import jobs_for
from app.dispatch.render import MessageBuilder, load_versions
from app.dispatch.wiring import make_worker, run_request, settings_for
from app.dispatch.worker import WorkerOptions
from app.incidents import flows
from app.notices.context import NoticeContext, Recipient
from app.notices.rendering import CHANNELS
from app.scenario import hhs
from app.scenario.run import DRAFTER, dispatch_regime, draft_and_approve
from app.subjects import service as subjects

STAGES = ("import", "identify", "assess", "draft", "queue", "render", "dispatch")
SENDER_CEILINGS: dict[str, Callable[[int, dict[str, str]], Any]] = {"email": bench_email, "sms": bench_sms}


def peak_rss_mib() -> float:
    """Peak RSS of this process or of its largest finished child (import workers), MiB."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return round(max(own, children) / 1024, 1)


class Report:
    """Collects one dict per stage for size ``n``."""

    def __init__(self, n: int, kind: str) -> None:
        self.n, self.kind = n, kind
        self.lines: list[dict[str, Any]] = []

    def add(self, stage: str, seconds: float, items: int, **extra: Any) -> dict[str, Any]:
        line = {"stage": stage, "subjects": self.n, "db": self.kind, "seconds": round(seconds, 3), "items": items,
                "items_per_s": round(items / seconds, 1) if seconds > 0 else None, "peak_rss_mib": peak_rss_mib(),
                **extra}
        self.lines.append(line)
        print(json.dumps(line), flush=True)
        return line


def ratio(line: dict[str, Any], ceiling_per_s: float) -> None:
    """Add the ceiling and our/ceiling ratio to a stage line (and print it again)."""
    line["ceiling_items_per_s"] = round(ceiling_per_s, 1)
    line["ratio_to_ceiling"] = round((line["items_per_s"] or 0.0) / ceiling_per_s, 3) if ceiling_per_s else None
    print(json.dumps({**line, "stage": line["stage"] + "_vs_ceiling"}), flush=True)


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """(seconds, result) of ``fn()``."""
    started = time.perf_counter()
    result = fn()
    return time.perf_counter() - started, result


def render_stage(app: Any, session: Any, report: Report, *, run_id: int, limit: int) -> None:
    """Our per-person message building for the first ``limit`` deliveries, then the plain render loop."""
    from sqlalchemy import select
    from sqlmodel import col

    from app.dispatch.models import Delivery

    ids = list(session.execute(select(col(Delivery.id)).where(col(Delivery.run_id) == run_id)
                               .order_by(col(Delivery.id)).limit(limit)).scalars())
    jobs = [job for start in range(0, len(ids), 1000) for job in jobs_for(session, ids[start:start + 1000])]
    versions = load_versions(session, {j.version_id for j in jobs})
    builder = MessageBuilder(app.extensions["keys"].cipher(), settings_for(app))
    now = app.extensions["clock"].now()

    def build_all() -> None:
        for job in jobs:  # each message dropped at once, as the worker does (a kept list costs GC time)
            builder.build(job, versions[job.version_id], now)

    seconds, _ = timed(build_all)
    line = report.add("render", seconds, len(jobs), channel=jobs[0].channel if jobs else None)
    if jobs:
        ratio(line, plain_render_rate(versions[jobs[0].version_id], len(jobs), now))


def plain_render_rate(info: Any, n: int, now: dt.datetime) -> float:
    """Renders per second of the same stored templates in a plain loop: compiled once, one dict per person."""
    templates = [info.renderer.env.get_template(f"{info.folder[0]}/{info.folder[1]}/{name}")
                 for _part, name in CHANNELS[info.channel]]
    values = NoticeContext(facts=info.facts, recipient=Recipient(full_name="A", personal_link="http://127.0.0.1/n/x"),
                           notice_date=now.date()).template_vars()
    values["notice_locale"] = info.folder[1]

    def loop() -> None:
        for i in range(n):
            values["recipient"] = {**values["recipient"], "full_name": f"Person {i}",
                                   "personal_link": f"http://127.0.0.1/n/{i}"}
            for template in templates:
                template.render(values)

    seconds, _ = timed(loop)
    return n / seconds


def sender_ceiling(channel: str, n: int, settings: dict[str, str]) -> float:
    """Messages per second of the raw sender loop to the same peer (``channels_ceiling``)."""
    rate: float = SENDER_CEILINGS[channel](n, settings)[0][0]
    return rate


def dispatch_stage(app: Any, report: Report, *, channel: str, limit: int, ceiling: Callable[[], float]) -> None:
    """One worker on ``channel`` with rate limits off, stopped once ``limit`` messages had an outcome. The raw
    loop runs right before and right after it; their mean is the ceiling (the load of a shared machine moves)."""
    before = ceiling()
    worker = make_worker(app, WorkerOptions(once=True, batch=200, poll=0.05, sweep_every=3600, channels=(channel,)))
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,), daemon=True)
    started = time.perf_counter()
    thread.start()
    while thread.is_alive() and sum(worker.stats.outcomes.values()) < limit:
        time.sleep(0.02)
    stop.set()
    thread.join()
    seconds = time.perf_counter() - started
    line = report.add("dispatch", seconds, worker.stats.outcomes["accepted"], channel=channel, cap=limit,
                      outcomes=dict(worker.stats.outcomes))
    after = ceiling()
    line["ceiling_before_after"] = [round(before, 1), round(after, 1)]
    ratio(line, (before + after) / 2)


def run_size(n: int, opts: dict[str, Any], settings: dict[str, str], out: Any) -> None:
    """Child process: every chosen stage for ``n`` subjects; puts the stage lines on ``out``."""
    report, wanted = Report(n, opts["db"]), set(opts["stages"])
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        path = folder / "subjects.csv"
        write_file(path, n)
        if "import" in wanted:
            box: queue.SimpleQueue[dict[str, Any]] = queue.SimpleQueue()
            loader_ceiling(str(path), opts["db"], box)
            loaded = box.get()
            report.add("ceiling_loader", loaded["seconds"], n)
        url, cleanup = database(opts["db"], folder)
        app = bench_app(url, folder, settings, channels=tuple(opts["channels"]), rate=0.0,
                        concurrency=opts["concurrency"])
        try:
            pipeline(app, report, n=n, path=path, folder=folder, opts=opts, settings=settings,
                     loader=n / loaded["seconds"] if "import" in wanted else None)
        finally:
            db.engine_for(app).dispose()
            cleanup()
    out.put(report.lines)


def pipeline(app: Any, report: Report, *, n: int, path: Path, folder: Path, opts: dict[str, Any],
             settings: dict[str, str], loader: float | None) -> None:
    """The product's stages on one incident filed from a real HHS record."""
    wanted, clock, playbooks = set(opts["stages"]), app.extensions["clock"], app.extensions["playbooks"]
    record = hhs.choose(list(hhs.read_records(hhs.DATA)), count=1, seed=opts["seed"])[0]
    document = hhs.incident_file(record, aware_at=clock.now() - dt.timedelta(days=1))
    with app.app_context(), db.session_scope(db.engine_for(app)) as session:
        incident_id = flows.file_incident(session, clock=clock, actor=DRAFTER, data=document,
                                          playbooks=playbooks).id or 0
        if "import" in wanted or {"identify", "assess", "draft", "queue", "render", "dispatch"} & wanted:
            seconds, summary = timed(lambda: subjects.import_file(
                session, clock=clock, actor=DRAFTER, path=path, keys=app.extensions["keys"],
                rejects_dir=folder / "rejects", incident_id=incident_id, processes=opts["processes"]))
            line = report.add("import", seconds, n, imported=summary.imported, rejected=summary.rejected,
                              merged_duplicates=summary.merged_duplicates)
            if loader:
                ratio(line, loader)
        if "identify" in wanted:
            seconds, reach = timed(lambda: subjects.reach(session, incident_id=incident_id))
            report.add("identify", seconds, reach.total, jurisdictions=len(reach.by_jurisdiction),
                       unreachable=reach.unreachable)
        if "assess" in wanted or {"draft", "queue", "render", "dispatch"} & wanted:
            seconds, records = timed(lambda: flows.reassess(session, clock=clock, actor=DRAFTER,
                                                            incident_id=incident_id, playbooks=playbooks))
            report.add("assess", seconds, n, obligations=len(records))
        if {"draft", "queue", "render", "dispatch"} & wanted:
            seconds, approved = timed(lambda: draft_and_approve(session, app, incident_id, document))
            report.add("draft", seconds, approved, regime=dispatch_regime(session, incident_id))
        for channel in opts["channels"] if {"queue", "render", "dispatch"} & wanted else ():
            seconds, run = timed(lambda c=channel: runs.start(
                session, clock=clock, actor=DRAFTER, incident_id=incident_id,
                request=run_request(app, chain=c, regime=dispatch_regime(session, incident_id))))
            deliveries = int(run.plan["first_channel"].get(channel, 0))
            report.add("queue", seconds, deliveries, channel=channel)
            if "render" in wanted:
                render_stage(app, session, report, run_id=run.id or 0, limit=opts["render_limit"])
            if "dispatch" in wanted:
                dispatch_stage(app, report, channel=channel, limit=min(deliveries, opts["dispatch_limit"]),
                               ceiling=lambda c=channel: sender_ceiling(c, opts["ceiling_n"], settings))
            runs.control(session, clock=clock, actor=DRAFTER, run_id=run.id or 0, action="cancel")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", default="10000", help="comma-separated sizes")
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--stages", default=",".join(STAGES), help=f"subset of {','.join(STAGES)}")
    parser.add_argument("--channels", default="email,sms", help="dispatch channels (email, sms), one run each")
    parser.add_argument("--dispatch-limit", type=int, default=20000, help="messages per channel and size (cap)")
    parser.add_argument("--render-limit", type=int, default=20000, help="messages rendered in the render stage")
    parser.add_argument("--processes", type=int, default=2, help="import worker processes")
    parser.add_argument("--concurrency", type=int, default=4, help="sender threads per channel")
    parser.add_argument("--ceiling-n", type=int, default=2000, help="messages in each raw sender loop")
    parser.add_argument("--seed", type=int, default=8)
    args = parser.parse_args()
    stages = [s for s in args.stages.split(",") if s]
    channels = [c for c in args.channels.split(",") if c]
    if set(stages) - set(STAGES) or set(channels) - set(SENDER_CEILINGS):
        parser.error(f"--stages from {','.join(STAGES)}; --channels from {','.join(SENDER_CEILINGS)}")
    opts = {"db": args.db, "stages": stages, "channels": channels, "dispatch_limit": args.dispatch_limit,
            "render_limit": args.render_limit, "processes": args.processes, "concurrency": args.concurrency,
            "seed": args.seed, "ceiling_n": args.ceiling_n}
    spawn = multiprocessing.get_context("spawn")
    parent, child = spawn.Pipe()
    peers = spawn.Process(target=serve_peers, args=(child,), daemon=True)
    peers.start()
    try:
        settings, _subscription = parent.recv()
        for n in (int(x) for x in args.subjects.split(",")):
            out = spawn.Queue()
            proc = spawn.Process(target=run_size, args=(n, opts, settings, out))
            proc.start()
            out.get()
            proc.join()
    finally:
        parent.send("stop")
        peers.join(timeout=10)


if __name__ == "__main__":
    main()
