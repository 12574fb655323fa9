"""The playbook format: one YAML file per regime in ``incident_playbooks/`` (see its README).

A playbook states where a regime applies, what counts as a notifiable breach under it, and, per
audience (regulator, individuals, public, media, consumer reporting agencies, internal record), when
notice is required, by when, to whom, with what content and through which channels. Every rule carries
citations and a source confidence (``statute``, ``secondary``, ``unconfirmed``) taken from the legal
reference notes. Unknown keys are errors so that a typo in a playbook never passes silently.
"""

from __future__ import annotations

import datetime as dt
import functools
import zoneinfo
from enum import StrEnum
from typing import Any, Literal

import holidays
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from app.incidents.schema import DataCategory, Medium, Sector


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_enum_values=False)


class Confidence(StrEnum):
    """How well a rule is sourced: primary text, secondary source only, or unsure."""

    statute = "statute"
    secondary = "secondary"
    unconfirmed = "unconfirmed"


class AudienceName(StrEnum):
    """Who receives a notice; the values of the ``audience`` key of ``assess`` output."""

    regulator = "regulator"
    individuals = "individuals"
    public = "public"
    media = "media"
    consumer_reporting_agencies = "consumer_reporting_agencies"
    internal_record = "internal_record"


class BreachType(StrEnum):
    """EDPB 01/2021 §5: a breach may be of one, two or all three types."""

    confidentiality = "confidentiality"
    integrity = "integrity"
    availability = "availability"


class ClockUnit(StrEnum):
    """Unit of a deadline: elapsed hours, local calendar days, or local business days."""

    hours = "hours"
    calendar_days = "calendar_days"
    business_days = "business_days"


class StartEvent(StrEnum):
    """What starts a clock.

    ``awareness``, ``discovery`` and ``determination`` all start at the incident's ``aware_at`` (the
    incident file records one instant); ``calendar_year_end`` at midnight local time after 31 December of
    the year of discovery; ``obligation_due`` at the due time of another obligation named by ``after``.
    """

    awareness = "awareness"
    discovery = "discovery"
    determination = "determination"
    calendar_year_end = "calendar_year_end"
    obligation_due = "obligation_due"


class Condition(StrEnum):
    """When an audience (or part) must be notified; evaluated by ``app.playbooks.engine``.

    - ``always``: whenever the regime applies (e.g. the GDPR Art. 33(5) record).
    - ``never``: an option, never a duty (e.g. substitute notice).
    - ``any_breach``: the breach test's covered-breach finding, before exemptions.
    - ``notifiable``: covered breach, no safe harbour, and the regime's harm test not met.
    - ``risk`` / ``high_risk``: notifiable and the general risk level is at least risk / high.
    - ``harm_exception_used``: a covered breach excused only by the regime's harm test.
    - ``obligation_required``: the obligation named by ``ref`` is required.
    """

    always = "always"
    never = "never"
    any_breach = "any_breach"
    notifiable = "notifiable"
    risk = "risk"
    high_risk = "high_risk"
    harm_exception_used = "harm_exception_used"
    obligation_required = "obligation_required"


class ThresholdScope(StrEnum):
    """What a threshold counts: everyone, the regime's own residents, or the largest single state."""

    total = "total"
    jurisdiction = "jurisdiction"
    any_single_jurisdiction = "any_single_jurisdiction"


class RiskTest(StrEnum):
    """The regime's own test of whether a covered breach must be notified.

    - ``general``: GDPR-like; audiences decide with the ``risk``/``high_risk`` conditions.
    - ``none``: no harm exception (e.g. California, Texas).
    - ``harm``: no notice when harm is not reasonably likely (e.g. Washington, Florida).
    - ``inadvertent_harm``: as ``harm``, but only for inadvertent disclosures (New York).
    - ``low_probability``: HIPAA's presumption of breach unless a low probability of compromise is shown.
    """

    general = "general"
    none = "none"
    harm = "harm"
    inadvertent_harm = "inadvertent_harm"
    low_probability = "low_probability"


Operator = Literal[">", ">=", "<", "<="]
SubmissionFormat = Literal[
    "web_form", "portal", "pdf_sample_upload", "email", "letter", "phone", "press_release", "record", "none"
]


class ObligationRef(_Strict):
    """Another obligation, by regime id, audience and optionally part name."""

    regime: str
    audience: AudienceName
    part: str | None = None


class Extension(_Strict):
    """A permitted extension of a clock; reported, never applied automatically."""

    reason: str
    amount: int | None = Field(default=None, gt=0)
    unit: ClockUnit | None = None
    citation: str
    confidence: Confidence


class Clock(_Strict):
    """A deadline: ``amount`` ``unit`` after ``starts_at``; ``effective_from`` dates a change of law."""

    unit: ClockUnit
    amount: int = Field(gt=0)
    starts_at: StartEvent = StartEvent.awareness
    after: ObligationRef | None = None
    effective_from: dt.date | None = None
    extensions: list[Extension] = Field(default_factory=list)
    citation: str
    confidence: Confidence

    @model_validator(mode="after")
    def _after_matches_start(self) -> Clock:
        if (self.starts_at == StartEvent.obligation_due) != (self.after is not None):
            raise ValueError("'after' is required exactly when starts_at is 'obligation_due'")
        return self


class Threshold(_Strict):
    """A count test, e.g. HHS notice at ``total >= 500``, HIPAA media at ``any_single_jurisdiction > 500``."""

    scope: ThresholdScope
    operator: Operator
    value: int = Field(ge=0)
    citation: str
    confidence: Confidence


class Rule(_Strict):
    """When a notice is required and by when."""

    required_when: Condition | None = None
    ref: ObligationRef | None = None
    threshold: Threshold | None = None
    clocks: list[Clock] = Field(default_factory=list)
    no_deadline: str | None = None
    effective_from: dt.date | None = None
    citations: list[str] = Field(default_factory=list)
    confidence: Confidence | None = None

    @model_validator(mode="after")
    def _ref_matches_condition(self) -> Rule:
        if (self.required_when == Condition.obligation_required) != (self.ref is not None):
            raise ValueError("'ref' is required exactly when required_when is 'obligation_required'")
        return self


class Part(Rule):
    """One separately timed duty within an audience (e.g. HHS immediate notice vs annual log)."""

    name: str = Field(min_length=1)
    recipient: str | None = None

    @model_validator(mode="after")
    def _complete(self) -> Part:
        if self.required_when is None or self.confidence is None or not self.citations:
            raise ValueError("a part needs required_when, citations and confidence")
        return self


class Exemption(_Strict):
    """A risk factor that, when present and the notice is not required, is cited as the reason."""

    factor: str
    citation: str
    reason: str


class DeemedSatisfied(_Strict):
    """Notice under another regime satisfies this audience (e.g. HIPAA notice for NY residents)."""

    by: ObligationRef
    citation: str
    confidence: Confidence


class SubstituteNotice(_Strict):
    """When notice may go to the public instead of individually, and how."""

    when: list[str]
    class_size_over: int | None = None
    cost_over: float | None = None  # USD: the estimated cost of individual notice above which it is allowed
    unreachable_at_least: int | None = None
    components: list[str]
    citation: str
    confidence: Confidence


class Submission(_Strict):
    """How a regulator wants the report: format, address and fields."""

    format: SubmissionFormat
    url: str | None = None
    fields: list[str] = Field(default_factory=list)
    confidence: Confidence


class AudienceRule(Rule):
    """Everything a playbook says about one audience; either one rule or a list of ``parts``."""

    audience: AudienceName
    recipient: str
    parts: list[Part] = Field(default_factory=list)
    exemptions: list[Exemption] = Field(default_factory=list)
    deemed_satisfied_by: list[DeemedSatisfied] = Field(default_factory=list)
    content: list[str] = Field(default_factory=list)
    content_elements: list[str] = Field(default_factory=list)
    """Ids of ``app.notices.elements.ELEMENT_SETS`` (e.g. ``[us-ca]``) a notice to this audience is checked
    against; the loader rejects an unknown id."""
    forbidden_content: list[str] = Field(default_factory=list)
    channels: list[str] = Field(default_factory=list)
    substitute_notice: SubstituteNotice | None = None
    submission: Submission | None = None
    notes: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _rule_or_parts(self) -> AudienceRule:
        own = self.required_when is not None or self.threshold is not None or bool(self.clocks)
        if self.parts and own:
            raise ValueError("give either parts or required_when/threshold/clocks, not both")
        if not self.parts and (self.required_when is None or self.confidence is None or not self.citations):
            raise ValueError("an audience without parts needs required_when, citations and confidence")
        names = [p.name for p in self.parts]
        if len(names) != len(set(names)):
            raise ValueError("part names must be unique")
        return self

    def rules(self) -> list[Part]:
        """The parts, or the audience's own rule as a single unnamed part."""
        if self.parts:
            return list(self.parts)
        data = {name: getattr(self, name) for name in Rule.model_fields}
        return [Part(name=self.audience.value, recipient=self.recipient, **data)]


class Applicability(_Strict):
    """Where a regime applies: subjects' residence OR establishment, AND sector conditions.

    Codes are ISO 3166 patterns; ``US-*`` matches every US state.
    """

    subject_residence: list[str] = Field(default_factory=list)
    establishment: list[str] = Field(default_factory=list)
    sectors: list[Sector] = Field(default_factory=list)
    hipaa_covered_entity: bool | None = None
    citation: str
    confidence: Confidence


class CoveredElement(_Strict):
    """A data category that counts as covered information, possibly only from a date."""

    category: DataCategory
    effective_from: dt.date | None = None
    confidence: Confidence = Confidence.statute

    @model_validator(mode="before")
    @classmethod
    def _from_string(cls, value: Any) -> Any:
        return {"category": value} if isinstance(value, str) else value


class CoveredData(_Strict):
    """Which data counts: any personal data, or an identifier combined with an element, or a standalone one."""

    any_personal_data: bool = False
    identifiers: list[DataCategory] = Field(default_factory=list)
    elements: list[CoveredElement] = Field(default_factory=list)
    standalone: list[CoveredElement] = Field(default_factory=list)
    media: list[Medium] = Field(default_factory=lambda: [Medium.electronic, Medium.paper])
    citation: str
    confidence: Confidence

    @model_validator(mode="after")
    def _some_rule(self) -> CoveredData:
        if not self.any_personal_data and not (self.elements or self.standalone):
            raise ValueError("set any_personal_data or list elements/standalone")
        if self.elements and not self.identifiers:
            raise ValueError("elements need identifiers (e.g. [name])")
        return self


class BreachTest(_Strict):
    """What makes a covered breach notifiable under the regime."""

    breach_types: list[BreachType] = Field(min_length=1)
    confidentiality_trigger: Literal["access", "acquisition"] = "access"
    malicious_availability_counts: bool = False
    encryption_safe_harbour: bool = False
    risk_test: RiskTest
    citations: list[str] = Field(min_length=1)
    confidence: Confidence


class CalendarSpec(_Strict):
    """Time zone (IANA) and public-holiday calendar (``holidays`` package) for day-based clocks."""

    timezone: str
    holidays_country: str
    holidays_subdivision: str | None = None

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown IANA time zone {value!r}") from exc
        return value

    @model_validator(mode="after")
    def _calendar(self) -> CalendarSpec:
        try:
            holiday_calendar(self.holidays_country, self.holidays_subdivision)
        except NotImplementedError as exc:
            raise ValueError(f"holidays calendar not available: {exc}") from exc
        return self


@functools.lru_cache(maxsize=64)
def holiday_calendar(country: str, subdivision: str | None) -> holidays.HolidayBase:
    """The maintained public-holiday calendar for a country and optional subdivision."""
    return holidays.country_holidays(country, subdiv=subdivision)


class Source(_Strict):
    """A source the playbook was written from."""

    title: str
    url: str | None = None
    confidence: Confidence
    verified_on: dt.date | None = None


class Playbook(_Strict):
    """One regime's breach-notification rules. ``id`` equals the file name without ``.yaml``."""

    id: str = Field(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$")
    name: str
    regulator: str
    status: Literal["in_force", "proposed"] = "in_force"
    effective_from: dt.date | None = None
    calendar: CalendarSpec
    applies: Applicability
    covered_data: CoveredData
    breach_test: BreachTest
    audiences: list[AudienceRule] = Field(min_length=1)
    sources: list[Source] = Field(min_length=1)
    notes: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_audiences(self) -> Playbook:
        seen = [a.audience for a in self.audiences]
        if len(seen) != len(set(seen)):
            raise ValueError("each audience may appear only once")
        return self

    def audience(self, name: AudienceName) -> AudienceRule | None:
        """The rule for one audience, or None when the regime does not regulate it."""
        return next((a for a in self.audiences if a.audience == name), None)
