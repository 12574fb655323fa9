"""Deciding on substitute notice with live numbers, publishing and withdrawing public notices, and the
posting-period sweep.

A public notice is published only from approved ``announcement`` notice versions (four-eyes approval in
``app.notices``); the page carries no personal data and counts, never names, the people it stands in for.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select, union, update
from sqlmodel import Session, col

from app.announcements.decision import Counts, RegimeVerdict, as_document, decide
from app.announcements.models import PublicNotice, SubstituteDecision
from app.announcements.scope import CHANNEL_FLAGS, Population, cheapest, left_unreached
from app.audit import service as audit
from app.clock import Clock
from app.errors import Conflict, InvalidInput, NotFound
from app.incidents import service as incidents
from app.incidents.lifecycle import refuse_if_false_positive
from app.letters.costs import with_letter_cost
from app.notices.models import NoticeVersion
from app.obligations.models import ObligationRecord
from app.playbooks.schema import Playbook
from app.subjects import service as subjects
from app.subjects.models import DataSubject, IncidentSubject
from app.webhooks.events import emit
from app.wording import plural

# The substitute notice stands in for individual notice (45 CFR 164.404(d)(2); GDPR Art. 34(3)(c)): only an
# announcement written for the individuals or the public may be posted as it, never a press release (media).
PUBLIC_AUDIENCES = ("individuals", "public")
TOLL_FREE_CITATIONS = {"us-hipaa": "45 CFR 164.404(d)(2)(ii)(B)"}
REMIND_BEFORE = dt.timedelta(days=7)


def unreachable_count(session: Session, *, incident_id: int) -> int:
    """Distinct people no channel can reach: no usable contact at all, or left to the substitute notice by a
    dispatch run and reached by none (``scope.left_unreached``)."""
    no_contact: Any = select(col(DataSubject.id).label("sid")).join(
        IncidentSubject, col(IncidentSubject.subject_id) == col(DataSubject.id)).where(
        col(IncidentSubject.incident_id) == incident_id,
        ~(col(DataSubject.has_email) | col(DataSubject.has_phone) | col(DataSubject.has_push)
          | col(DataSubject.has_postal)))
    both = union(no_contact, left_unreached(incident_id)).subquery()
    return int(session.execute(select(func.count()).select_from(both)).scalar_one())


def individual_cost(session: Session, *, incident_id: int, unit_costs: Mapping[str, float]) -> float:
    """Estimated cost (USD) of individual notice: each reachable person by their cheapest usable channel; a
    letter costs its unit price plus ``letter_page`` per page (``app.letters.costs``)."""
    unit_costs = with_letter_cost(session, incident_id=incident_id, unit_costs=unit_costs)
    flags = [col(getattr(DataSubject, f)) for _, f in CHANNEL_FLAGS]
    rows = session.execute(select(*flags, func.count()).join(
        IncidentSubject, col(IncidentSubject.subject_id) == col(DataSubject.id)).where(
        col(IncidentSubject.incident_id) == incident_id).group_by(*flags)).all()
    return sum((cheapest(unit_costs, row[:-1]) * row[-1] for row in rows), 0.0)


def counts(session: Session, *, incident_id: int, unit_costs: Mapping[str, float]) -> Counts:
    """The decision's inputs: ``total`` is ``subjects.affected(...).class_size`` (the larger of the people
    imported and the incident file's estimate; before any import the estimate, with nobody unreachable)."""
    total = subjects.affected(session, incident_id=incident_id).class_size
    return Counts(total, unreachable_count(session, incident_id=incident_id),
                  round(individual_cost(session, incident_id=incident_id, unit_costs=unit_costs), 2))


def _individual_regimes(session: Session, incident_id: int) -> list[str]:
    rows = session.execute(select(col(ObligationRecord.regime)).where(
        col(ObligationRecord.incident_id) == incident_id, col(ObligationRecord.audience) == "individuals",
        col(ObligationRecord.part) == "", col(ObligationRecord.required).is_(True))).scalars()
    return sorted(set(rows))


def decide_for(session: Session, *, clock: Clock, actor: str, incident_id: int, playbooks: Mapping[str, Playbook],
               unit_costs: Mapping[str, float]) -> dict[str, Any]:
    """Recompute the decision; store it and audit it when it changed; commits. Returns the document.

    Each regime is decided on the counts of the people it requires to be notified individually
    (``app.announcements.scope.Population``: e.g. California's residents under Cal. Civ. Code
    1798.82(j)(3), everyone under HIPAA 45 CFR 164.404(d)(2)); ``inputs`` stay the incident-wide counts."""
    inputs = counts(session, incident_id=incident_id, unit_costs=unit_costs)
    regimes = _individual_regimes(session, incident_id)
    people = Population(session, incident_id=incident_id, playbooks=playbooks, regimes=regimes)
    verdicts = decide(playbooks=playbooks, regimes=regimes, counts=inputs,
                      by_regime=people.regime_counts(unit_costs=unit_costs, overall=inputs))
    document = as_document(inputs, verdicts) | {"stands_for": people.stands_for(verdicts, inputs)}
    row = session.execute(select(SubstituteDecision).where(
        col(SubstituteDecision.incident_id) == incident_id)).scalar_one_or_none()
    if (row is not None and row.document == document) or (row is None and not verdicts):
        return document  # unchanged, or nothing to decide yet: no record, no audit noise
    before = row.document if row else None
    row = row or SubstituteDecision(incident_id=incident_id, decided_at=clock.now(), document={})
    row.document, row.decided_at = document, clock.now()
    session.add(row)
    audit.record(session, clock=clock, actor=actor, action="substitute_notice.decided", entity="incident",
                 entity_id=incident_id, incident_id=incident_id,
                 before=before and {"required": before["required"], "inputs": before["inputs"]},
                 after={"required": document["required"], "allowed": document["allowed"], "inputs": document["inputs"],
                        "regimes": {v.regime: v.required for v in verdicts}})
    incidents.add_timeline(session, clock=clock, incident_id=incident_id, actor=actor, kind="substitute_notice",
                           text=_summary(verdicts, inputs))
    session.commit()
    return document


def _summary(verdicts: list[RegimeVerdict], inputs: Counts) -> str:
    if not verdicts:
        return f"Substitute notice: no rule applies ({inputs.unreachable} unreachable)"
    parts = [f"{v.regime} {v.label}" for v in verdicts]
    return f"Substitute notice decided ({inputs.unreachable} unreachable of {inputs.total}): " + ", ".join(parts)


def latest_decision(session: Session, *, incident_id: int) -> dict[str, Any] | None:
    """The stored decision document, or None."""
    row = session.execute(select(SubstituteDecision).where(
        col(SubstituteDecision.incident_id) == incident_id)).scalar_one_or_none()
    return row.document if row else None


def _slug(title: str, incident_id: int) -> str:
    words = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:80] or "notice"
    return f"{incident_id}-{words}"


def _approved_announcements(session: Session, incident_id: int) -> dict[str, NoticeVersion]:
    """Per locale, the newest approved announcement for an audience in ``PUBLIC_AUDIENCES``."""
    rows = session.execute(select(NoticeVersion).where(
        col(NoticeVersion.incident_id) == incident_id, col(NoticeVersion.channel) == "announcement",
        col(NoticeVersion.audience).in_(PUBLIC_AUDIENCES),
        col(NoticeVersion.state) == "approved").order_by(col(NoticeVersion.id))).scalars()
    return {v.locale: v for v in rows}


def _toll_free(version: NoticeVersion) -> str | None:
    contact = (version.facts_snapshot.get("facts") or {}).get("contact") or {}
    number = contact.get("toll_free_phone")
    return (str(number).strip() or None) if number else None


def _check_toll_free(versions: Mapping[str, NoticeVersion], applicable: list[Mapping[str, Any]]) -> int:
    """Days the toll-free number must stay active (0: no rule asks for one). ``Conflict`` when a rule asks
    for one and an approved version's facts give none."""
    needs = [v for v in applicable if v.get("toll_free_days")]
    if not needs:
        return 0
    lacking = sorted(loc for loc, version in versions.items() if _toll_free(version) is None)
    days = max(int(v["toll_free_days"]) for v in needs)
    if lacking:
        sources = ", ".join(TOLL_FREE_CITATIONS.get(v["regime"], v["citation"]) for v in needs)
        raise Conflict(f"the substitute notice needs a toll-free number active for at least {days} days ({sources}): "
                       f"the approved announcement ({', '.join(lacking)}) has no contact.toll_free_phone; add it to "
                       "the facts, redraft and approve the announcement",
                       details=[{"path": "facts.contact.toll_free_phone", "reason": "missing"}])
    return days


def publish(session: Session, *, clock: Clock, actor: str, incident_id: int, decision: Mapping[str, Any],
            title: str | None = None) -> PublicNotice:
    """Publish (or re-publish) the incident's public notice from its approved announcement versions for the
    individuals or the public (never the media audience's press release); commits.

    The posting period is the longest any applicable rule asks for (e.g. 90 days, 45 CFR 164.404(d)(2)(ii)).
    Where a rule asks for a toll-free number (HIPAA, 10 or more unreachable: active at least 90 days, 45 CFR
    164.404(d)(2)(ii)(B)) the approved facts must give ``contact.toll_free_phone``; the notice shows it and
    tracks its period. Raises ``Conflict`` when no announcement version is approved, the number is missing or
    the incident is marked false positive.
    """
    incident = incidents.get(session, incident_id=incident_id)
    refuse_if_false_positive(incident.status, incident_id=incident_id, action="publishing a public notice")
    versions = _approved_announcements(session, incident_id)
    if not versions:
        raise Conflict("no approved announcement notice for the individuals or the public: draft the 'announcement' "
                       "channel for one of them and have it approved first (a media press release cannot be "
                       "published as the public notice)")
    applicable = [v for v in decision.get("verdicts", []) if v["allowed"]]
    toll_free_days = _check_toll_free(versions, applicable)
    days = max((v["posting_days"] for v in applicable), default=0)
    now = clock.now()
    notice = session.execute(select(PublicNotice).where(col(PublicNotice.incident_id) == incident_id)
                             ).scalar_one_or_none() or PublicNotice(
        incident_id=incident_id, slug=_slug(title or incident.title, incident_id), title="", state="",
        versions={}, default_locale="en", published_at=now, published_by=actor)
    notice.title = (title or "Notice of Data Breach")[:300]
    notice.state, notice.versions = "published", {loc: v.id or 0 for loc, v in versions.items()}
    notice.default_locale = "en" if "en" in versions else sorted(versions)[0]
    largest = max((v["stands_for"] for v in applicable), default=decision.get("inputs", {}).get("unreachable", 0))
    notice.stands_for = decision.get("stands_for", largest) if applicable else largest  # older decisions: largest
    notice.regimes = [v["regime"] for v in applicable]
    notice.posting_days, notice.published_at, notice.published_by = days, now, actor
    notice.ends_at = now + dt.timedelta(days=days) if days else None
    notice.toll_free_phone = next((n for v in versions.values() if (n := _toll_free(v))), None)
    notice.toll_free_ends_at = now + dt.timedelta(days=toll_free_days) if toll_free_days else None
    notice.withdrawn_at = notice.withdrawn_reason = notice.reminded_at = notice.period_ended_at = None
    session.add(notice)
    session.flush()
    _log(session, clock=clock, actor=actor, notice=notice, action="public_notice.published",
         text=f"Public notice published at /notices/{notice.slug} for {plural(notice.stands_for, 'person', 'people')}"
              + (f", posting until {notice.ends_at.date().isoformat()}" if notice.ends_at else "")
              + (f", toll-free number active until {notice.toll_free_ends_at.date().isoformat()}"
                 if notice.toll_free_ends_at else ""))
    session.commit()
    return notice


def withdraw(session: Session, *, clock: Clock, actor: str, incident_id: int, reason: str) -> PublicNotice:
    """Take the public notice down, with a reason; commits. ``InvalidInput`` without a reason."""
    if not reason.strip():
        raise InvalidInput("reason: a reason is required", details=[{"path": "reason", "reason": "empty"}])
    notice = for_incident(session, incident_id=incident_id)
    if notice is None or notice.state != "published":
        raise Conflict("no published public notice to withdraw")
    notice.state, notice.withdrawn_at, notice.withdrawn_reason = "withdrawn", clock.now(), reason.strip()[:500]
    session.add(notice)
    _log(session, clock=clock, actor=actor, notice=notice, action="public_notice.withdrawn",
         text=f"Public notice withdrawn: {notice.withdrawn_reason}")
    session.commit()
    return notice


def _log(session: Session, *, clock: Clock, actor: str, notice: PublicNotice, action: str, text: str) -> None:
    after = {"slug": notice.slug, "state": notice.state, "stands_for": notice.stands_for,
             "versions": notice.versions, "ends_at": notice.ends_at.isoformat() if notice.ends_at else None,
             "toll_free_ends_at": notice.toll_free_ends_at.isoformat() if notice.toll_free_ends_at else None}
    audit.record(session, clock=clock, actor=actor, action=action, entity="public_notice", entity_id=notice.id or 0,
                 incident_id=notice.incident_id, after=after)
    incidents.add_timeline(session, clock=clock, incident_id=notice.incident_id, actor=actor, kind="public_notice",
                           text=text)


def for_incident(session: Session, *, incident_id: int) -> PublicNotice | None:
    """The incident's public notice, if any."""
    return session.execute(select(PublicNotice).where(col(PublicNotice.incident_id) == incident_id)
                           ).scalar_one_or_none()


def published(session: Session, *, limit: int = 100) -> list[PublicNotice]:
    """Published notices, newest first (the public index and feeds)."""
    return list(session.execute(select(PublicNotice).where(col(PublicNotice.state) == "published")
                                .order_by(col(PublicNotice.published_at).desc()).limit(limit)).scalars())


def by_slug(session: Session, *, slug: str) -> PublicNotice:
    """A published notice by slug; ``NotFound`` otherwise (withdrawn ones are gone from the public)."""
    notice: PublicNotice | None = session.execute(
        select(PublicNotice).where(col(PublicNotice.slug) == slug)).scalar_one_or_none()
    if notice is None or notice.state != "published":
        raise NotFound("no such public notice")
    return notice


def body_html(session: Session, *, notice: PublicNotice, locale: str | None) -> tuple[str, str]:
    """``(locale, html of the approved announcement's body)`` for the page, falling back to the default."""
    chosen = locale if locale in notice.versions else notice.default_locale
    version = session.get(NoticeVersion, notice.versions[chosen])
    if version is None:
        raise NotFound("notice version missing")
    html = version.rendered.get("html", "")
    match = re.search(r"<body[^>]*>(.*)</body>", html, re.S | re.I)
    return chosen, (match.group(1) if match else html)


def period_end(notice: PublicNotice) -> dt.datetime | None:
    """When the notice's duties end: the later of its posting period and its toll-free number's period (both
    90 days for HIPAA, 45 CFR 164.404(d)(2)(ii)); None when neither has an end."""
    ends = [t for t in (notice.ends_at, notice.toll_free_ends_at) if t is not None]
    return max(ends, default=None)


def _mark_once(session: Session, notice: PublicNotice, column: Any, now: dt.datetime) -> bool:
    """Set ``column`` to ``now`` only if it is still empty (a conditional UPDATE, so two sweeps, or a sweep
    after a restart, can never both fire); True when this call set it."""
    done = session.execute(update(PublicNotice).where(col(PublicNotice.id) == notice.id, column.is_(None))
                           .values({column: now}))
    session.expire(notice)
    return bool(getattr(done, "rowcount", 0) == 1)


def _period_event(session: Session, *, clock: Clock, notice: PublicNotice, end: dt.datetime, ended: bool) -> None:
    kind = "ended" if ended else "ending"
    _log(session, clock=clock, actor="scheduler", notice=notice, action=f"public_notice.period_{kind}",
         text=(f"Public notice posting period ended {end.isoformat()}: the page may come down"
               if ended else f"Public notice posting period ends {end.isoformat()}: keep it up until then")
         + (f" (toll-free number active until {notice.toll_free_ends_at.isoformat()})"
            if notice.toll_free_ends_at else ""))
    emit(session, clock=clock, event_type=f"public_notice.period_{kind}", incident_id=notice.incident_id,
         ref=f"public_notice:{notice.id}",
         data={"incident_id": notice.incident_id, "public_notice_id": notice.id,
               "ends_at": notice.ends_at.isoformat() if notice.ends_at else None,
               "toll_free_ends_at": notice.toll_free_ends_at.isoformat() if notice.toll_free_ends_at else None,
               "period_ends_at": end.isoformat(), "seconds_left": int((end - clock.now()).total_seconds())})


def sweep(session: Session, *, clock: Clock) -> int:
    """For each published notice with a period (posting, toll-free number): remind once, 7 days before the
    period ends, and record once that it ended (audit, timeline and the ``public_notice.period_ending`` /
    ``public_notice.period_ended`` webhooks, in one transaction each). Once-only holds across restarts and
    concurrent sweeps (``reminded_at`` / ``period_ended_at`` are set by a conditional UPDATE). Returns the
    alerts fired."""
    now, fired = clock.now(), 0
    rows = session.execute(select(PublicNotice).where(col(PublicNotice.state) == "published",
                                                      col(PublicNotice.period_ended_at).is_(None))).scalars().all()
    for notice in rows:
        end = period_end(notice)
        if end is None:
            continue
        for ended, column, due in ((False, col(PublicNotice.reminded_at), end - REMIND_BEFORE),
                                   (True, col(PublicNotice.period_ended_at), end)):
            if not ended and now >= end:
                continue  # the sweep was down until after the end: no "ending" reminder, only the end
            if now >= due and _mark_once(session, notice, column, now):
                _period_event(session, clock=clock, notice=notice, end=end, ended=ended)
                session.commit()
                fired += 1
    return fired
