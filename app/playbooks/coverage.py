"""Does a regime apply, and is the breach one it makes notifiable?

``applicability`` reads the playbook's ``applies`` block (residence of subjects, establishment, sector,
HIPAA status, dates in force). ``breach_test`` reads ``covered_data`` and ``breach_test``: the breach
types the regime counts, the trigger (access or acquisition), covered data elements (e.g. name plus
government id in US states), the encryption safe harbour and the regime's harm test.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
from collections.abc import Mapping
from dataclasses import dataclass, field

from app.incidents.schema import IncidentFile
from app.playbooks.risk import RiskAssessment, RiskLevel
from app.playbooks.schema import BreachType, CoveredData, CoveredElement, Playbook, RiskTest

_INADVERTENT_CAUSES = frozenset({"insider_error", "misdelivery"})


def matches(code: str | None, patterns: list[str]) -> bool:
    """True when an ISO 3166 code matches one of ``patterns`` (``US-*`` style globs)."""
    return code is not None and any(fnmatch.fnmatchcase(code, p) for p in patterns)


@dataclass(frozen=True)
class Applicability:
    """Whether a regime applies, why, and the residents it covers per jurisdiction."""

    applies: bool
    reasons: tuple[str, ...]
    residents: Mapping[str, int] = field(default_factory=dict)
    lead: str = ""


def applicability(pb: Playbook, incident: IncidentFile, counts: Mapping[str, int]) -> Applicability:
    """Apply ``pb`` by residence or establishment, then by sector and HIPAA status and dates in force."""
    aware = incident.aware_at.date()
    if pb.status != "in_force":
        return Applicability(False, (f"{pb.id} is not in force (status {pb.status})",))
    if pb.effective_from and aware < pb.effective_from:
        return Applicability(False, (f"{pb.id} in force only from {pb.effective_from}",))
    scope, ctrl = pb.applies, incident.controller
    residents = {c: n for c, n in sorted(counts.items()) if n > 0 and matches(c, scope.subject_residence)}
    established = matches(ctrl.establishment, scope.establishment)
    if not residents and not established:
        return Applicability(False, ("no subjects resident and no establishment in scope",))
    if scope.sectors and ctrl.sector not in scope.sectors:
        return Applicability(False, (f"controller sector {ctrl.sector} not in scope",))
    if scope.hipaa_covered_entity is not None and ctrl.hipaa_covered_entity != scope.hipaa_covered_entity:
        return Applicability(False, ("controller is not a HIPAA covered entity or business associate",))
    reasons = []
    if residents:
        reasons.append("subjects resident in " + ", ".join(f"{c} ({n})" for c, n in residents.items()))
    if established:
        reasons.append(f"controller established in {ctrl.establishment}")
    if scope.hipaa_covered_entity:
        reasons.append("controller is a HIPAA covered entity or business associate")
    lead = ctrl.establishment if established and ctrl.establishment else ", ".join(residents)
    return Applicability(True, ("applies: " + "; ".join(reasons),), residents, lead)


@dataclass(frozen=True)
class BreachDecision:
    """The regime's breach test.

    ``covered``: a breach type and data the regime counts; ``notifiable``: covered, no safe harbour and
    the harm test not met; ``harm_exception_used``: excused only by the harm test.
    """

    covered: bool
    notifiable: bool
    harm_exception_used: bool
    types: tuple[BreachType, ...]
    reasons: tuple[str, ...]
    citations: tuple[str, ...] = ()


def _in_force(element: CoveredElement, on: dt.date) -> bool:
    return element.effective_from is None or element.effective_from <= on


def covered_data(spec: CoveredData, incident: IncidentFile) -> tuple[bool, str]:
    """Whether the exposed data categories are covered information, and which combination made it so."""
    categories = {str(c) for c in incident.data_categories}
    if spec.any_personal_data:
        return bool(categories), "personal data affected" if categories else "no personal data listed"
    on = incident.aware_at.date()
    exempt = {"credentials"} if incident.protection.hashed else set()
    standalone = sorted({str(e.category) for e in spec.standalone if _in_force(e, on)} & categories - exempt)
    if standalone:
        return True, f"covered data: {', '.join(standalone)}"
    identifiers = sorted({str(c) for c in spec.identifiers} & categories)
    elements = sorted({str(e.category) for e in spec.elements if _in_force(e, on)} & categories)
    if identifiers and elements:
        return True, f"covered data: {identifiers[0]} with {', '.join(elements)}"
    return False, "no covered data elements (" + (", ".join(sorted(categories)) or "none") + ")"


def _types_in_play(pb: Playbook, incident: IncidentFile, risk: RiskAssessment) -> list[BreachType]:
    test, c = pb.breach_test, incident.confidentiality
    affected = risk.affected()
    types = [t for t in test.breach_types if t in affected]
    if BreachType.confidentiality in types and test.confidentiality_trigger == "acquisition":
        acquired = str(c.recipients) != "none" or c.exfiltrated is not False or c.accounts_accessed
        if not acquired:
            types.remove(BreachType.confidentiality)
    malicious_outage = test.malicious_availability_counts and incident.malicious
    if malicious_outage and BreachType.availability in affected and BreachType.availability not in types:
        types.append(BreachType.availability)
    return types


def breach_test(pb: Playbook, incident: IncidentFile, risk: RiskAssessment) -> BreachDecision:
    """Apply the playbook's breach test to ``incident`` given the general ``risk``."""
    test, p = pb.breach_test, incident.protection
    cites = tuple(test.citations)
    types = _types_in_play(pb, incident, risk)
    if not types:
        wanted = "/".join(t.value for t in test.breach_types)
        why = f"no {wanted} breach counted by this regime ({test.confidentiality_trigger} trigger)"
        return BreachDecision(False, False, False, (), (why,), cites)
    if incident.protection.medium not in pb.covered_data.media:
        return BreachDecision(False, False, False, tuple(types), (f"{p.medium} records not covered",), cites)
    ok, data_reason = covered_data(pb.covered_data, incident)
    if not ok:
        return BreachDecision(False, False, False, tuple(types), (data_reason,), cites)
    reasons = [f"{'/'.join(t.value for t in types)} breach", data_reason]
    if test.encryption_safe_harbour and p.encrypted and not p.key_compromised and str(p.medium) == "electronic":
        reasons.append("data encrypted and key not compromised: safe harbour")
        return BreachDecision(True, False, False, tuple(types), tuple(reasons), cites)
    return _harm_test(pb, incident, risk, types, reasons)


def _harm_test(
    pb: Playbook, incident: IncidentFile, risk: RiskAssessment, types: list[BreachType], reasons: list[str]
) -> BreachDecision:
    kind, cites = pb.breach_test.risk_test, tuple(pb.breach_test.citations)
    if kind == RiskTest.general:
        return BreachDecision(True, True, False, tuple(types), tuple(reasons), cites)
    if kind == RiskTest.none:
        reasons.append("no risk-of-harm exception")
        return BreachDecision(True, True, False, tuple(types), tuple(reasons), cites)
    level = risk.level_for(types)
    harmless = level == RiskLevel.none
    if kind == RiskTest.inadvertent_harm:
        harmless = harmless and not incident.malicious and str(incident.cause) in _INADVERTENT_CAUSES
    reasons.extend(risk.reasons_for(types))
    if not harmless:
        reasons.append(
            "compromise presumed: low probability not shown"
            if kind == RiskTest.low_probability
            else "harm cannot be ruled out"
        )
        return BreachDecision(True, True, False, tuple(types), tuple(reasons), cites)
    reasons.append(
        "low probability that the data was compromised"
        if kind == RiskTest.low_probability
        else "harm not reasonably likely: exception applies (document the determination)"
    )
    return BreachDecision(True, False, True, tuple(types), tuple(reasons), cites)
