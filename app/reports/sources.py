"""Reading what a report is built from, through the other domains' public functions: subject counts
(``reach``, counts only), obligations, approved individual notices (sample text) and dispatch outcomes.

A report quotes an approved notice as plain text (a letter's HTML reduced to its visible lines); the bundle
adds the notice as its own PDF, rendered from the version's stored HTML (:func:`notice_html`).

Dispatch (``app.dispatch``) is read only through :func:`dispatch_outcomes`, written defensively: if the
module cannot be imported the report says ``available: false`` with zero counts.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from markupsafe import escape
from sqlalchemy import func, select
from sqlmodel import Session, col

from app.announcements import service as announcements
from app.announcements.scope import Scope, scope_of
from app.clock import Clock
from app.errors import Conflict
from app.incidents import service as incidents
from app.incidents.schema import IncidentFile
from app.notices.models import NoticeState, NoticeVersion
from app.notices.plaintext import html_lines
from app.obligations import service as obligations
from app.playbooks.coverage import matches
from app.playbooks.schema import Playbook
from app.reports.content import Sources
from app.reports.regimes import Counts, DispatchOutcomes
from app.subjects import service as subjects
from app.subjects.models import DataSubject


def _runs(incident_id: int, regime: str | None) -> Any:
    """A select of the ids of the incident's dispatch runs, of ``regime``'s notices only when given."""
    from app.dispatch.models import DispatchRun

    runs = select(col(DispatchRun.id)).where(col(DispatchRun.incident_id) == incident_id)
    return runs if regime is None else runs.where(col(DispatchRun.regime) == regime)


def dispatch_outcomes(session: Session, *, incident_id: int, regime: str | None = None) -> DispatchOutcomes:
    """Deliveries of the incident's dispatch runs that sent ``regime``'s notices (None: every run):
    ``{channel: {state: n}}`` (deliveries, so a person's email and letter are two), distinct people with a
    ``delivered`` notice and those people by jurisdiction (ISO 3166 code or ``unknown``). A regulator's report
    counts its own regime's notices only: a California notice delivered is no HIPAA individual notice (45 CFR
    164.408(c) asks about the notice of 164.404). Zeros with ``available=False`` when ``app.dispatch`` is not
    importable."""
    try:
        from app.dispatch.models import Delivery
    except ImportError:  # the dispatch work is not in this tree: report the field, empty
        return DispatchOutcomes(available=False, by_channel={}, people_notified=0)
    runs = _runs(incident_id, regime)
    rows = session.execute(select(col(Delivery.channel), col(Delivery.state), func.count())
                           .where(col(Delivery.run_id).in_(runs)).group_by(col(Delivery.channel),
                                                                           col(Delivery.state))).all()
    by_channel: dict[str, dict[str, int]] = {}
    for channel, state, n in rows:
        by_channel.setdefault(str(channel), {})[str(state)] = int(n)
    notified = select(col(Delivery.subject_id)).where(col(Delivery.run_id).in_(runs),
                                                      col(Delivery.state) == "delivered").distinct().subquery()
    by_place = session.execute(select(col(DataSubject.jurisdiction), func.count())
                               .join(notified, notified.c.subject_id == col(DataSubject.id))
                               .group_by(col(DataSubject.jurisdiction))).all()
    places = {str(code or "unknown"): int(n) for code, n in by_place}
    return DispatchOutcomes(available=True, by_channel=by_channel, people_notified=sum(places.values()),
                            notified_by_jurisdiction=dict(sorted(places.items())))


def first_notice_on(session: Session, *, incident_id: int, regime: str | None = None) -> dt.date | None:
    """The day (UTC) the first individual notice of ``regime`` (None: any) was sent for the incident (HHS form
    section 4, individual notice date), or None; None too when ``app.dispatch`` is absent."""
    try:
        from app.dispatch.models import Delivery
    except ImportError:  # the dispatch work is not in this tree
        return None
    runs = _runs(incident_id, regime)
    first = session.execute(select(func.min(col(Delivery.sent_at))).where(col(Delivery.run_id).in_(runs))).scalar()
    return first.date() if first is not None else None


def counts(session: Session, *, incident_id: int, document: dict[str, Any], scope: Scope | None = None) -> Counts:
    """People affected: the class size (``subjects.affected(...).class_size``, the larger of the imported
    people and the incident file's count, as the legal size tests use it), so a partial import never understates
    the number a regulator is given; ``is_estimate`` while it rests on the file's estimate (nobody imported and
    the file says ``count_is_estimate``, or fewer imported than the file estimates). ``by_jurisdiction``: the
    subject registry's people when subjects are linked (after a partial import, per place the larger of them
    and the file's estimate), else the file's estimate.

    ``scope``: whom the report's regime covers (``app.announcements.scope.scope_of``); ``regime_people`` counts
    them: everyone, or the residents whose jurisdiction the scope matches (a controller established outside
    the EU reports its EU residents under GDPR Art. 3(2) and 33(3)(a), not its whole customer base). None
    (no playbook): everyone."""
    affected = subjects.affected(session, incident_id=incident_id)
    est = document.get("subjects") or {}
    if not affected.is_estimate:
        by_jurisdiction = dict(subjects.reach(session, incident_id=incident_id).by_jurisdiction)
        estimate, source = affected.imported < affected.estimate, "subject_registry"
        if estimate:  # a partial import: no place's number falls below the file's estimate for it either
            filed = {str(code): int(n) for code, n in (est.get("by_jurisdiction") or {}).items()}
            by_jurisdiction = {code: max(by_jurisdiction.get(code, 0), filed.get(code, 0))
                               for code in sorted(set(by_jurisdiction) | set(filed))}
    else:
        by_jurisdiction = dict(est.get("by_jurisdiction") or {})
        estimate, source = bool(est.get("count_is_estimate", True)), "incident_estimate"
    if scope is None or scope.everyone:
        regime_people, who = affected.class_size, "people"
    else:
        regime_people = sum(n for code, n in by_jurisdiction.items() if matches(code, list(scope.patterns)))
        who = scope.who
    return Counts(people=affected.class_size, is_estimate=estimate, source=source, by_jurisdiction=by_jurisdiction,
                  regime_people=regime_people, regime_scope=who)


def approved_notices(session: Session, *, incident_id: int) -> dict[str, dict[str, Any]]:
    """Per regime, the newest approved individual notice (letter, else email) rendered for the sample
    recipient: ``{id, channel, locale, rendered_sha256, approved_at, text}``. No real recipient data."""
    rows = session.execute(select(NoticeVersion).where(
        col(NoticeVersion.incident_id) == incident_id, col(NoticeVersion.audience) == "individuals",
        col(NoticeVersion.state) == NoticeState.approved.value)).scalars().all()
    rank = {"letter": 0, "email": 1}
    out: dict[str, dict[str, Any]] = {}
    for v in sorted(rows, key=lambda v: (rank.get(v.channel, 9), -(v.id or 0))):
        if v.regime in out or v.channel not in rank:
            continue
        text = notice_text(v.rendered)
        out[v.regime] = {"id": v.id, "channel": v.channel, "locale": v.locale, "rendered_sha256": v.rendered_sha256,
                         "approved_at": v.approved_at.isoformat() if v.approved_at else None, "text": text}
    return out


def notice_text(rendered: Mapping[str, str]) -> str:
    """A rendered notice as plain text: its ``text`` part (email), else the visible lines of its ``html``
    (a letter: title, headings and paragraphs one per line; no markup, styles or head)."""
    return rendered.get("text") or "\n".join(html_lines(rendered.get("html") or ""))


def notice_html(session: Session, *, notice: Mapping[str, Any]) -> str:
    """The HTML of the approved notice a report quotes (``{id, rendered_sha256, ...}``), for its PDF: the
    version's stored sample rendering (a letter's own HTML; plain text in ``<pre>`` when it has none).
    ``Conflict`` when the version is gone or its rendering no longer has the SHA-256 the report recorded."""
    version = session.get(NoticeVersion, notice.get("id"))
    if version is None or version.rendered_sha256 != notice.get("rendered_sha256"):
        raise Conflict(f"notice version {notice.get('id')} quoted by the report is gone or was changed")
    html = version.rendered.get("html")
    if html:
        return html
    return (f'<!doctype html><html lang="{escape(version.locale)}"><head><meta charset="utf-8">'
            f"<title>{escape(version.rendered.get('subject') or 'Notice')}</title></head>"
            f"<body><pre style=\"white-space: pre-wrap\">{escape(notice_text(version.rendered))}</pre></body></html>")


def public_notice(session: Session, *, incident_id: int) -> dict[str, Any] | None:
    """The incident's public notice page as the reports see it (no personal data), or None."""
    notice = announcements.for_incident(session, incident_id=incident_id)
    if notice is None:
        return None
    return {"slug": notice.slug, "state": notice.state, "published_at": notice.published_at,
            "ends_at": notice.ends_at, "stands_for": notice.stands_for, "regimes": list(notice.regimes)}


def gather(session: Session, *, clock: Clock, incident_id: int, regime: str | None = None,
           playbook: Playbook | None = None, substitute: Mapping[str, Any] | None = None) -> Sources:
    """The ``Sources`` snapshot of an incident now, for a report of ``regime`` (its ``playbook`` sets whom the
    counts cover; dispatch outcomes are that regime's runs). ``substitute``: the live substitute-notice
    decision (``app.announcements.service.decide_for``); None reads the stored one. ``NotFound`` when the
    incident does not exist."""
    incident = incidents.get(session, incident_id=incident_id)
    document = dict(incident.document)
    scope = scope_of(playbook, IncidentFile.model_validate(document)) if playbook is not None else None
    rows = [{"regime": o.regime, "audience": o.audience, "part": o.part, "required": o.required,
             "status": o.status, "due_at": o.due_at}
            for o in obligations.for_incident(session, incident_id=incident_id)]
    return Sources(incident_id=incident_id, document=document,
                   counts=counts(session, incident_id=incident_id, document=document, scope=scope),
                   dispatch=dispatch_outcomes(session, incident_id=incident_id, regime=regime), obligations=rows,
                   notices=approved_notices(session, incident_id=incident_id), today=clock.now().date(),
                   substitute=substitute if substitute is not None else announcements.latest_decision(
                       session, incident_id=incident_id),
                   public_notice=public_notice(session, incident_id=incident_id),
                   first_notice_on=first_notice_on(session, incident_id=incident_id, regime=regime))
