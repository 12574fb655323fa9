"""Report types per regime: the regime extras a person supplies (validated with pydantic) and the content
models whose JSON Schemas are published in ``app/reports/schemas/``.

Legal sources (``../shared/legal``): GDPR Art. 33(3) and the EDPB common notification template
(international.md §1); HHS breach report and the portal's public CSV (us.md §1.6, §1.7); California AG
sample-notice submission (us.md §2.1); Texas AG report (§2.3); Florida Dept of Legal Affairs report (§2.4,
mirroring Alabama §8-38-6, §2.8); PIPL Art. 57 and the CAC reporting measures (international.md §3).
Counts are people (integers); dates are ISO 8601 (``date``) and times aware UTC.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

HHS_ENTITY_TYPES = ("Healthcare Provider", "Health Plan", "Healthcare Clearing House", "Business Associate")
HHS_BREACH_TYPES = ("Hacking/IT Incident", "Unauthorized Access/Disclosure", "Theft", "Loss", "Improper Disposal",
                    "Other", "Unknown")
HHS_LOCATIONS = ("Network Server", "Email", "Paper/Films", "Laptop", "Desktop Computer", "Electronic Medical Record",
                 "Other Portable Electronic Device", "Other")
HhsEntityType = Literal["Healthcare Provider", "Health Plan", "Healthcare Clearing House", "Business Associate"]
HhsBreachType = Literal["Hacking/IT Incident", "Unauthorized Access/Disclosure", "Theft", "Loss",
                        "Improper Disposal", "Other", "Unknown"]
HhsLocation = Literal["Network Server", "Email", "Paper/Films", "Laptop", "Desktop Computer",
                      "Electronic Medical Record", "Other Portable Electronic Device", "Other"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Contact(_Model):
    """The controller's contact point (DPO or other; GDPR Art. 33(3)(b)). Never a data subject's."""

    name: str | None = None
    email: str | None = None
    phone: str | None = None


class Counts(_Model):
    """People affected: from the subject registry (``reach`` counts) when subjects are linked, else the
    incident file's estimate. ``people``: the whole incident; ``by_jurisdiction``: ISO 3166 code (or
    ``unknown``) -> people; ``regime_people``: those the report's regime covers (``regime_scope``: ``people``
    for everyone, else e.g. ``California residents``; absent in reports drafted before it was added, which
    counted everyone)."""

    people: int = Field(ge=0)
    is_estimate: bool
    source: Literal["subject_registry", "incident_estimate"]
    by_jurisdiction: dict[str, int]
    regime_people: int | None = Field(default=None, ge=0)
    regime_scope: str | None = None

    @property
    def covered(self) -> int:
        """The people the regime covers (``regime_people``; ``people`` when it was not recorded)."""
        return self.people if self.regime_people is None else self.regime_people


class DispatchOutcomes(_Model):
    """Individual-notice dispatch: ``by_channel`` channel -> state -> deliveries; ``people_notified``:
    distinct people with a delivered notice; ``notified_by_jurisdiction``: those people by ISO 3166 code (or
    ``unknown``; empty in reports drafted before it was added). ``available`` is false (all zeros) when the
    dispatch module is absent."""

    available: bool
    by_channel: dict[str, dict[str, int]]
    people_notified: int = Field(ge=0)
    notified_by_jurisdiction: dict[str, int] = Field(default_factory=dict)


class PublicCommunication(_Model):
    """A public communication instead of individual notice (GDPR Art. 34(3)(c): disproportionate effort),
    from the live substitute-notice decision (``app.announcements``) and the public notice page, if any.
    ``stands_for``: people it informs instead of individual notice (a count, never names)."""

    decided: Literal["required", "allowed"]
    citation: str
    basis: list[str]
    reasons: list[str]
    stands_for: int = Field(ge=0)
    published: bool
    published_at: dt.datetime | None
    posting_ends_at: dt.datetime | None
    url_path: str | None


class CommunicationToSubjects(DispatchOutcomes):
    """EDPB template: communication to the data subjects, individual (dispatch outcomes) and public."""

    public_communication: PublicCommunication | None = None


# --- regime extras (what the incident file does not hold) ---------------------------------------------

class ReportingPerson(_Model):
    """EDPB template section 3: who files the notification for the controller (staff, never a subject)."""

    name: str | None = None
    email: str | None = None
    phone: str | None = None
    role: Literal["dpo", "legal_representative", "other"] = "other"


class OtherAuthority(_Model):
    """EDPB template section 14: another authority told of the breach (police, the national cybersecurity
    centre, another regulator) with its case id."""

    kind: Literal["police", "cybersecurity_centre", "other_regulator", "other"]
    name: str = Field(min_length=1)
    case_id: str | None = None
    notified_on: dt.date | None = None


MeasureBefore = Literal["pseudonymisation", "backup", "encryption", "policies", "training", "logging",
                        "access_levels", "mfa", "audits", "physical_security", "patching"]
RiskOutcome = Literal["high_risk", "risk", "unlikely_risk"]


class GdprExtras(_Model):
    """EDPB template items outside the incident file (all optional; defaults derived from the incident)."""

    subject_categories: list[str] | None = None
    approximate_records: int | None = Field(default=None, ge=0)
    record_type: str | None = None
    likely_consequences: str | None = None
    severity: Literal["minor", "moderate", "severe"] | None = None
    measures_proposed: str | None = None
    contact: Contact | None = None
    complete: bool | None = None
    internal_reference: str | None = None
    reporting_person: ReportingPerson | None = None
    measures_before_breach: list[MeasureBefore] | None = None
    risk_outcome: RiskOutcome | None = None
    risk_method: str | None = None
    other_authorities: list[OtherAuthority] | None = None


class HhsExtras(_Model):
    """HHS breach report fields outside the incident file (us.md §1.6, §1.7)."""

    covered_entity_name: str | None = None
    covered_entity_type: HhsEntityType | None = None
    state: str | None = Field(default=None, max_length=2)
    type_of_breach: list[HhsBreachType] | None = None
    location: list[HhsLocation] | None = None
    business_associate_present: bool = False
    web_description: str | None = None
    submission_date: dt.date | None = None
    safeguards: list[str] | None = None
    actions_taken: str | None = None
    entity_address: str | None = None
    entity_contact: Contact | None = None
    breach_end: dt.date | None = None
    individual_notice_date: dt.date | None = None


class CaExtras(_Model):
    """California AG web form items (us.md §2.1)."""

    small_business: bool = False
    consumer_notice_dates: list[dt.date] | None = None


class TxExtras(_Model):
    """Texas AG Data Breach Report items (us.md §2.3)."""

    texans_notified: int | None = Field(default=None, ge=0)
    notified_by: list[Literal["mail", "email"]] | None = None
    measures_planned: str | None = None
    law_enforcement_involved: bool = False


class FlExtras(_Model):
    """Florida Dept of Legal Affairs report items (us.md §2.4, §2.8)."""

    services_offered: str | None = None
    reason_no_notice: str | None = None
    contact: Contact | None = None
    good_cause_extension: str | None = None


class PiplExtras(_Model):
    """PIPL Art. 57 report items (international.md §3)."""

    possible_harm: str | None = None
    individual_measures: str | None = None
    contact: Contact | None = None
    individuals_exempt_reason: str | None = None


# --- content models -------------------------------------------------------------------------------------

class Nature(_Model):
    """EDPB template §6: C/I/A flags with sub-types, cause and its quadrant."""

    description: str | None
    confidentiality: bool
    confidentiality_subtype: Literal["exfiltrated_or_disclosed", "cannot_assess", "not_exfiltrated"] | None
    integrity: bool
    availability: bool
    availability_permanent: bool
    unintelligible: Literal["intact", "likely_subverted", "no"]
    incident_type: str
    cause_quadrant: str


class RiskAssessment(_Model):
    """EDPB template section 11: the risk outcome and how it was reached."""

    outcome: RiskOutcome
    method: str


class GdprContent(_Model):
    """GDPR Art. 33(3) (a)-(d) with the EDPB common notification template's section structure
    (international.md §1: sections 1-15)."""

    notification: dict[str, Any]
    controller: dict[str, Any]
    reporting_person: ReportingPerson | None
    contact_point: Contact
    timeline: dict[str, Any]
    nature: Nature
    data_subjects: dict[str, Any]
    personal_data: dict[str, Any]
    measures_before_breach: list[MeasureBefore]
    likely_consequences: str
    severity: str | None
    risk: RiskAssessment
    measures_taken: str | None
    measures_proposed: str | None
    communication_to_subjects: CommunicationToSubjects
    other_authorities: list[OtherAuthority]
    cross_border: dict[str, int]
    counts: Counts


class HhsPortalRow(_Model):
    """The nine columns of the HHS breach portal's public CSV (us.md §1.7), as text, in order."""

    name_of_covered_entity: str
    state: str
    covered_entity_type: str
    individuals_affected: str
    breach_submission_date: str
    type_of_breach: str
    location_of_breached_information: str
    business_associate_present: str
    web_description: str


class HhsCoveredEntity(_Model):
    """HHS form section 1: covered entity name, address, contact, type (us.md §1.6)."""

    name: str
    type: str
    state: str
    address: str | None
    contact: Contact


class HhsBreach(_Model):
    """HHS form section 3: dates (start, end, discovery; times as in the incident file), people, type,
    location, PHI, description."""

    occurred_at: str | None
    ended_on: dt.date | None
    discovered_at: str | None
    individuals_affected: int
    type_of_breach: list[str]
    location: list[str]
    phi_categories: list[str]
    description: str


class HhsNotice(_Model):
    """HHS form section 4: individual notice (date and dispatch outcomes), substitute notice (from the live
    decision, 45 CFR 164.404(d)(2)) and media notice (164.406) required."""

    individual_notice: DispatchOutcomes
    individual_notice_date: dt.date | None
    substitute_notice_required: bool
    substitute_notice: PublicCommunication | None
    media_notice_required: bool


class HhsContent(_Model):
    """HHS breach report (45 CFR 164.408) fields plus the public portal row."""

    breach_affecting: Literal["500 or more", "fewer than 500"]
    report_type: Literal["initial", "addendum"]
    covered_entity: HhsCoveredEntity
    business_associate_present: bool
    breach: HhsBreach
    safeguards: list[str]
    actions_taken: str | None
    notice: HhsNotice
    submission_date: dt.date
    portal_row: HhsPortalRow
    counts: Counts


class CaContent(_Model):
    """California AG: the sample consumer notice (no personal information) and the law-enforcement fields."""

    residents_affected: int
    sample_notice: dict[str, Any] | None
    law_enforcement: dict[str, Any]
    counts: Counts


class TxContent(_Model):
    """Texas AG Data Breach Report (Bus. & Com. Code §521.053(i))."""

    description: str | None
    texans_affected: int
    texans_notified: int
    notified_by: list[str]
    measures_taken: str | None
    measures_planned: str | None
    law_enforcement_involved: bool
    communication_to_subjects: DispatchOutcomes
    counts: Counts


class FlContent(_Model):
    """Florida §501.171(3) report (mirrors Alabama §8-38-6)."""

    summary_of_events: str | None
    floridians_affected: int
    services_offered: str | None
    notice_copy: dict[str, Any] | None
    reason_no_notice: str | None
    contact_person: Contact
    good_cause_extension: str | None
    counts: Counts


class PiplContent(_Model):
    """PIPL Art. 57 report: categories, cause, possible harm, measures, contact; CAC grading hint."""

    information_categories: list[str]
    cause: str
    description: str | None
    possible_harm: str
    remedial_measures: str | None
    individual_measures: str | None
    contact: Contact
    people_affected: int
    cac_report_required: bool
    individuals_notified: DispatchOutcomes
    individuals_exempt_reason: str | None
    counts: Counts


C = TypeVar("C", bound=BaseModel)


class ReportDocument(_Model, Generic[C]):
    """The exported report JSON: the envelope (version, phase, deadline, approval) and the content."""

    schema_id: str
    report_type: str
    regime: str
    incident_id: int
    report_id: int
    number: int
    phase: Literal["initial", "follow_up", "final"]
    state: str
    due_at: dt.datetime | None
    late: bool
    reason_for_delay: str | None
    drafted_by: str
    approved_by: str | None
    approved_at: dt.datetime | None
    generated_at: dt.datetime
    content: C


class ReportType:
    """One report type: its name, regimes, extras and content models."""

    def __init__(self, name: str, title: str, extras: type[BaseModel], content: type[BaseModel]) -> None:
        self.name, self.title, self.extras, self.content = name, title, extras, content

    def document_model(self) -> type[BaseModel]:
        """The envelope model parametrised with the content model (for validation and the schema)."""
        return ReportDocument[self.content]  # type: ignore[name-defined]


REPORT_TYPES: dict[str, ReportType] = {t.name: t for t in (
    ReportType("gdpr-art33", "GDPR Art. 33 notification to the supervisory authority", GdprExtras, GdprContent),
    ReportType("hhs-breach", "HHS OCR breach report (45 CFR 164.408)", HhsExtras, HhsContent),
    ReportType("ca-ag-sample", "California AG sample notice submission (Civ. Code 1798.82(f))", CaExtras,
               CaContent),
    ReportType("tx-ag-report", "Texas AG data breach report (Bus. & Com. Code 521.053)", TxExtras, TxContent),
    ReportType("fl-ag-report", "Florida Dept of Legal Affairs breach notice (Fla. Stat. 501.171(3))", FlExtras,
               FlContent),
    ReportType("pipl-art57", "PIPL Art. 57 report to the PI protection departments", PiplExtras, PiplContent),
)}
REGIME_REPORT: dict[str, str] = {"eu-gdpr": "gdpr-art33", "uk-gdpr": "gdpr-art33", "us-hipaa": "hhs-breach",
                                 "us-ca": "ca-ag-sample", "us-tx": "tx-ag-report", "us-fl": "fl-ag-report",
                                 "cn-pipl": "pipl-art57"}


def schema_path(report_type: str) -> str:
    """Where a report type's JSON Schema is served: ``/schemas/reports/<type>.json`` (public, stable)."""
    return f"/schemas/reports/{report_type}.json"


def schema_for(report_type: str) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a report type's exported JSON. ``$id`` is the path it is served at
    (a URI reference); the served and bundled copies carry the absolute URL under the public URL
    (``app.reports.exports.published_schema``), which is also the report's ``schema_id``."""
    schema = REPORT_TYPES[report_type].document_model().model_json_schema()
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": schema_path(report_type), **schema}
