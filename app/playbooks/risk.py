"""General risk factors for a personal data breach, per breach type (EDPB Guidelines 01/2021 and 9/2022).

The result is a level per breach type (``none`` / ``risk`` / ``high``) with reasons and named factors.
GDPR-like regimes notify the regulator at ``risk`` (GDPR Art. 33(1): unless "unlikely to result in a
risk") and individuals at ``high`` (Art. 34(1)); US harm tests read the same levels. The rules use only
general facts: sensitivity of the data categories, special categories and vulnerable people, who got
the data and whether they are trusted or deleted it, exfiltration, encryption with the key safe,
hashing, backups and outage length, harm from the outage, malice, scale and accessed accounts.

Factor names (``unintelligible``, ``hashed_secrets``, ``trusted_recipient_deleted``, ``no_recipient``,
``restored_from_backup``, ``recovered_without_misuse``) can be cited by a playbook's ``exemptions``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from app.incidents.schema import IncidentFile
from app.playbooks.schema import BreachType
from app.wording import plural

SPECIAL_CATEGORIES = frozenset({"health", "genetic", "biometric", "special_category", "criminal"})
"""GDPR Art. 9 and 10 data; sensitive in every regime."""
HIGH_SENSITIVITY = SPECIAL_CATEGORIES | {"government_id", "financial_account", "payment_card", "children"}
"""Categories whose exposure alone is likely to cause serious harm (fraud, discrimination, identity theft)."""
ELEVATED_SENSITIVITY = frozenset({"location", "behavioural", "communications", "insurance"})
"""Categories that reveal more about a person's life than basic identity data."""
LARGE_SCALE_SUBJECTS = 10_000
"""Number of affected people from which elevated-sensitivity data counts as high risk."""
LONG_OUTAGE_HOURS = 24.0
"""An outage longer than this, even with a backup, is a risk to people's access to their data."""


class RiskLevel(StrEnum):
    """Ordered levels: ``none`` < ``risk`` < ``high``."""

    none = "none"
    risk = "risk"
    high = "high"

    @property
    def rank(self) -> int:
        """0, 1 or 2."""
        return ("none", "risk", "high").index(self.value)


@dataclass(frozen=True)
class TypeRisk:
    """The risk from one breach type, with reasons and the named factors found."""

    breach_type: BreachType
    level: RiskLevel
    reasons: tuple[str, ...]
    factors: frozenset[str] = frozenset()


@dataclass(frozen=True)
class RiskAssessment:
    """Risk per breach type; ``for_types`` combines the types a regime counts (the highest level wins)."""

    by_type: Mapping[BreachType, TypeRisk]

    def affected(self) -> list[BreachType]:
        """The breach types the incident is (confidentiality, integrity, availability)."""
        return [t for t, r in self.by_type.items() if "not affected" not in r.factors]

    def level_for(self, types: Iterable[BreachType]) -> RiskLevel:
        """The highest level among ``types``; ``none`` for no types."""
        levels = [self.by_type[t].level for t in types]
        return max(levels, key=lambda lv: lv.rank, default=RiskLevel.none)

    def reasons_for(self, types: Iterable[BreachType]) -> list[str]:
        """Reasons of the affected types among ``types``, in order, without repeats."""
        out: list[str] = []
        for t in types:
            for reason in self.by_type[t].reasons:
                if reason not in out and "not affected" not in self.by_type[t].factors:
                    out.append(reason)
        return out

    def factors_for(self, types: Iterable[BreachType]) -> set[str]:
        """Union of the named factors of ``types``."""
        return set().union(*(self.by_type[t].factors for t in types))


def _sensitivity(categories: set[str], vulnerable: bool) -> tuple[RiskLevel, list[str]]:
    """``high`` / ``risk`` (elevated) / ``none`` (basic) sensitivity of the exposed data, with reasons."""
    high = sorted(categories & HIGH_SENSITIVITY)
    if "credentials" in categories:
        high.append("credentials")
    reasons = [f"sensitive data: {', '.join(high)}"] if high else []
    if vulnerable:
        reasons.append("vulnerable people affected")
    if reasons:
        return RiskLevel.high, reasons
    elevated = sorted(categories & ELEVATED_SENSITIVITY)
    if {"name", "date_of_birth"} <= categories and categories & {"postal_address", "contact"}:
        elevated.append("identity profile (name, date of birth, address or contact)")
    if elevated:
        return RiskLevel.risk, [f"data enabling profiling or identity fraud: {', '.join(elevated)}"]
    return RiskLevel.none, ["basic identity or contact data only"]


def _recipient_phrase(incident: IncidentFile) -> str:
    c = incident.confidentiality
    count = f" ({c.recipient_count})" if c.recipient_count else ""
    return {
        "none": "confidentiality breach; no known recipient",
        "trusted": f"confidentiality breach to a trusted recipient bound to confidentiality{count}",
        "known": f"confidentiality breach to known recipients{count}",
        "unknown": "confidentiality breach to unknown recipients",
    }[str(c.recipients)]


def _confidentiality(incident: IncidentFile, count: int) -> TypeRisk:
    c, p, kind = incident.confidentiality, incident.protection, BreachType.confidentiality
    if not c.affected:
        return TypeRisk(kind, RiskLevel.none, ("no confidentiality breach",), frozenset({"not affected"}))
    if p.encrypted and not p.key_compromised:
        reason = "data unintelligible: encrypted, key not compromised"
        return TypeRisk(kind, RiskLevel.none, (reason,), frozenset({"unintelligible"}))
    base = [_recipient_phrase(incident)]
    if c.accounts_accessed:
        return TypeRisk(kind, RiskLevel.high, (*base, "someone used the subjects' accounts"))
    categories = {str(cat) for cat in incident.data_categories}
    if p.hashed and "credentials" in categories:
        categories.discard("credentials")
        base.append("secrets held only as salted state-of-the-art hashes")
        if not categories:
            reasons = (*base, "no other personal data exposed")
            return TypeRisk(kind, RiskLevel.none, reasons, frozenset({"hashed_secrets"}))
    if str(c.recipients) == "trusted" and c.data_returned_or_deleted:
        reasons = (*base, "the recipient returned or deleted the data")
        return TypeRisk(kind, RiskLevel.none, reasons, frozenset({"trusted_recipient_deleted"}))
    if str(c.recipients) == "none" and c.exfiltrated is False:
        reasons = (*base, "no evidence that anyone obtained the data")
        return TypeRisk(kind, RiskLevel.none, reasons, frozenset({"no_recipient"}))
    return _confidentiality_level(incident, categories, count, base)


def _confidentiality_level(incident: IncidentFile, categories: set[str], count: int, base: list[str]) -> TypeRisk:
    c, kind = incident.confidentiality, BreachType.confidentiality
    sensitivity, reasons = _sensitivity(categories, incident.subjects.vulnerable)
    reasons = base + reasons
    if c.exfiltrated is True:
        reasons.append("data exfiltrated")
    elif c.exfiltrated == "unknown":
        reasons.append("exfiltration cannot be ruled out")
    if incident.malicious:
        reasons.append("malicious act")
    out_of_control = str(c.recipients) == "unknown"
    large = count >= LARGE_SCALE_SUBJECTS
    if large:
        reasons.append(f"large scale: {count} people")
    level = RiskLevel.risk
    if sensitivity == RiskLevel.high or (sensitivity == RiskLevel.risk and (out_of_control or large)):
        level = RiskLevel.high
    if level == RiskLevel.high and str(c.recipients) == "trusted":
        level = RiskLevel.risk
        reasons.append("recipient is bound to confidentiality")
    if level == RiskLevel.high and c.data_returned_or_deleted and not incident.malicious:
        level = RiskLevel.risk
        reasons.append("the recipient returned or deleted the data")
    return TypeRisk(kind, level, tuple(reasons))


def _integrity(incident: IncidentFile) -> TypeRisk:
    i, kind = incident.integrity, BreachType.integrity
    if not i.affected:
        return TypeRisk(kind, RiskLevel.none, ("no integrity breach",), frozenset({"not affected"}))
    if i.misused:
        categories = {str(cat) for cat in incident.data_categories}
        sensitivity, reasons = _sensitivity(categories, incident.subjects.vulnerable)
        level = RiskLevel.high if sensitivity == RiskLevel.high else RiskLevel.risk
        return TypeRisk(kind, level, ("altered data was misused", *reasons))
    if not i.recoverable:
        return TypeRisk(kind, RiskLevel.risk, ("altered data cannot be recovered",))
    reason = "altered data restored; no misuse"
    return TypeRisk(kind, RiskLevel.none, (reason,), frozenset({"recovered_without_misuse"}))


def _availability(incident: IncidentFile) -> TypeRisk:
    a, kind = incident.availability, BreachType.availability
    if not a.affected:
        return TypeRisk(kind, RiskLevel.none, ("no availability breach",), frozenset({"not affected"}))
    hours = plural(a.outage_hours, "hour") if a.outage_hours is not None else "an unknown time"
    if a.harms_individuals:
        return TypeRisk(kind, RiskLevel.high, (f"outage of {hours} harms people (care or service refused)",))
    if a.permanent and not a.backup_available:
        categories = {str(cat) for cat in incident.data_categories}
        sensitivity, reasons = _sensitivity(categories, incident.subjects.vulnerable)
        level = RiskLevel.high if sensitivity == RiskLevel.high else RiskLevel.risk
        return TypeRisk(kind, level, ("data permanently lost; no backup", *reasons))
    short = a.outage_hours is not None and a.outage_hours <= LONG_OUTAGE_HOURS
    if a.backup_available and short:
        reason = f"restored from backup within {hours}; the outage harmed no one"
        return TypeRisk(kind, RiskLevel.none, (reason,), frozenset({"restored_from_backup"}))
    if not a.backup_available:
        return TypeRisk(kind, RiskLevel.risk, (f"no backup: data unavailable for {hours}",))
    return TypeRisk(kind, RiskLevel.risk, (f"prolonged outage of {hours}",))


def assess_risk(incident: IncidentFile, subject_count: int) -> RiskAssessment:
    """The risk of each breach type of ``incident`` for ``subject_count`` affected people."""
    return RiskAssessment(
        by_type={
            BreachType.confidentiality: _confidentiality(incident, subject_count),
            BreachType.integrity: _integrity(incident),
            BreachType.availability: _availability(incident),
        }
    )
