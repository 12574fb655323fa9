"""Dispatch runs: the plan shown before a start, start, pause, resume, cancel (each audited and on the
incident timeline).

A run sends one regime's approved individual notices (default: the regime with approved versions for the most
channels, ties by name); the version per channel and locale is fixed at start.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col, select

from app.audit import service as audit
from app.clock import Clock
from app.dispatch.chain import Exhausted, people
from app.dispatch.models import FAILED_TEMPORARY, QUEUED, SKIPPED, Delivery, DispatchRun
from app.dispatch.outbox import first_steps, insert_first
from app.dispatch.quiet import Window, call_zones, opens_at
from app.errors import Conflict, InvalidInput, NotFound
from app.incidents import service as incidents
from app.incidents.lifecycle import refuse_if_false_positive
from app.notices.models import NoticeFacts, NoticeState, NoticeVersion
from app.obligations.models import OPEN, ObligationRecord
from app.playbooks.coverage import matches
from app.playbooks.schema import Playbook
from app.subjects.models import DataSubject
from app.subjects.service import iter_subject_ids
from app.webhooks.jobs import emit_progress
from app.wording import plural

LIVE_RUN = ("running", "paused")


@dataclass(frozen=True)
class RunRequest:
    """What to dispatch: ``chain`` (channel order), ``senders`` (channels with a sender), ``rates`` (messages
    per second for the whole system per channel, 0 = unlimited), an optional ``regime`` and the voice
    ``quiet_hours`` window (None: calls never wait). ``playbooks`` (by regime id) say whom each regime's
    notices are for (:func:`regime_scope`); without the run's regime among them, everyone is."""

    chain: Sequence[str]
    senders: Sequence[str]
    rates: dict[str, float]
    regime: str | None = None
    quiet_hours: Window | None = None
    playbooks: Mapping[str, Playbook] = field(default_factory=dict)


def regime_scope(session: Session, *, incident_id: int, playbook: Playbook | None) -> tuple[str, ...] | None:
    """The jurisdiction patterns (``US-CA``, ``DE``, ``US-*``) of the people a regime's individual notices are
    for, or None when they are for everyone of the incident.

    The same rule the substitute-notice counts use (``app.announcements.scope.scope_of``): a state breach law
    covers its residents (e.g. Cal. Civ. Code 1798.82(a): "any resident of California"); HIPAA every
    individual whose PHI was breached (45 CFR 164.404(a)(1)); GDPR everyone when the controller is established
    where it applies (Art. 3(1)), else the residents there (Art. 3(2)).
    """
    from app.announcements.scope import scope_of
    from app.incidents.schema import IncidentFile

    if playbook is None:
        return None
    document = IncidentFile.model_validate(incidents.get(session, incident_id=incident_id).document)
    scope = scope_of(playbook, document)
    return None if scope.everyone else scope.patterns


def approved_notices(session: Session, *, incident_id: int,
                     chain: Sequence[str]) -> dict[str, dict[str, dict[str, int]]]:
    """``{regime: {channel: {locale: version id}}}`` of the incident's approved individual notices on ``chain``'s
    channels: the regimes a run can send."""
    rows = session.exec(select(NoticeVersion).where(
        NoticeVersion.incident_id == incident_id, NoticeVersion.audience == "individuals",
        NoticeVersion.state == NoticeState.approved.value)).all()
    by_regime: dict[str, dict[str, dict[str, int]]] = {}
    for v in rows:
        if v.channel in chain:
            by_regime.setdefault(v.regime, {}).setdefault(v.channel, {})[v.locale] = v.id or 0
    return by_regime


def choose_versions(session: Session, *, incident_id: int, chain: Sequence[str],
                    regime: str | None) -> tuple[str, dict[str, dict[str, int]]]:
    """``(regime, {channel: {locale: version id}})`` of the approved individual notices; ``Conflict`` if none."""
    return _pick(approved_notices(session, incident_id=incident_id, chain=chain), incident_id, regime)


def _pick(by_regime: dict[str, dict[str, dict[str, int]]], incident_id: int,
          regime: str | None) -> tuple[str, dict[str, dict[str, int]]]:
    """``regime`` (default: the one with approved versions for the most channels, ties by name) and its
    versions from :func:`approved_notices`; ``Conflict`` if it has none."""
    if regime is None and by_regime:
        regime = sorted(by_regime, key=lambda r: (-len(by_regime[r]), r))[0]
    if regime is None or regime not in by_regime:
        raise Conflict(f"incident {incident_id} has no approved individual notice"
                       + (f" for {regime}" if regime else "") + ": approve notices before dispatch")
    return regime, by_regime[regime]


def _deadline(session: Session, incident_id: int) -> ObligationRecord | None:
    rows = session.exec(select(ObligationRecord).where(
        ObligationRecord.incident_id == incident_id, ObligationRecord.audience == "individuals",
        col(ObligationRecord.status).in_(OPEN), col(ObligationRecord.due_at).is_not(None))).all()
    return min(rows, key=lambda r: r.due_at or dt.datetime.max.replace(tzinfo=dt.UTC), default=None)


def pending_batches(session: Session, *, incident_id: int, versions: dict[str, dict[str, int]],
                    skipped: list[int], requeued: list[int] | None = None,
                    scope: tuple[str, ...] | None = None, outside: list[int] | None = None) -> Iterator[list[int]]:
    """The incident's subject ids in ascending batches, without people who already have a delivery of one of
    ``versions`` (``{channel: {locale: version id}}``) from an earlier run: a later run reaches people found
    since, never the same notice twice. Decided per person: someone whose every delivery of these versions
    was ``skipped`` (a cancelled run never sent them anything, on any channel of their chain) is included
    again; any other delivery (sent, delivered, failed, in flight) keeps them out. ``skipped`` gets one count
    per batch of the people left out, ``requeued`` one of the people included again.

    ``scope`` (:func:`regime_scope`): only people whose resolved jurisdiction matches a pattern, or is
    unknown (no jurisdiction, or the country alone for a state law of that country: they may live there, and a
    notice too many beats none), are included; ``outside`` gets one count per batch of the people left out
    because they are known to live elsewhere."""
    ids = sorted({v for per_locale in versions.values() for v in per_locale.values()})
    for batch in _in_scope(session, iter_subject_ids(session, incident_id=incident_id), scope, outside):
        rows = session.execute(select(col(Delivery.subject_id), col(Delivery.state)).where(
            col(Delivery.subject_id).in_(batch), col(Delivery.notice_version_id).in_(ids))).all()
        done = {sid for sid, state in rows if state != SKIPPED}
        skipped.append(len(done))
        if requeued is not None:
            requeued.append(len({sid for sid, _state in rows} - done))
        if rest := [sid for sid in batch if sid not in done]:
            yield rest


def _in_scope(session: Session, batches: Iterator[list[int]], scope: tuple[str, ...] | None,
              outside: list[int] | None) -> Iterator[list[int]]:
    """``batches`` without the people known to live outside ``scope`` (None: everyone stays)."""
    for batch in batches:
        if scope is None:
            yield batch
            continue
        rows = session.execute(select(col(DataSubject.id), col(DataSubject.jurisdiction)).where(
            col(DataSubject.id).in_(batch))).all()
        elsewhere = {sid for sid, code in rows if _elsewhere(code, scope)}
        if outside is not None:
            outside.append(len(elsewhere))
        if kept := [sid for sid in batch if sid not in elsewhere]:
            yield kept


def _elsewhere(code: str | None, scope: tuple[str, ...]) -> bool:
    """True when a person's jurisdiction ``code`` is known and outside ``scope``; a country alone (``US``) is
    not, when the scope is one of its subdivisions (``US-CA``): the state is unknown, they may live there."""
    if code is None or matches(code, list(scope)):
        return False
    return "-" in code or not any(pattern.startswith(f"{code}-") for pattern in scope)


def plan(session: Session, *, clock: Clock, incident_id: int, request: RunRequest) -> dict[str, Any]:
    """How long each channel takes at its rate and whether that beats the earliest individuals deadline.

    Shape: ``{"regime", "people", "first_channel": {ch: n}, "unreachable", "channels": {ch: {"messages",
    "rate", "seconds"}}, "finish_seconds", "finish_at", "deadline": {"regime", "due_at"} | None,
    "beats_deadline": bool | None, "warnings": [str], "default_locale", "quiet_hours": {"window", "waiting",
    "opens_at"} | None, "already_sent", "requeued", "outside_scope", "regimes", "scope"}`` (``regimes``: those
    with approved notices, any of which a run can send; ``scope``: :func:`regime_scope` as a list, None for
    everyone); ``people`` leaves out those known to live outside the regime's scope (``outside_scope`` of them,
    :func:`pending_batches`), those an earlier run already sent
    these notices to (``already_sent`` of them) and counts those a cancelled run skipped before reaching them
    (``requeued`` of them: their skipped deliveries are queued again, ``pending_batches``). ``seconds`` is None
    when unlimited; for voice it includes the wait of the people whose first call falls outside the calling
    window now (``waiting`` of them, the last window opening ``opens_at``; estimated from their jurisdiction,
    without decrypting numbers).
    """
    facts = _facts(session, incident_id)
    approved = approved_notices(session, incident_id=incident_id, chain=request.chain)
    regime, versions = _pick(approved, incident_id, request.regime)
    probe = DispatchRun(incident_id=incident_id, state="plan", regime=regime, channel_order=list(request.chain),
                        versions=versions, plan={}, created_by="", created_at=clock.now(), updated_at=clock.now())
    firsts: Counter[str] = Counter()
    total = 0
    callers: list[int] = []
    skipped: list[int] = []
    requeued: list[int] = []
    outside: list[int] = []
    scope = regime_scope(session, incident_id=incident_id, playbook=request.playbooks.get(regime))
    for batch in pending_batches(session, incident_id=incident_id, versions=versions, skipped=skipped,
                                 requeued=requeued, scope=scope, outside=outside):
        for sid, step in first_steps(probe, people(session, batch), senders=request.senders,
                                     default_locale=facts.default_locale):
            firsts["unreachable" if isinstance(step, Exhausted) else step.channel] += 1
            total += 1
            if not isinstance(step, Exhausted) and step.channel == "voice":
                callers.append(sid)
    doc = _plan_doc(session, clock=clock, incident_id=incident_id, regime=regime, request=request, total=total,
                    firsts=firsts, default_locale=facts.default_locale)
    doc["already_sent"], doc["requeued"], doc["outside_scope"] = sum(skipped), sum(requeued), sum(outside)
    doc["regimes"], doc["scope"] = sorted(approved), None if scope is None else list(scope)
    if doc["outside_scope"]:
        doc["warnings"].append(f"{plural(doc['outside_scope'], 'person lives', 'people live')} outside {regime}'s "
                               f"scope ({', '.join(scope or ())}): this run leaves them out; dispatch the notices "
                               "of the regime that covers them")
    if doc["already_sent"]:
        doc["warnings"].append(f"{plural(doc['already_sent'], 'person already has', 'people already have')} "
                               "these notices from an earlier run (sent, delivered, failed or being sent); "
                               "this run leaves them out")
    if doc["requeued"]:
        doc["warnings"].append(f"{plural(doc['requeued'], 'person was', 'people were')} not reached by a cancelled "
                               "run (every delivery skipped): this run notifies them, "
                               "queueing their skipped deliveries again")
    return _with_quiet_hours(session, doc, callers=callers, window=request.quiet_hours, now=clock.now())


def _with_quiet_hours(session: Session, doc: dict[str, Any], *, callers: Sequence[int], window: Window | None,
                      now: dt.datetime) -> dict[str, Any]:
    """Add the voice wait of ``callers`` (first channel voice) outside ``window`` to the plan ``doc``."""
    doc["quiet_hours"] = None
    if window is None or "voice" not in doc["channels"]:
        return doc
    latest, waiting = now, 0
    for start in range(0, len(callers), 1000):
        rows = session.execute(select(DataSubject.jurisdiction).where(
            col(DataSubject.id).in_(callers[start:start + 1000]))).all()
        for (jurisdiction,) in rows:
            opening = opens_at(now, call_zones(None, jurisdiction), window)
            waiting += opening > now
            latest = max(latest, opening)
    wait = (latest - now).total_seconds()
    voice = doc["channels"]["voice"]
    if voice["seconds"] is not None or wait:
        voice["seconds"] = round((voice["seconds"] or 0.0) + wait, 1)
    doc["quiet_hours"] = {"window": window.text, "waiting": waiting,
                          "opens_at": latest.isoformat() if waiting else None}
    if waiting:
        doc["warnings"].append(f"{waiting} voice calls wait for the calling window {window.text} in the person's "
                               f"time zone (until {latest:%Y-%m-%d %H:%M} UTC at the latest)")
        doc["finish_seconds"] = max(doc["finish_seconds"], voice["seconds"])
        doc["finish_at"] = (now + dt.timedelta(seconds=doc["finish_seconds"])).isoformat()
        if doc["deadline"] is not None:
            due = dt.datetime.fromisoformat(doc["deadline"]["due_at"])
            finish = now + dt.timedelta(seconds=doc["finish_seconds"])
            doc["beats_deadline"] = bool(doc["beats_deadline"]) and finish <= due
    return doc


def _plan_doc(session: Session, *, clock: Clock, incident_id: int, regime: str, request: RunRequest, total: int,
              firsts: Counter[str], default_locale: str) -> dict[str, Any]:
    now = clock.now()
    channels: dict[str, dict[str, Any]] = {}
    for channel in request.chain:
        if channel not in request.senders:
            continue
        rate = request.rates.get(channel, 0.0)
        messages = firsts.get(channel, 0)
        channels[channel] = {"messages": messages, "rate": rate, "seconds": round(messages / rate, 1) if rate else None}
    finish = max((c["seconds"] or 0.0 for c in channels.values()), default=0.0)
    record = _deadline(session, incident_id)
    warnings = [f"{plural(n, 'person has', 'people have')} no usable contact on any channel: substitute notice"
                for n in [firsts.get("unreachable", 0)] if n]
    beats = None
    if record is not None and record.due_at is not None:
        beats = now + dt.timedelta(seconds=finish) <= record.due_at
        if not beats:
            warnings.insert(0, f"WARNING: at the configured rates the first channel alone takes {finish:.0f} s and "
                               f"ends after the {record.regime} individuals deadline "
                               f"{record.due_at:%Y-%m-%d %H:%M} UTC; raise the rates or start now")
    return {"regime": regime, "people": total, "first_channel": dict(firsts),
            "unreachable": firsts.get("unreachable", 0), "channels": channels, "finish_seconds": finish,
            "finish_at": (now + dt.timedelta(seconds=finish)).isoformat(),
            "deadline": None if record is None or record.due_at is None else
            {"regime": record.regime, "due_at": record.due_at.isoformat()},
            "beats_deadline": beats, "warnings": warnings, "default_locale": default_locale}


def _facts(session: Session, incident_id: int) -> NoticeFacts:
    incidents.get(session, incident_id=incident_id)
    facts = session.exec(select(NoticeFacts).where(NoticeFacts.incident_id == incident_id)).first()
    if facts is None:
        raise Conflict(f"incident {incident_id} has no notice facts")
    return facts


def start(session: Session, *, clock: Clock, actor: str, incident_id: int, request: RunRequest) -> DispatchRun:
    """Plan, create the run and every person's first delivery (or pool entry); commits once.

    Raises ``Conflict`` for an incident marked false positive, while another run of the incident is running or
    paused, without approved notices, or
    when an earlier run already sent these notices to every person (a later run reaches only people found since
    and people a cancelled run had not reached: their skipped deliveries move to this run, ``outbox.place``).
    """
    refuse_if_false_positive(incidents.get(session, incident_id=incident_id).status, incident_id=incident_id,
                             action="dispatch")
    live = live_run(session, incident_id=incident_id)
    if live is not None:
        raise Conflict(f"dispatch run {live.id} of incident {incident_id} is {live.state}; cancel it first")
    doc = plan(session, clock=clock, incident_id=incident_id, request=request)
    if doc["people"] == 0 and doc["already_sent"]:
        raise Conflict(f"everyone in incident {incident_id} ({plural(doc['already_sent'], 'person', 'people')}) "
                       "already has these notices from an earlier run; import the people found since, or approve "
                       "a new version to send again")
    if doc["people"] == 0 and doc["outside_scope"]:
        raise Conflict(f"nobody in incident {incident_id} is in {doc['regime']}'s scope: "
                       f"{plural(doc['outside_scope'], 'person lives', 'people live')} elsewhere")
    regime, versions = choose_versions(session, incident_id=incident_id, chain=request.chain, regime=doc["regime"])
    now = clock.now()
    run = DispatchRun(incident_id=incident_id, state="running", regime=regime, channel_order=list(request.chain),
                      versions=versions, plan=doc, created_by=actor, created_at=now, updated_at=now)
    session.add(run)
    session.flush()
    created = pooled = requeued = 0
    scope = None if doc["scope"] is None else tuple(doc["scope"])
    for batch in pending_batches(session, incident_id=incident_id, versions=versions, skipped=[], scope=scope):
        made, pool, again = insert_first(session, run, batch, senders=request.senders,
                                         default_locale=doc["default_locale"], now=now)
        created, pooled, requeued = created + made, pooled + pool, requeued + again
    audit.record(session, clock=clock, actor=actor, action="dispatch.started", entity="dispatch_run",
                 entity_id=run.id or 0, incident_id=incident_id,
                 after={"regime": regime, "channels": run.channel_order, "deliveries": created, "pooled": pooled,
                        "requeued": requeued, "beats_deadline": doc["beats_deadline"]})
    incidents.add_timeline(session, clock=clock, incident_id=incident_id, actor=actor, kind="dispatch",
                           text=f"Dispatch run {run.id} started ({regime}, {' > '.join(run.channel_order)}): "
                                f"{plural(created, 'first delivery', 'first deliveries')}, "
                                f"{plural(pooled, 'person', 'people')} without any usable contact"
                                + (f", {requeued} re-queued from a cancelled run" if requeued else ""))
    emit_progress(session, clock=clock, run=run)
    session.commit()
    return run


def live_run(session: Session, *, incident_id: int) -> DispatchRun | None:
    """The incident's running or paused run, if any."""
    return session.exec(select(DispatchRun).where(DispatchRun.incident_id == incident_id,
                                                  col(DispatchRun.state).in_(LIVE_RUN))).first()


def get_run(session: Session, *, run_id: int, incident_id: int | None = None) -> DispatchRun:
    """The run, or ``NotFound``."""
    run = session.get(DispatchRun, run_id)
    if run is None or (incident_id is not None and run.incident_id != incident_id):
        raise NotFound(f"dispatch run {run_id} not found")
    return run


def latest_run(session: Session, *, incident_id: int) -> DispatchRun | None:
    """The incident's newest run, or None."""
    return session.exec(select(DispatchRun).where(DispatchRun.incident_id == incident_id)
                        .order_by(col(DispatchRun.id).desc())).first()


_MOVES = {"pause": ("running", "paused"), "resume": ("paused", "running"), "cancel": (None, "cancelled")}


def control(session: Session, *, clock: Clock, actor: str, run_id: int, action: str) -> DispatchRun:
    """``pause``, ``resume`` or ``cancel`` a run; commits. Cancel skips every queued or retrying delivery
    (deliveries being sent finish; a later run re-queues the people it never reached, ``pending_batches``).
    Raises ``InvalidInput`` (unknown action) or ``Conflict`` (wrong state)."""
    if action not in _MOVES:
        raise InvalidInput(f"unknown action {action!r}", details=[{"path": "action", "reason": "pause|resume|cancel"}])
    run = get_run(session, run_id=run_id)
    source, target = _MOVES[action]
    if (source is not None and run.state != source) or run.state in ("cancelled", "done"):
        raise Conflict(f"dispatch run {run_id} is {run.state}; cannot {action}")
    before, now = run.state, clock.now()
    run.state, run.updated_at = target, now
    skipped = 0
    if action == "cancel":
        run.finished_at = now
        skipped = session.execute(update(Delivery).where(col(Delivery.run_id) == run_id, col(Delivery.state).in_(
            (QUEUED, FAILED_TEMPORARY))).values(state=SKIPPED, finished_at=now, error="run cancelled")).rowcount  # type: ignore[attr-defined]
    session.add(run)
    audit.record(session, clock=clock, actor=actor, action=f"dispatch.{target}", entity="dispatch_run",
                 entity_id=run_id, incident_id=run.incident_id, before={"state": before},
                 after={"state": target, "skipped": skipped})
    incidents.add_timeline(session, clock=clock, incident_id=run.incident_id, actor=actor, kind="dispatch",
                           text=f"Dispatch run {run_id} {target}"
                           + (f": {plural(skipped, 'delivery', 'deliveries')} skipped" if skipped else ""))
    session.flush()
    emit_progress(session, clock=clock, run=run, event_type="dispatch.completed" if target == "cancelled"
                  else "dispatch.progress")
    session.commit()
    return run
