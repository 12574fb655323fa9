"""What a notice says: the per-incident facts and the per-recipient fields, as pydantic models.

``NoticeContext.template_vars()`` gives the templates (and the content checks) a plain mapping::

    {"facts": {...IncidentFacts..., "contact": {...}, "remedies": [{...}, ...]},
     "recipient": {...Recipient...} or None,
     "notice_date": date}

Field paths used by content elements (``app.notices.elements``) are dotted paths into that mapping,
e.g. ``facts.what_happened`` or ``facts.contact.toll_free_phone``. Dates stay ``datetime.date`` objects
so the templates format them for the locale (``|date`` filter).

The facts are free text written by the incident team. They must describe categories of data ("Social
Security number"), never the breached values themselves; ``app.notices.checks.check_forbidden`` enforces
that on the rendered text.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, field_validator, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)


def web_address(value: str | None) -> str | None:
    """``value`` if it is an absolute ``http``/``https`` address with a host, kept as written (it is printed
    in notices and becomes a link in their HTML, so ``javascript:`` or ``data:`` must never pass)."""
    if value is None:
        return None
    parts = urlsplit(value)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname or any(c.isspace() for c in value):
        raise ValueError("must be a web address starting with https:// or http://, e.g. https://example.org/help")
    return value


class Contact(_Strict):
    """Who affected people can ask: the person or department responsible (``name``) and how to reach
    them. HIPAA 45 CFR 164.404(c)(1)(E) needs at least one of a toll-free number, email, website or
    postal address; California asks for toll-free numbers of the call centre."""

    name: str = Field(min_length=1)
    email: str | None = None
    phone: str | None = None
    toll_free_phone: str | None = None
    hours: str | None = None
    website: str | None = None
    postal_address: str | None = None

    @field_validator("website")
    @classmethod
    def _web(cls, value: str | None) -> str | None:
        return web_address(value)

    @model_validator(mode="after")
    def _reachable(self) -> Contact:
        if not any((self.email, self.phone, self.toll_free_phone, self.website, self.postal_address)):
            raise ValueError("contact needs at least one of email, phone, toll_free_phone, website, "
                             "postal_address")
        return self


class Remedy(_Strict):
    """A remedy offered, e.g. ``kind="credit_monitoring"``, with how to enrol. The personal enrolment code
    is on ``Recipient``."""

    kind: str = Field(min_length=1)
    description: str = Field(min_length=1)
    provider: str | None = None
    duration_months: int | None = Field(default=None, ge=1)
    enrolment_url: str | None = None
    enrol_by: dt.date | None = None

    @field_validator("enrolment_url")
    @classmethod
    def _web(cls, value: str | None) -> str | None:
        return web_address(value)


class IncidentFacts(_Strict):
    """The free-text facts of one incident's notice, shared by all its recipients.

    ``cause`` is required by PIPL Art. 57 (China); ``likely_consequences`` by GDPR Art. 34(2) / 33(3)(c)
    and PIPL Art. 57; ``breach_start``/``breach_end`` by Cal. Civ. Code 1798.82(d) and HIPAA
    164.404(c)(1)(A) when known; ``law_enforcement_delay`` says whether notice was delayed by a
    law-enforcement investigation (California). ``us_credit_bureaus`` adds the three US consumer
    reporting agencies' contacts (California, when an SSN or government id number was involved).
    """

    organisation_name: str = Field(min_length=1)
    what_happened: str = Field(min_length=1)
    cause: str | None = None
    data_involved: list[str] = Field(min_length=1)
    data_not_involved: list[str] = Field(default_factory=list)
    likely_consequences: str = Field(min_length=1)
    measures_taken: str = Field(min_length=1)
    what_you_can_do: str = Field(min_length=1)
    remedies: list[Remedy] = Field(default_factory=list)
    contact: Contact
    breach_start: dt.date | None = None
    breach_end: dt.date | None = None
    discovered_on: dt.date
    law_enforcement_delay: bool = False
    us_credit_bureaus: bool = False
    default_locale: str = "en"

    @model_validator(mode="after")
    def _dates(self) -> IncidentFacts:
        if self.breach_start and self.breach_end and self.breach_end < self.breach_start:
            raise ValueError("breach_end is before breach_start")
        if self.breach_start and self.discovered_on < self.breach_start:
            raise ValueError("discovered_on is before breach_start: a breach is discovered once it has begun")
        return self


class Recipient(_Strict):
    """One affected person: ``full_name``, ``preferred_language`` (BCP 47 tag such as ``pt-BR``; picks
    the template locale), the ``personal_link`` to the full notice, an optional ``enrolment_code`` and,
    for letters, ``postal_address``: the lines of the address block below the name (at most 6) and
    ``address_block``: the whole block with the addressee in the destination country's order (at most 9;
    ``app.letters.addresses``), which letter templates print instead when it is given."""

    full_name: str = Field(min_length=1)
    preferred_language: str | None = None
    personal_link: HttpUrl
    enrolment_code: str | None = None
    postal_address: tuple[str, ...] = Field(default=(), max_length=6)
    address_block: tuple[str, ...] = Field(default=(), max_length=9)

    @field_validator("full_name")
    @classmethod
    def _one_line(cls, value: str) -> str:
        if "\n" in value or "\r" in value:
            raise ValueError("full_name must be one line")
        return value

    @field_validator("postal_address", "address_block")
    @classmethod
    def _address_lines(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if any("\n" in line or "\r" in line for line in value):
            raise ValueError("each postal_address line must be one line")
        return tuple(line.strip() for line in value if line.strip())


class NoticeContext(_Strict):
    """Everything one rendered notice needs. ``recipient`` is ``None`` for the public announcement and
    the regulator cover letter; ``notice_date`` is the date the notice is dated (Cal. Civ. Code
    1798.82(d): date of the notice)."""

    facts: IncidentFacts
    recipient: Recipient | None = None
    notice_date: dt.date

    def template_vars(self) -> dict[str, Any]:
        """The plain mapping given to the templates (see the module docstring)."""
        data = self.model_dump(mode="python")
        if self.recipient is not None:
            data["recipient"]["personal_link"] = str(self.recipient.personal_link)
        return data
