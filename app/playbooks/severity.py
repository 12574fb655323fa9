"""Severity of a breach by the ENISA 2013 method: SE = DPC x EI + CB.

ENISA, "Recommendations for a methodology of the assessment of severity of personal data breaches",
v1.0, December 2013. Advisory evidence kept beside the legal decision; it is never a legal threshold.

- DPC (data processing context, 1-4): the highest base score among the data categories (simple 1,
  behavioural 2, financial 3, sensitive 4), raised one step for vulnerable people or a health-sector
  controller (the controller's nature reveals health), capped at 4.
- EI (ease of identification, 0.25/0.5/0.75/1): how easily the data points to a person; lowered to
  0.25 when disclosed data is unintelligible (encrypted with the key safe, or only salted hashes).
- CB (circumstances of the breach, additive, 0-2): confidentiality +0.25 known / +0.5 unknown
  recipients, integrity +0.25 misused but recoverable / +0.5 not recoverable, availability +0.25
  temporary / +0.5 permanent, malicious intent +0.5.
- Bands: SE < 2 low, < 3 medium, < 4 high, otherwise very high.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.incidents.schema import IncidentFile

_BASE = {
    "health": 4, "genetic": 4, "biometric": 4, "special_category": 4, "criminal": 4,
    "financial_account": 3, "payment_card": 3, "insurance": 3, "government_id": 3,
    "location": 2, "behavioural": 2, "communications": 2, "credentials": 2,
}  # fmt: skip
_BASE_NOTES = {
    "government_id": "identity numbers enable fraud; scored as financial",
    "credentials": "credentials are scored by the data they unlock; unknown, so behavioural",
}
_IDENTIFYING = {"date_of_birth", "postal_address", "contact", "government_id"}


@dataclass(frozen=True)
class Severity:
    """ENISA 2013 result: components, score (rounded to 2 places), band and reasons."""

    dpc: int
    ei: float
    cb: float
    score: float
    band: str
    reasons: tuple[str, ...]
    method: str = "ENISA-2013"


def _dpc(incident: IncidentFile) -> tuple[int, list[str]]:
    categories = sorted({str(c) for c in incident.data_categories})
    if not categories:
        return 1, ["DPC 1: no data categories given; simple data assumed"]
    top = max(categories, key=lambda c: _BASE.get(c, 1))
    score = _BASE.get(top, 1)
    reasons = [f"DPC base {score} from {top}" + (f" ({_BASE_NOTES[top]})" if top in _BASE_NOTES else "")]
    if incident.subjects.vulnerable and score < 4:
        score += 1
        reasons.append("DPC +1: vulnerable individuals")
    elif str(incident.controller.sector) == "health" and score < 4:
        score += 1
        reasons.append("DPC +1: a health-sector controller reveals health context")
    return score, reasons


def _ei(incident: IncidentFile) -> tuple[float, str]:
    p = incident.protection
    categories = {str(c) for c in incident.data_categories}
    disclosed = incident.confidentiality.affected
    if disclosed and p.encrypted and not p.key_compromised:
        return 0.25, "EI 0.25: data unintelligible (encrypted, key safe)"
    if disclosed and p.hashed and categories <= {"credentials"}:
        return 0.25, "EI 0.25: only salted hashes of secrets exposed"
    if "name" in categories and categories & _IDENTIFYING:
        return 1.0, "EI 1: name combined with further identifying data"
    if "name" in categories or "government_id" in categories:
        return 0.75, "EI 0.75: name or identity number identifies most people"
    if categories & {"contact", "postal_address", "biometric"}:
        return 0.75, "EI 0.75: contact data used as a primary identifier"
    return 0.5, "EI 0.5: identification needs further data"


def _cb(incident: IncidentFile) -> tuple[float, list[str]]:
    c, i, a = incident.confidentiality, incident.integrity, incident.availability
    parts: list[tuple[float, str]] = []
    if c.affected and not (str(c.recipients) in {"none", "trusted"} and c.exfiltrated is not True):
        parts.append((0.5, "unknown recipients") if str(c.recipients) == "unknown" else (0.25, "known recipients"))
    if i.affected and (i.misused or not i.recoverable):
        parts.append((0.25, "integrity: misused, recoverable") if i.recoverable else (0.5, "integrity: lost"))
    if a.affected:
        parts.append((0.5, "availability: permanent") if a.permanent else (0.25, "availability: temporary"))
    if incident.malicious:
        parts.append((0.5, "malicious intent"))
    total = sum(points for points, _ in parts)
    reasons = [f"CB +{points:g}: {why}" for points, why in parts] or ["CB 0: no aggravating circumstance"]
    return total, reasons


def band(score: float) -> str:
    """ENISA band for a score: low (<2), medium (<3), high (<4), very high (>=4)."""
    if score < 2:
        return "low"
    if score < 3:
        return "medium"
    return "high" if score < 4 else "very high"


def enisa_severity(incident: IncidentFile) -> Severity:
    """SE = DPC x EI + CB for ``incident`` with the reason for every component."""
    dpc, dpc_reasons = _dpc(incident)
    ei, ei_reason = _ei(incident)
    cb, cb_reasons = _cb(incident)
    score = round(dpc * ei + cb, 2)
    return Severity(dpc, ei, cb, score, band(score), (*dpc_reasons, ei_reason, *cb_reasons))
