"""Required content elements of breach notices to individuals, as plain Python data.

A ``ContentElement`` is what ``app.notices.checks.check_elements`` looks for in a rendered notice:

* ``title``: ``text`` is on a line of its own (a block of its own in HTML), compared case-insensitively;
* ``heading``: the same, a trailing ``:`` or ``?`` allowed (``What Happened?``);
* ``phrase``: ``text`` (or one of ``alternatives``) appears anywhere;
* ``fact``: the context value at ``field`` (a dotted path into ``NoticeContext.template_vars()``; a path
  through a list maps over it) is non-empty and appears in the notice: text verbatim (whitespace and case
  aside), every item of a list, a date in one of the locale's Babel formats (short/medium/long/full);
  booleans and numbers are checked for presence only. With ``any_of`` (instead of ``field``) one of the
  paths is enough. ``optional`` facts are checked only when the context has a value ("if known").

The playbook YAML (owned by the playbooks engine) may carry the same shape; ``ELEMENT_SETS`` holds the
sets known here. Sources: ``shared/legal/us.md`` 1.3 and 2.1, ``shared/legal/international.md`` 1 and 3.
Not legal advice; the California minimum-content list rests on secondary sources (see us.md 2.1).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["title", "heading", "fact", "phrase"]

CONTACT_MEANS = ("facts.contact.toll_free_phone", "facts.contact.phone", "facts.contact.email",
                 "facts.contact.website", "facts.contact.postal_address")


@dataclass(frozen=True)
class ContentElement:
    """One required element of a notice (see the module docstring for how each ``kind`` is checked).

    ``id`` is stable (e.g. ``ca.heading.what_happened``); ``citation`` the legal source;
    ``description`` what a reviewer is told when it is missing.
    """

    id: str
    kind: Kind
    text: str | None = None
    field: str | None = None
    citation: str | None = None
    any_of: tuple[str, ...] = ()
    optional: bool = False
    alternatives: tuple[str, ...] = ()
    description: str = ""

    def __post_init__(self) -> None:
        if self.kind in ("title", "heading", "phrase") and not self.text:
            raise ValueError(f"element {self.id}: kind {self.kind} needs text")
        if self.kind == "fact" and bool(self.field) == bool(self.any_of):
            raise ValueError(f"element {self.id}: a fact needs exactly one of field or any_of")


def _fact(id_: str, field: str, citation: str, description: str, *, optional: bool = False) -> ContentElement:
    return ContentElement(id_, "fact", field=field, citation=citation, description=description,
                          optional=optional)


def _contact(id_: str, citation: str, means: tuple[str, ...] = CONTACT_MEANS) -> ContentElement:
    return ContentElement(id_, "fact", any_of=means, citation=citation,
                          description="a way to contact the organisation")


CA = "Cal. Civ. Code 1798.82(d)"
CA_FORMAT = f"{CA}(1)"
CA_CONTENT = f"{CA}(2)"
CALIFORNIA_HEADINGS = ("What Happened", "What Information Was Involved", "What We Are Doing",
                       "What You Can Do", "For More Information")

CALIFORNIA: tuple[ContentElement, ...] = (
    ContentElement("ca.title", "title", text="Notice of Data Breach", citation=CA_FORMAT,
                   description='the title "Notice of Data Breach"'),
    *(ContentElement("ca.heading." + h.lower().replace(" ", "_"), "heading", text=h, citation=CA_FORMAT,
                     description=f'the heading "{h}"') for h in CALIFORNIA_HEADINGS),
    _fact("ca.notifier", "facts.organisation_name", CA_CONTENT, "name of the business giving notice"),
    _contact("ca.contact", CA_CONTENT),
    _fact("ca.pi_types", "facts.data_involved", CA_CONTENT, "types of personal information involved"),
    _fact("ca.breach_date", "facts.breach_start", CA_CONTENT, "date or date range of the breach, if known",
          optional=True),
    _fact("ca.notice_date", "notice_date", CA_CONTENT, "date of the notice"),
    _fact("ca.le_delay", "facts.law_enforcement_delay", CA_CONTENT,
          "whether notice was delayed by a law-enforcement investigation"),
    _fact("ca.description", "facts.what_happened", CA_CONTENT, "general description of the incident"),
)
"""California consumer notice: mandated title and five headings (format) plus the minimum content."""

CALIFORNIA_SSN_OR_ID: tuple[ContentElement, ...] = (
    *(ContentElement(f"ca.cra.{name.lower()}", "phrase", text=name, citation=CA_CONTENT,
                     description=f"toll-free number and address of {name}") for name in
      ("Equifax", "Experian", "TransUnion")),
    _fact("ca.id_theft_services", "facts.remedies.description", CA_CONTENT,
          "offer of identity-theft prevention and mitigation services (at least 12 months, free)"),
)
"""Extra California elements when an SSN, driver's licence or California ID number was involved."""

HIPAA = "45 CFR 164.404(c)(1)"
HIPAA_INDIVIDUAL: tuple[ContentElement, ...] = (
    _fact("hipaa.what_happened", "facts.what_happened", f"{HIPAA}(A)", "brief description of what happened"),
    _fact("hipaa.breach_date", "facts.breach_start", f"{HIPAA}(A)", "date of the breach, if known",
          optional=True),
    _fact("hipaa.discovery_date", "facts.discovered_on", f"{HIPAA}(A)", "date of discovery"),
    _fact("hipaa.phi_types", "facts.data_involved", f"{HIPAA}(B)", "types of unsecured PHI involved"),
    _fact("hipaa.individual_steps", "facts.what_you_can_do", f"{HIPAA}(C)",
          "steps individuals should take to protect themselves"),
    _fact("hipaa.entity_actions", "facts.measures_taken", f"{HIPAA}(D)",
          "what the entity is doing to investigate, mitigate harm and protect against further breaches"),
    _contact("hipaa.contact", f"{HIPAA}(E)", ("facts.contact.toll_free_phone", "facts.contact.email",
                                             "facts.contact.website", "facts.contact.postal_address")),
)
"""HIPAA individual notice content, in plain language (164.404(c)(2))."""

GDPR = "GDPR Art. 34(2)"
GDPR_ART34: tuple[ContentElement, ...] = (
    _fact("gdpr.nature", "facts.what_happened", GDPR, "nature of the personal data breach"),
    _fact("gdpr.contact_point", "facts.contact.name", f"{GDPR}, Art. 33(3)(b)",
          "name of the DPO or other contact point"),
    _contact("gdpr.contact_details", f"{GDPR}, Art. 33(3)(b)"),
    _fact("gdpr.consequences", "facts.likely_consequences", f"{GDPR}, Art. 33(3)(c)",
          "likely consequences of the breach"),
    _fact("gdpr.measures", "facts.measures_taken", f"{GDPR}, Art. 33(3)(d)",
          "measures taken or proposed, including mitigation"),
)
"""GDPR communication to the data subject (clear and plain language)."""

PIPL = "PIPL Art. 57"
PIPL_ART57: tuple[ContentElement, ...] = (
    _fact("pipl.categories", "facts.data_involved", f"{PIPL}(1)", "categories of information affected"),
    _fact("pipl.cause", "facts.cause", f"{PIPL}(1)", "cause of the incident"),
    _fact("pipl.harm", "facts.likely_consequences", f"{PIPL}(1)", "possible harm"),
    _fact("pipl.remedial_measures", "facts.measures_taken", f"{PIPL}(2)", "the handler's remedial measures"),
    _fact("pipl.individual_measures", "facts.what_you_can_do", f"{PIPL}(2)",
          "measures individuals can take to reduce harm"),
    _contact("pipl.contact", f"{PIPL}(3)"),
)
"""China PIPL Art. 57 notice to individuals (three items)."""

GBT = "GB/T 35273-2020 10.2"
GBT_35273: tuple[ContentElement, ...] = (
    _fact("gbt.what_happened", "facts.what_happened", GBT, "content of the incident"),
    _fact("gbt.impact", "facts.likely_consequences", GBT, "possible impact"),
    _fact("gbt.measures", "facts.measures_taken", GBT, "measures taken or to be taken"),
    _fact("gbt.advice", "facts.what_you_can_do", GBT, "advice for self-protection"),
    _fact("gbt.remedies", "facts.remedies.description", GBT, "remedies offered to individuals"),
    _fact("gbt.responsible", "facts.contact.name", GBT,
          "person and department responsible for personal-information protection"),
    _contact("gbt.contact", GBT),
)
"""China GB/T 35273 (recommended national standard) incident notice to individuals."""

ELEMENT_SETS: dict[str, tuple[ContentElement, ...]] = {
    "us-ca": CALIFORNIA,
    "us-ca-ssn": CALIFORNIA_SSN_OR_ID,
    "us-hipaa": HIPAA_INDIVIDUAL,
    "eu-gdpr": GDPR_ART34,
    "cn-pipl": PIPL_ART57,
    "cn-gbt35273": GBT_35273,
}
"""Known element sets by key; combine with ``elements_for``."""


def elements_for(*keys: str) -> tuple[ContentElement, ...]:
    """The union of the named sets, in order, each element id once; ``KeyError`` for an unknown key."""
    seen: dict[str, ContentElement] = {}
    for key in keys:
        for element in ELEMENT_SETS[key]:
            seen.setdefault(element.id, element)
    return tuple(seen.values())
