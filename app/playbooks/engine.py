"""The obligation engine: incident facts + subject counts + playbooks + clock -> obligations.

``assess`` is pure and deterministic. For every regime that applies it returns one obligation per
audience the playbook regulates, required or not, with recipient, due time (UTC), reasons and
citations; the result is the union across regimes and across breach types. A severity score (ENISA
2013) and the general risk assessment travel beside the obligations as advisory evidence.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import operator
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass

from app.incidents.schema import IncidentFile
from app.playbooks.calendar import add_period, calendar_year_end
from app.playbooks.coverage import Applicability, BreachDecision, applicability, breach_test
from app.playbooks.risk import RiskAssessment, RiskLevel, assess_risk
from app.playbooks.schema import (
    AudienceName,
    AudienceRule,
    Clock,
    Condition,
    ObligationRef,
    Part,
    Playbook,
    StartEvent,
    Threshold,
    ThresholdScope,
    holiday_calendar,
)
from app.playbooks.severity import Severity, enisa_severity
from app.wording import plural

_OPERATORS = {">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le}
_START_PHRASE = {
    StartEvent.awareness: "awareness (aware_at)",
    StartEvent.discovery: "discovery (aware_at)",
    StartEvent.determination: "determination of the breach (taken as aware_at)",
    StartEvent.calendar_year_end: "the end of the calendar year of discovery",
}


@dataclass(frozen=True)
class PartResult:
    """One separately timed duty of an obligation (e.g. HHS immediate notice or annual log)."""

    name: str
    required: bool
    recipient: str
    due_at: dt.datetime | None
    reasons: tuple[str, ...]
    citations: tuple[str, ...]


@dataclass(frozen=True)
class Obligation:
    """A duty (or a considered non-duty) to notify one audience under one regime.

    ``due_at`` is aware UTC or None where the law sets no fixed period; ``state`` is ``due``,
    ``overdue``, ``no_deadline`` or ``not_required`` relative to the assessment's ``now``.
    """

    regime: str
    audience: str
    required: bool
    recipient: str
    due_at: dt.datetime | None
    reasons: tuple[str, ...]
    citations: tuple[str, ...]
    state: str
    parts: tuple[PartResult, ...]


@dataclass(frozen=True)
class Assessment:
    """The decision: severity (advisory), general risk per breach type, and the obligations."""

    severity: Severity
    risk: RiskAssessment
    obligations: tuple[Obligation, ...]
    now: dt.datetime


@dataclass(frozen=True)
class _Regime:
    playbook: Playbook
    scope: Applicability
    decision: BreachDecision


def _unique(items: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


class _Evaluator:
    """Evaluates obligations on demand, so that clocks may start from other obligations' due times."""

    def __init__(self, incident: IncidentFile, playbooks: Mapping[str, Playbook], counts: Mapping[str, int],
                 imported: int | None = None):
        self.incident = incident
        self.counts = dict(counts)
        # the class size: as app.subjects.service.Affected.class_size once subjects are imported
        self.total = max(incident.subjects.count, sum(self.counts.values()) if imported is None else imported)
        self.risk = assess_risk(incident, self.total)
        self.regimes: dict[str, _Regime] = {}
        for rid in sorted(playbooks):
            pb = playbooks[rid]
            scope = applicability(pb, incident, self.counts)
            if scope.applies:
                self.regimes[rid] = _Regime(pb, scope, breach_test(pb, incident, self.risk))
        self._done: dict[tuple[str, str], Obligation] = {}

    def obligations(self) -> list[Obligation]:
        return [
            self.obligation(rid, rule.audience.value)
            for rid, reg in self.regimes.items()
            for rule in reg.playbook.audiences
        ]

    def lookup(self, ref: ObligationRef) -> tuple[bool, dt.datetime | None]:
        """Whether the referenced obligation (or part) is required, and its due time."""
        if ref.regime not in self.regimes or self.regimes[ref.regime].playbook.audience(ref.audience) is None:
            return False, None
        ob = self.obligation(ref.regime, ref.audience.value)
        if ref.part is None:
            return ob.required, ob.due_at
        part = next((p for p in ob.parts if p.name == ref.part), None)
        return (part.required, part.due_at) if part else (False, None)

    def obligation(self, rid: str, audience: str) -> Obligation:
        key = (rid, audience)
        if key not in self._done:
            reg = self.regimes[rid]
            rule = reg.playbook.audience(AudienceName(audience))
            assert rule is not None
            self._done[key] = self._build(reg, rule)
        return self._done[key]

    def _build(self, reg: _Regime, rule: AudienceRule) -> Obligation:
        parts = tuple(self._part(reg, rule, part) for part in rule.rules())
        required = any(p.required for p in parts)
        chosen = [p for p in parts if p.required] or list(parts)
        reasons = list(reg.scope.reasons) + [r for p in chosen for r in p.reasons]
        citations = [c for p in chosen for c in p.citations]
        if required:
            required, extra, cites = self._deemed(rule)
            reasons += extra
            citations += cites
        if not required:
            found = self.risk.factors_for(reg.decision.types or self.risk.affected())
            for exemption in rule.exemptions:
                if exemption.factor in found:
                    reasons.append(exemption.reason)
                    citations.append(exemption.citation)
        reasons += self._substitute(reg, rule)
        dues = [p.due_at for p in parts if p.required and p.due_at is not None]
        due = min(dues) if required and dues else None
        # parts name their recipients as "A; B; C": each one once, in order ("New York Attorney General" is both a
        # part of "New York Attorney General; Department of State; ..." and the recipient of another part)
        recipient = "; ".join(_unique([name for p in chosen for name in p.recipient.split("; ")]))
        shown = parts if len(parts) > 1 else ()
        return Obligation(
            reg.playbook.id, rule.audience.value, required, recipient, due,
            _unique(reasons), _unique(citations), "", shown,
        )  # fmt: skip

    def _substitute(self, reg: _Regime, rule: AudienceRule) -> list[str]:
        sub = rule.substitute_notice
        if sub is None or sub.class_size_over is None:
            return []
        number = sum(reg.scope.residents.values()) or self.total
        if number > sub.class_size_over:
            return [f"substitute notice available: {plural(number, 'person', 'people')} > {sub.class_size_over}"]
        return [f"substitute notice only if: {'; '.join(sub.when)} ({plural(number, 'person', 'people')} affected)"]

    def _deemed(self, rule: AudienceRule) -> tuple[bool, list[str], list[str]]:
        for deemed in rule.deemed_satisfied_by:
            other_required, _ = self.lookup(deemed.by)
            if other_required:
                why = f"satisfied by the {deemed.by.audience.value} notice under {deemed.by.regime}"
                return False, [why], [deemed.citation]
        return True, [], []

    def _part(self, reg: _Regime, rule: AudienceRule, part: Part) -> PartResult:
        recipient = (part.recipient or rule.recipient).replace("{lead}", reg.scope.lead)
        recipient = recipient.replace("{jurisdictions}", ", ".join(reg.scope.residents) or reg.scope.lead)
        met, reasons = self._condition(reg, part)
        if met and part.threshold is not None:
            met, why, over = self._threshold(reg, part.threshold)
            reasons.append(why)
            if over:  # a threshold on the total names no jurisdiction: the general wording below
                recipient = recipient.replace("{over}", ", ".join(over))
        recipient = recipient.replace("{over}", "each state over the threshold")
        due = None
        if met:
            due, why = self._due(reg, part)
            reasons.append(why)
        return PartResult(part.name, met, recipient, due, tuple(reasons), tuple(part.citations))

    def _condition(self, reg: _Regime, part: Part) -> tuple[bool, list[str]]:
        when, decision = part.required_when, reg.decision
        aware = self.incident.aware_at.date()
        if part.effective_from and aware < part.effective_from:
            return False, [f"{part.name}: in force only from {part.effective_from}"]
        if when == Condition.always:
            return True, [f"{part.name}: required for every breach"]
        if when == Condition.never:
            return False, [f"{part.name}: an option, not a duty"]
        if when == Condition.obligation_required:
            assert part.ref is not None
            required, _ = self.lookup(part.ref)
            state = "is" if required else "is not"
            return required, [f"{part.name}: {part.ref.regime} {part.ref.audience.value} notice {state} required"]
        if when == Condition.harm_exception_used:
            return decision.harm_exception_used, list(decision.reasons)
        if when == Condition.any_breach:
            return decision.covered, list(decision.reasons)
        if not decision.notifiable or when == Condition.notifiable:
            return decision.notifiable, list(decision.reasons)
        return self._risk_condition(reg, when)

    def _risk_condition(self, reg: _Regime, when: Condition | None) -> tuple[bool, list[str]]:
        types = reg.decision.types
        level = self.risk.level_for(types)
        needed = RiskLevel.high if when == Condition.high_risk else RiskLevel.risk
        reasons = self.risk.reasons_for(types)
        if level.rank >= needed.rank:
            return True, [*reasons, f"risk level {level.value}"]
        label = "unlikely to result in a risk" if level == RiskLevel.none else "not likely to result in a high risk"
        return False, [*reasons, f"risk level {level.value}: {label}"]

    def _threshold(self, reg: _Regime, threshold: Threshold) -> tuple[bool, str, list[str]]:
        test = _OPERATORS[threshold.operator]
        rule = f"{threshold.operator} {threshold.value}"
        if threshold.scope == ThresholdScope.any_single_jurisdiction:
            over = [c for c, n in reg.scope.residents.items() if test(n, threshold.value)]
            counts = ", ".join(f"{c} {n}" for c, n in reg.scope.residents.items()) or "none"
            verdict = f"residents of a single jurisdiction {rule}: " + (", ".join(over) or "none")
            return bool(over), f"{verdict} (residents: {counts})", over
        if threshold.scope == ThresholdScope.total:
            number = self.total
            what = plural(number, "individual") + " in total"
        else:
            number = sum(reg.scope.residents.values())
            what = plural(number, "resident") + " of " + (", ".join(reg.scope.residents) or "the jurisdiction")
        holds = bool(test(number, threshold.value))
        return holds, f"{what}: {rule} {'holds' if holds else 'does not hold'}", []

    def _due(self, reg: _Regime, part: Part) -> tuple[dt.datetime | None, str]:
        aware = self.incident.aware_at
        in_force = [c for c in part.clocks if c.effective_from is None or c.effective_from <= aware.date()]
        if not in_force:
            return None, part.no_deadline or f"no fixed deadline in force on {aware.date()}"
        clock = max(in_force, key=lambda c: c.effective_from or dt.date.min)
        start, phrase = self._start(reg, clock)
        if start is None:
            return None, f"starts when {phrase} is due, which has no fixed date"
        cal = reg.playbook.calendar
        zone = zoneinfo.ZoneInfo(cal.timezone)
        hols = holiday_calendar(cal.holidays_country, cal.holidays_subdivision)
        due = add_period(start, unit=clock.unit, amount=clock.amount, zone=zone, holidays=hols)
        where = "" if clock.unit.value == "hours" else f", {cal.timezone}"
        unit = clock.unit.value.replace("_", " ")  # "hours", "calendar days", "business days"
        when = f"{plural(clock.amount, unit[:-1], unit)} after {phrase}{where}"
        ext = "".join(f"; extension: {e.reason}" for e in clock.extensions)
        return due, f"due {when} [{clock.citation}]{ext}"

    def _start(self, reg: _Regime, clock: Clock) -> tuple[dt.datetime | None, str]:
        aware = self.incident.aware_at
        if clock.starts_at == StartEvent.obligation_due:
            assert clock.after is not None
            _, due = self.lookup(clock.after)
            ref = clock.after
            return due, f"the {ref.regime} {ref.audience.value}" + (f" ({ref.part})" if ref.part else "") + " notice"
        if clock.starts_at == StartEvent.calendar_year_end:
            zone = zoneinfo.ZoneInfo(reg.playbook.calendar.timezone)
            return calendar_year_end(aware, zone), _START_PHRASE[clock.starts_at]
        return aware, _START_PHRASE[clock.starts_at]


def _state(ob: Obligation, now: dt.datetime) -> str:
    if not ob.required:
        return "not_required"
    if ob.due_at is None:
        return "no_deadline"
    return "overdue" if now > ob.due_at else "due"


def assess(
    *,
    incident: IncidentFile,
    playbooks: Mapping[str, Playbook],
    now: dt.datetime,
    jurisdiction_counts: Mapping[str, int] | None = None,
    imported: int | None = None,
) -> Assessment:
    """Decide every notification obligation for ``incident``.

    ``jurisdiction_counts`` (resolved from imported subjects, ISO 3166 code -> people) replaces
    ``incident.subjects.by_jurisdiction`` when given. ``imported`` (data subjects linked to the incident,
    unknown jurisdictions included) counts in the total with the file's ``subjects.count`` (the larger wins),
    instead of the sum of the jurisdiction counts. ``now`` (aware) only sets each obligation's
    ``state``. Raises ``ValueError`` for a naive ``now``.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    counts = incident.subjects.by_jurisdiction if jurisdiction_counts is None else jurisdiction_counts
    evaluator = _Evaluator(incident, playbooks, counts, imported)
    obligations = tuple(dataclasses.replace(ob, state=_state(ob, now)) for ob in evaluator.obligations())
    return Assessment(enisa_severity(incident), evaluator.risk, obligations, now.astimezone(dt.UTC))
