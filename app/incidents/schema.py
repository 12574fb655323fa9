"""The incident file: the one document that describes a personal data breach.

The shape is fixed by ``../shared/contracts/incident-file.md``: fields may be added, never renamed or
dropped. Unknown keys are errors (``extra="forbid"``) so that a typo never passes silently, and every
datetime must carry a UTC offset; it is normalised to UTC on validation.
"""

from __future__ import annotations

import datetime as dt
import re
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

MAX_COUNT = 2**31 - 1
"""Largest head count accepted: counts are stored in INTEGER columns (32-bit on PostgreSQL)."""
_JURISDICTION = re.compile(r"^[A-Z]{2}(-[A-Z0-9]{1,3})?$")


def _aware_utc(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("datetime must include a UTC offset, e.g. 2026-03-02T09:00:00+01:00")
    try:
        return value.astimezone(dt.UTC)
    except OverflowError:  # 9999-12-31T23:59:59-12:00 has no UTC time
        raise ValueError("datetime is out of range once converted to UTC") from None


AwareDatetime = Annotated[dt.datetime, AfterValidator(_aware_utc)]


def _jurisdiction(value: str) -> str:
    """An ISO 3166-1 alpha-2 code (a country CLDR knows) or ISO 3166-2 code; for the countries whose breach
    law is per subdivision (US, CA, AU) the subdivision must be one of theirs."""
    from app.subjects import places  # here: app.subjects imports this module's categories

    code = value.strip().upper()
    if not _JURISDICTION.match(code):
        raise ValueError(f"{value!r} is not an ISO 3166-1 alpha-2 or ISO 3166-2 code (e.g. DE, US-CA)")
    country, _, part = code.partition("-")
    if (known := places.country_code(country)) != country:
        hint = f" (did you mean {known}?)" if known else ""
        raise ValueError(f"{country!r} is not an ISO 3166-1 alpha-2 country code{hint}")
    if part and places.has_subdivisions(country) and places.subdivision_code(country, part) != code:
        raise ValueError(f"{code!r} is not an ISO 3166-2 subdivision of {country}")
    return code


JurisdictionCode = Annotated[str, AfterValidator(_jurisdiction)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, use_enum_values=True)


class DiscoveredBy(StrEnum):
    """Who found the breach."""

    controller = "controller"
    processor = "processor"
    data_subject = "data_subject"
    third_party = "third_party"
    press = "press"
    law_enforcement = "law_enforcement"


class Sector(StrEnum):
    """The controller's sector; some regimes apply only to one (e.g. HIPAA to health)."""

    general = "general"
    health = "health"
    financial = "financial"
    telecom = "telecom"
    public = "public"
    education = "education"


class Cause(StrEnum):
    """What caused the breach."""

    ransomware = "ransomware"
    hacking = "hacking"
    malware = "malware"
    phishing = "phishing"
    credential_stuffing = "credential_stuffing"
    skimming = "skimming"
    insider_malicious = "insider_malicious"
    insider_error = "insider_error"
    loss = "loss"
    theft = "theft"
    misdelivery = "misdelivery"
    misconfiguration = "misconfiguration"
    social_engineering = "social_engineering"
    other = "other"


class Recipients(StrEnum):
    """Who obtained the data; ``trusted`` means bound to confidentiality."""

    none = "none"
    trusted = "trusted"
    known = "known"
    unknown = "unknown"


class Medium(StrEnum):
    """Where the affected data was held."""

    electronic = "electronic"
    paper = "paper"


class DataCategory(StrEnum):
    """Categories of personal data; the same names are used in subject files."""

    name = "name"
    contact = "contact"
    postal_address = "postal_address"
    date_of_birth = "date_of_birth"
    government_id = "government_id"
    financial_account = "financial_account"
    payment_card = "payment_card"
    credentials = "credentials"
    health = "health"
    genetic = "genetic"
    biometric = "biometric"
    special_category = "special_category"
    criminal = "criminal"
    location = "location"
    behavioural = "behavioural"
    communications = "communications"
    children = "children"
    employment = "employment"
    insurance = "insurance"
    other = "other"


class ContactPoint(_Strict):
    """The controller's contact point (DPO or other), GDPR Art. 33(3)(b)."""

    name: str | None = None
    email: str | None = None
    phone: str | None = None


class Controller(_Strict):
    """The organisation responsible for the personal data."""

    name: str = Field(min_length=1)
    establishment: JurisdictionCode | None = None
    sector: Sector = Sector.general
    hipaa_covered_entity: bool = False
    contact: ContactPoint | None = None


class Confidentiality(_Strict):
    """Unauthorised disclosure of, or access to, personal data (EDPB 01/2021 §5)."""

    affected: bool = False
    recipients: Recipients = Recipients.none
    recipient_count: int | None = Field(default=None, ge=0, le=MAX_COUNT)
    exfiltrated: bool | Literal["unknown"] = False
    data_returned_or_deleted: bool = False
    accounts_accessed: bool = False


class Integrity(_Strict):
    """Unauthorised or accidental alteration of personal data."""

    affected: bool = False
    recoverable: bool = True
    misused: bool = False


class Availability(_Strict):
    """Accidental or unauthorised loss of access to, or destruction of, personal data."""

    affected: bool = False
    permanent: bool = False
    outage_hours: float | None = Field(default=None, ge=0)
    backup_available: bool = False
    harms_individuals: bool = False


class Protection(_Strict):
    """Technical protection of the affected data (encryption exemption, GDPR Art. 34(3)(a))."""

    encrypted: bool = False
    key_compromised: bool = False
    hashed: bool = False
    medium: Medium = Medium.electronic


class Subjects(_Strict):
    """Estimate of the affected data subjects before a subject list is imported (at most ``MAX_COUNT``)."""

    count: int = Field(ge=0, le=MAX_COUNT)
    count_is_estimate: bool = True
    by_jurisdiction: dict[JurisdictionCode, Annotated[int, Field(ge=0, le=MAX_COUNT)]] = Field(default_factory=dict)
    vulnerable: bool = False

    @field_validator("by_jurisdiction", mode="before")
    @classmethod
    def _one_key_per_code(cls, value: Any) -> Any:
        """Refuse two keys naming one code (``us-ca`` and ``US-CA``): one count would silently replace the other."""
        if isinstance(value, dict):
            seen: dict[str, str] = {}
            for key in value:
                folded = str(key).strip().upper()
                if folded in seen:
                    raise ValueError(f"{seen[folded]!r} and {key!r} name the same jurisdiction: give one count")
                seen[folded] = str(key)
        return value


class IncidentFile(_Strict):
    """A personal data breach as described by the incident file contract.

    Raises ``pydantic.ValidationError`` on construction with the path and reason of every problem.
    """

    title: str = Field(min_length=1, max_length=300)
    description: str | None = None
    aware_at: AwareDatetime
    occurred_at: AwareDatetime | None = None
    discovered_by: DiscoveredBy | None = None
    controller: Controller
    cause: Cause = Cause.other
    malicious: bool = False
    confidentiality: Confidentiality = Field(default_factory=Confidentiality)
    integrity: Integrity = Field(default_factory=Integrity)
    availability: Availability = Field(default_factory=Availability)
    protection: Protection = Field(default_factory=Protection)
    data_categories: list[DataCategory] = Field(default_factory=list)
    subjects: Subjects
    measures_taken: str | None = None

    def as_document(self) -> dict[str, Any]:
        """The JSON-ready document (datetimes as ISO 8601 UTC strings), as stored and exported."""
        return self.model_dump(mode="json")
