"""Whom each regime's substitute-notice tests count, and their counts (``RegimeCounts``).

A regime's substitute-notice tests are about the people THAT regime requires to be notified individually:

- US state laws count their residents: Cal. Civ. Code 1798.82(j)(3) (cost of notice over $250,000, more than
  500,000 people, insufficient contact information: of the California residents the business must notify),
  Fla. Stat. 501.171(4)(f), N.Y. GBL 899-aa(5)(d), Tex. Bus. & Com. Code 521.053(f), M.G.L. c. 93H s. 1,
  RCW 19.255.010(4). Their playbooks apply by ``applies.subject_residence`` only.
- HIPAA counts every individual whose unsecured PHI the covered entity breached, wherever they live
  (45 CFR 164.404(a)(1), (d)(2); the playbook's HHS threshold counts the ``total`` too): a playbook that
  applies to HIPAA covered entities (``applies.hipaa_covered_entity``) covers everyone.
- GDPR Art. 34(3)(c) counts the regime's data subjects: everyone when the controller is established where the
  regime applies (Art. 3(1), "regardless of whether the processing takes place in the Union"), else the
  subjects resident there (Art. 3(2)). The same holds for the other regimes with an ``applies.establishment``.

A person belongs to a residence-scoped regime when their resolved jurisdiction matches the playbook's
``applies.subject_residence`` (``app.playbooks.coverage.matches``, as the assessment applies it); people whose
jurisdiction is unknown count only for the regimes that cover everyone.

Counting is set-based: one grouped query over the incident's people (by jurisdiction, contact flags and
whether a dispatch run left them in the substitute pool), whatever the incident's size.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session, col

from app.announcements.decision import WHOLE_BASES, Counts, RegimeCounts, RegimeVerdict
from app.dispatch.models import DELIVERED, SENT, Delivery, DispatchRun, SubstitutePoolEntry
from app.incidents import service as incidents
from app.incidents.schema import IncidentFile
from app.letters.costs import with_letter_cost
from app.playbooks.coverage import matches
from app.playbooks.schema import Playbook
from app.subjects.models import DataSubject, IncidentSubject
from app.subjects.subdivisions import SUBDIVISION_NAMES

CHANNEL_FLAGS = (("email", "has_email"), ("push", "has_push"), ("sms", "has_phone"), ("letter", "has_postal"))
"""Channels and the ``DataSubject`` flag that makes each usable."""


def cheapest(unit_costs: Mapping[str, float], flags: Iterable[bool]) -> float:
    """The unit cost of a person's cheapest usable channel (``flags`` in ``CHANNEL_FLAGS`` order); 0 when no
    channel is usable (nothing can be spent on individual notice to them)."""
    usable = [unit_costs.get(channel, 0.0) for (channel, _), has in zip(CHANNEL_FLAGS, flags, strict=True) if has]
    return min(usable, default=0.0)


@dataclass(frozen=True)
class Scope:
    """The people a regime counts: ``everyone`` of the incident, or the residents ``patterns`` match."""

    everyone: bool
    patterns: tuple[str, ...]
    who: str


def _residents(patterns: Sequence[str], regime: str) -> str:
    """"California residents" for a single subdivision; else "residents of US-CA, US-NV" or, for long lists
    (the EU/EEA), "residents where eu-gdpr applies"."""
    if len(patterns) == 1 and "-" in patterns[0] and not any(ch in patterns[0] for ch in "*?["):
        country, _, part = patterns[0].partition("-")
        names = SUBDIVISION_NAMES.get(country, {}).get(part)
        if names:
            return f"{names[0]} residents"
    if len(patterns) <= 3:
        return "residents of " + ", ".join(patterns)
    return f"residents where {regime} applies"


def scope_of(playbook: Playbook, incident: IncidentFile) -> Scope:
    """Whom ``playbook``'s substitute-notice tests count for ``incident`` (module docstring for the law)."""
    applies = playbook.applies
    if applies.hipaa_covered_entity or matches(incident.controller.establishment, applies.establishment):
        return Scope(True, (), "people")
    return Scope(False, tuple(applies.subject_residence), _residents(applies.subject_residence, playbook.id))


@dataclass(frozen=True)
class _Group:
    jurisdiction: str | None
    flags: tuple[bool, ...]
    unreachable: bool
    people: int


def left_unreached(incident_id: int) -> Any:
    """A select of the ids (column ``sid``) of people a dispatch run of the incident left to the substitute
    notice (its pool: no usable contact on the run's channels, or every channel failed) and whom no delivery of
    any of the incident's runs reached (none ``sent`` or ``delivered``): a person pooled by one regime's run
    but reached by another's is not unreachable."""
    reached = select(col(Delivery.subject_id)).join(DispatchRun, col(DispatchRun.id) == col(Delivery.run_id)).where(
        col(DispatchRun.incident_id) == incident_id, col(Delivery.state).in_((SENT, DELIVERED)))
    return select(col(SubstitutePoolEntry.subject_id).label("sid")).where(
        col(SubstitutePoolEntry.incident_id) == incident_id, col(SubstitutePoolEntry.subject_id).not_in(reached))


def _groups(session: Session, incident_id: int) -> list[_Group]:
    """The incident's people grouped by jurisdiction, contact flags and whether dispatch left them unreached
    (:func:`left_unreached`): one query, a few rows per jurisdiction."""
    pooled: Any = left_unreached(incident_id).distinct().subquery()
    flags = [col(getattr(DataSubject, f)) for _, f in CHANNEL_FLAGS]
    in_pool = pooled.c.sid.is_not(None)
    rows = session.execute(
        select(col(DataSubject.jurisdiction), *flags, in_pool, func.count())
        .join(IncidentSubject, col(IncidentSubject.subject_id) == col(DataSubject.id))
        .outerjoin(pooled, pooled.c.sid == col(DataSubject.id))
        .where(col(IncidentSubject.incident_id) == incident_id)
        .group_by(col(DataSubject.jurisdiction), *flags, in_pool)).all()
    groups = []
    for code, *has, pool, people in rows:
        reachable = tuple(bool(h) for h in has)
        groups.append(_Group(code, reachable, bool(pool) or not any(reachable), int(people)))
    return groups


def _residents_counts(groups: Sequence[_Group], scope: Scope, unit_costs: Mapping[str, float]) -> RegimeCounts:
    mine = [g for g in groups if matches(g.jurisdiction, list(scope.patterns))]
    cost = sum(cheapest(unit_costs, g.flags) * g.people for g in mine)
    return RegimeCounts(sum(g.people for g in mine), sum(g.people for g in mine if g.unreachable), round(cost, 2),
                        who=scope.who, scope="residents", source="subjects")


class Population:
    """The people of one incident as one substitute-notice decision sees them: each regime's ``Scope`` and the
    grouped people (``_groups``), each worked out once however many questions the decision asks."""

    def __init__(self, session: Session, *, incident_id: int, playbooks: Mapping[str, Playbook],
                 regimes: Iterable[str]) -> None:
        self._session, self._incident_id = session, incident_id
        self.document = IncidentFile.model_validate(incidents.get(session, incident_id=incident_id).document)
        self.scopes = {r: scope_of(playbooks[r], self.document) for r in regimes if r in playbooks}
        self._grouped: list[_Group] | None = None

    def groups(self) -> list[_Group]:
        """The grouped people (one query, on first use)."""
        if self._grouped is None:
            self._grouped = _groups(self._session, self._incident_id)
        return self._grouped

    def resolved(self) -> bool:
        """True once an imported person has a resolved jurisdiction (before that, people cannot be told apart
        by where they live)."""
        return any(g.jurisdiction is not None for g in self.groups())

    def regime_counts(self, *, unit_costs: Mapping[str, float], overall: Counts) -> dict[str, RegimeCounts]:
        """Each regime's counts (those without a playbook are left out).

        A regime that covers everyone gets ``overall`` (``app.announcements.service.counts``: the class size,
        the unreachable people, the cost of individual notice). A residence-scoped regime gets its residents
        among the imported people: ``total`` those whose resolved jurisdiction it matches; ``unreachable``
        those of them with no usable contact or left in a dispatch run's substitute pool (as
        ``unreachable_count``); ``individual_cost`` each of them by their cheapest usable channel (as
        ``individual_cost``). Before any imported person has a resolved jurisdiction it falls back, as the
        assessment does (``app.incidents.flows.reassess``), to the incident file's ``subjects.by_jurisdiction``
        estimate for ``total``, with nobody unreachable and no cost (``source`` ``estimate``).
        """
        result = {r: RegimeCounts(overall.total, overall.unreachable, overall.individual_cost)
                  for r, s in self.scopes.items() if s.everyone}
        residence = {r: s for r, s in self.scopes.items() if not s.everyone}
        if not residence:
            return result
        if self.resolved():
            costs = with_letter_cost(self._session, incident_id=self._incident_id, unit_costs=unit_costs)
            return result | {r: _residents_counts(self.groups(), s, costs) for r, s in residence.items()}
        estimate = self.document.subjects.by_jurisdiction
        return result | {r: RegimeCounts(sum(n for code, n in estimate.items() if matches(code, list(s.patterns))),
                                         0, 0.0, who=s.who, scope="residents", source="estimate")
                         for r, s in residence.items()}

    def stands_for(self, verdicts: Sequence[RegimeVerdict], overall: Counts) -> int:
        """People one public notice stands in for across every regime that allows it: the union of the
        regimes' people, not the largest regime's count (a notice for California's and Texas's unreachable
        residents stands in for both). A regime whose notice is justified by cost or class size stands in for
        all its people, otherwise for its unreachable ones (``app.announcements.decision``). 0 when no regime
        allows it. Before any imported person has a resolved jurisdiction: the largest regime's
        ``stands_for``."""
        allowed = [v for v in verdicts if v.allowed and v.regime in self.scopes]
        if not allowed:
            return 0
        scoped = [(self.scopes[v.regime], bool(WHOLE_BASES & set(v.basis))) for v in allowed]
        if any(scope.everyone and whole for scope, whole in scoped):
            return overall.total
        if not self.resolved():
            return max(v.stands_for for v in allowed)
        return sum(g.people for g in self.groups() if any(
            (scope.everyone or matches(g.jurisdiction, list(scope.patterns))) and (whole or g.unreachable)
            for scope, whole in scoped))
