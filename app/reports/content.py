"""Building a report's content from the incident, its obligations, subject counts and dispatch outcomes,
plus the regime extras; and the diff between two versions.

Pure functions over a ``Sources`` snapshot (no session), so each regime's mapping is easy to test. No
subject contact data ever reaches here: subjects come in as counts (``app.subjects.service.reach``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from app.reports import regimes as r

HHS_TYPE_BY_CAUSE = {
    "hacking": "Hacking/IT Incident", "ransomware": "Hacking/IT Incident", "malware": "Hacking/IT Incident",
    "phishing": "Hacking/IT Incident", "credential_stuffing": "Hacking/IT Incident",
    "skimming": "Hacking/IT Incident", "social_engineering": "Hacking/IT Incident", "theft": "Theft",
    "loss": "Loss", "misdelivery": "Unauthorized Access/Disclosure", "insider_error": "Unauthorized Access/Disclosure",
    "insider_malicious": "Unauthorized Access/Disclosure", "misconfiguration": "Unauthorized Access/Disclosure",
    "other": "Other"}
HHS_LOCATION_BY_CAUSE = {"phishing": "Email", "misdelivery": "Email", "theft": "Laptop", "loss": "Laptop",
                         "hacking": "Network Server", "ransomware": "Network Server", "malware": "Network Server",
                         "credential_stuffing": "Network Server", "misconfiguration": "Network Server"}
INTERNAL_CAUSES = frozenset({"insider_error", "insider_malicious", "misdelivery", "misconfiguration", "loss"})


@dataclass(frozen=True)
class Sources:
    """What a report is built from. ``document``: the incident file (JSON); ``counts``: people affected;
    ``dispatch``: individual-notice outcomes; ``obligations``: ``[{regime, audience, part, required,
    status, due_at}]`` of the incident; ``notices``: approved individual notices per regime
    ``{regime: {id, channel, locale, rendered_sha256, text, approved_at}}`` (sample recipient only);
    ``substitute``: the substitute-notice decision document (``app.announcements.decision.as_document``) or
    None; ``public_notice``: the incident's public notice ``{slug, state, published_at, ends_at, stands_for,
    regimes}`` or None; ``first_notice_on``: the day the first individual notice was sent, if any."""

    incident_id: int
    document: Mapping[str, Any]
    counts: r.Counts
    dispatch: r.DispatchOutcomes
    obligations: list[dict[str, Any]]
    notices: Mapping[str, dict[str, Any]]
    today: dt.date
    substitute: Mapping[str, Any] | None = None
    public_notice: Mapping[str, Any] | None = None
    first_notice_on: dt.date | None = None


def _contact(doc: Mapping[str, Any], override: r.Contact | None) -> r.Contact:
    if override is not None:
        return override
    raw = (doc.get("controller") or {}).get("contact") or {}
    return r.Contact(**{k: raw.get(k) for k in ("name", "email", "phone")})


def _in(counts: r.Counts, prefix: str) -> int:
    return _in_map(counts.by_jurisdiction, prefix)


def _in_map(by_jurisdiction: Mapping[str, int], prefix: str) -> int:
    """People of ``by_jurisdiction`` (ISO 3166 code -> n) in ``prefix`` or its subdivisions."""
    return sum(n for code, n in by_jurisdiction.items() if code == prefix or code.startswith(prefix + "-"))


def _required(sources: Sources, regime: str, audience: str) -> bool:
    return any(o["regime"] == regime and o["audience"] == audience and o["required"]
               and o["status"] not in ("superseded", "not_required") for o in sources.obligations)


def _verdict(sources: Sources, regime: str) -> Mapping[str, Any] | None:
    verdicts = (sources.substitute or {}).get("verdicts") or []
    return next((v for v in verdicts if v.get("regime") == regime), None)


def public_communication(sources: Sources, regime: str) -> r.PublicCommunication | None:
    """The regime's substitute notice / public communication when the live decision requires or allows it
    (HIPAA 45 CFR 164.404(d)(2); GDPR Art. 34(3)(c)), with the public page's publication if it covers the
    regime; None when the decision does not call for one."""
    verdict = _verdict(sources, regime)
    if verdict is None or not (verdict.get("required") or verdict.get("allowed")):
        return None
    page = sources.public_notice
    published = bool(page and page.get("state") == "published" and regime in (page.get("regimes") or []))
    return r.PublicCommunication(
        decided="required" if verdict.get("required") else "allowed", citation=str(verdict.get("citation") or ""),
        basis=list(verdict.get("basis") or []), reasons=list(verdict.get("reasons") or []),
        stands_for=int(verdict.get("stands_for") or 0), published=published,
        published_at=page.get("published_at") if page and published else None,
        posting_ends_at=page.get("ends_at") if page and published else None,
        url_path=f"/notices/{page.get('slug')}" if page and published else None)


def default_consequences(doc: Mapping[str, Any]) -> str:
    """A plain statement of likely consequences from the C/I/A flags and data categories (editable)."""
    cats = ", ".join(doc.get("data_categories") or []) or "unspecified personal data"
    parts = []
    if (doc.get("confidentiality") or {}).get("affected"):
        parts.append(f"loss of confidentiality of {cats}, with a possible risk of fraud, identity theft or "
                     "unwanted contact")
    if (doc.get("integrity") or {}).get("affected"):
        parts.append("records may have been altered")
    if (doc.get("availability") or {}).get("affected"):
        parts.append("temporary loss of access to the data")
    return "; ".join(parts) or f"limited: {cats} involved, no confidentiality, integrity or availability loss found"


def measures_before(doc: Mapping[str, Any]) -> list[str]:
    """EDPB template section 9 from the incident file's protection and availability (editable in extras)."""
    prot, avail = doc.get("protection") or {}, doc.get("availability") or {}
    return [m for m, present in (("encryption", prot.get("encrypted")), ("pseudonymisation", prot.get("hashed")),
                                 ("backup", avail.get("backup_available"))) if present]


def risk_outcome(sources: Sources, regime: str, extras: r.GdprExtras) -> r.RiskAssessment:
    """EDPB template section 11: as the extras state it, else from the decided obligations: communication to
    the subjects required (Art. 34(1)) is a high risk, notification only (Art. 33(1)) a risk, neither an
    unlikely risk."""
    if extras.risk_outcome is not None:
        return r.RiskAssessment(outcome=extras.risk_outcome, method=extras.risk_method or "stated by the controller")
    outcome: r.RiskOutcome
    if _required(sources, regime, "individuals"):
        outcome = "high_risk"
    elif _required(sources, regime, "regulator"):
        outcome = "risk"
    else:
        outcome = "unlikely_risk"
    return r.RiskAssessment(outcome=outcome, method=f"the {regime} playbook's Art. 33(1) and 34(1) tests applied "
                                                    "to the incident file (breach-notify obligations)")


def _nature(doc: Mapping[str, Any]) -> r.Nature:
    conf, avail = doc.get("confidentiality") or {}, doc.get("availability") or {}
    prot = doc.get("protection") or {}
    exf = conf.get("exfiltrated", False)
    subtype = None if not conf.get("affected") else (
        "exfiltrated_or_disclosed" if exf is True else "cannot_assess" if exf == "unknown" else "not_exfiltrated")
    unintelligible = "no" if not prot.get("encrypted") else ("likely_subverted" if prot.get("key_compromised")
                                                               else "intact")
    cause = str(doc.get("cause") or "other")
    quadrant = ("internal" if cause in INTERNAL_CAUSES else "external") + "/" + (
        "malicious" if doc.get("malicious") else "non-malicious")
    return r.Nature(description=doc.get("description"), confidentiality=bool(conf.get("affected")),
                    confidentiality_subtype=subtype, integrity=bool((doc.get("integrity") or {}).get("affected")),
                    availability=bool(avail.get("affected")), availability_permanent=bool(avail.get("permanent")),
                    unintelligible=unintelligible, incident_type=cause, cause_quadrant=quadrant)


def gdpr(sources: Sources, extras: r.GdprExtras, phase: str, number: int, regime: str) -> r.GdprContent:
    """GDPR Art. 33(3): (a) nature, categories and approximate numbers of people and records; (b) contact
    point; (c) likely consequences; (d) measures taken or proposed; EDPB template sections."""
    doc, counts = sources.document, sources.counts
    controller = doc.get("controller") or {}
    return r.GdprContent(
        notification={"type": "new" if phase == "initial" else "follow_up", "phase": phase,
                      "complete": extras.complete if extras.complete is not None else phase == "final",
                      "previous_version": number - 1 if number > 1 else None,
                      "internal_reference": extras.internal_reference or f"incident-{sources.incident_id}"},
        controller={"name": controller.get("name"), "establishment": controller.get("establishment"),
                    "sector": controller.get("sector")},
        reporting_person=extras.reporting_person, contact_point=_contact(doc, extras.contact),
        timeline={"occurred_at": doc.get("occurred_at"), "aware_at": doc.get("aware_at"),
                  "discovered_by": doc.get("discovered_by")},
        nature=_nature(doc),
        data_subjects={"categories": extras.subject_categories or ["unspecified"],
                       "approximate_number": counts.covered, "who": counts.regime_scope or "people",
                       "number_type": "approximate" if counts.is_estimate else "exact",
                       "vulnerable": bool((doc.get("subjects") or {}).get("vulnerable"))},
        personal_data={"categories": list(doc.get("data_categories") or []),
                       "approximate_records": extras.approximate_records if extras.approximate_records is not None
                       else counts.covered, "record_type": extras.record_type or "one record per data subject"},
        measures_before_breach=list(extras.measures_before_breach if extras.measures_before_breach is not None
                                    else measures_before(doc)),
        likely_consequences=extras.likely_consequences or default_consequences(doc), severity=extras.severity,
        risk=risk_outcome(sources, regime, extras),
        measures_taken=doc.get("measures_taken"), measures_proposed=extras.measures_proposed,
        communication_to_subjects=r.CommunicationToSubjects(
            **sources.dispatch.model_dump(), public_communication=public_communication(sources, regime)),
        other_authorities=list(extras.other_authorities or []),
        cross_border={k: v for k, v in counts.by_jurisdiction.items() if k != "unknown"}, counts=counts)


def hhs_portal_row(*, name: str, state: str, entity_type: str, individuals: int, submitted: dt.date,
                   types: list[str], locations: list[str], ba_present: bool, description: str) -> r.HhsPortalRow:
    """The portal CSV row: lists comma-joined (``"Theft, Loss"``), date ``MM/DD/YYYY``, ``Yes``/``No``."""
    return r.HhsPortalRow(
        name_of_covered_entity=name, state=state, covered_entity_type=entity_type,
        individuals_affected=str(individuals), breach_submission_date=submitted.strftime("%m/%d/%Y"),
        type_of_breach=", ".join(types), location_of_breached_information=", ".join(locations),
        business_associate_present="Yes" if ba_present else "No", web_description=description)


def hhs(sources: Sources, extras: r.HhsExtras, phase: str, number: int, regime: str) -> r.HhsContent:
    """HHS breach report (45 CFR 164.408; us.md §1.6) with the public portal row (§1.7)."""
    doc, counts = sources.document, sources.counts
    controller = doc.get("controller") or {}
    cause = str(doc.get("cause") or "other")
    paper = (doc.get("protection") or {}).get("medium") == "paper"
    types: list[str] = list(extras.type_of_breach or []) or [HHS_TYPE_BY_CAUSE.get(cause, "Other")]
    locations: list[str] = list(extras.location or []) or [
        "Paper/Films" if paper else HHS_LOCATION_BY_CAUSE.get(cause, "Other")]
    establishment = str(controller.get("establishment") or "")
    state = extras.state if extras.state is not None else (establishment[3:5] if establishment.startswith("US-")
                                                            else "")
    entity_type = extras.covered_entity_type or ("Business Associate" if extras.business_associate_present
                                                 else "Healthcare Provider")
    name = extras.covered_entity_name if extras.covered_entity_name is not None else str(controller.get("name"))
    description = extras.web_description if extras.web_description is not None else str(
        doc.get("description") or "")
    submitted = extras.submission_date or sources.today
    substitute = public_communication(sources, regime)
    return r.HhsContent(
        breach_affecting="500 or more" if counts.covered >= 500 else "fewer than 500",
        report_type="initial" if phase == "initial" else "addendum",
        covered_entity=r.HhsCoveredEntity(name=name, type=entity_type, state=state, address=extras.entity_address,
                                          contact=_contact(doc, extras.entity_contact)),
        business_associate_present=extras.business_associate_present,
        breach=r.HhsBreach(occurred_at=doc.get("occurred_at"), ended_on=extras.breach_end,
                           discovered_at=doc.get("aware_at"), individuals_affected=counts.covered,
                           type_of_breach=types, location=locations,
                           phi_categories=list(doc.get("data_categories") or []), description=description),
        safeguards=list(extras.safeguards or []), actions_taken=extras.actions_taken or doc.get("measures_taken"),
        notice=r.HhsNotice(individual_notice=sources.dispatch,
                           individual_notice_date=extras.individual_notice_date or sources.first_notice_on,
                           substitute_notice_required=bool(substitute and substitute.decided == "required"),
                           substitute_notice=substitute, media_notice_required=_required(sources, regime, "media")),
        submission_date=submitted,
        portal_row=hhs_portal_row(name=name, state=state, entity_type=entity_type, individuals=counts.covered,
                                  submitted=submitted, types=types, locations=locations,
                                  ba_present=extras.business_associate_present, description=description),
        counts=counts)


def ca(sources: Sources, extras: r.CaExtras, phase: str, number: int, regime: str) -> r.CaContent:
    """California AG: sample notice (the approved us-ca notice rendered for a sample recipient, no PII)."""
    doc = sources.document
    return r.CaContent(
        residents_affected=_in(sources.counts, "US-CA"), sample_notice=sources.notices.get(regime),
        law_enforcement={"breach_dates": [doc.get("occurred_at")] if doc.get("occurred_at") else [],
                         "discovery_dates": [doc.get("aware_at")],
                         "consumer_notice_dates": [d.isoformat() for d in (
                             extras.consumer_notice_dates if extras.consumer_notice_dates is not None
                             else [sources.first_notice_on] if sources.first_notice_on else [])],
                         "personal_information_types": list(doc.get("data_categories") or []),
                         "small_business": extras.small_business},
        counts=sources.counts)


def tx(sources: Sources, extras: r.TxExtras, phase: str, number: int, regime: str) -> r.TxContent:
    """Texas AG: Texans affected and notified (by mail or email), measures, law enforcement."""
    doc = sources.document
    texans = _in(sources.counts, "US-TX")
    notified = extras.texans_notified if extras.texans_notified is not None else _in_map(
        sources.dispatch.notified_by_jurisdiction, "US-TX")
    return r.TxContent(description=doc.get("description"), texans_affected=texans, texans_notified=notified,
                       notified_by=list(extras.notified_by or []), measures_taken=doc.get("measures_taken"),
                       measures_planned=extras.measures_planned,
                       law_enforcement_involved=extras.law_enforcement_involved,
                       communication_to_subjects=sources.dispatch, counts=sources.counts)


def fl(sources: Sources, extras: r.FlExtras, phase: str, number: int, regime: str) -> r.FlContent:
    """Florida: summary, Floridians affected, services offered, notice copy or why none, contact person."""
    doc = sources.document
    return r.FlContent(summary_of_events=doc.get("description"), floridians_affected=_in(sources.counts, "US-FL"),
                       services_offered=extras.services_offered, notice_copy=sources.notices.get(regime),
                       reason_no_notice=extras.reason_no_notice, contact_person=_contact(doc, extras.contact),
                       good_cause_extension=extras.good_cause_extension, counts=sources.counts)


def pipl(sources: Sources, extras: r.PiplExtras, phase: str, number: int, regime: str) -> r.PiplContent:
    """PIPL Art. 57: categories, cause, possible harm, remedial and individual measures, contact."""
    doc = sources.document
    return r.PiplContent(
        information_categories=list(doc.get("data_categories") or []), cause=str(doc.get("cause") or "other"),
        description=doc.get("description"), possible_harm=extras.possible_harm or default_consequences(doc),
        remedial_measures=doc.get("measures_taken"), individual_measures=extras.individual_measures,
        contact=_contact(doc, extras.contact), people_affected=sources.counts.covered,
        cac_report_required=sources.counts.covered >= 1_000_000, individuals_notified=sources.dispatch,
        individuals_exempt_reason=extras.individuals_exempt_reason, counts=sources.counts)


BUILDERS: dict[str, Any] = {"gdpr-art33": gdpr, "hhs-breach": hhs, "ca-ag-sample": ca, "tx-ag-report": tx,
                            "fl-ag-report": fl, "pipl-art57": pipl}


def build(report_type: str, sources: Sources, extras: BaseModel, *, phase: str, number: int,
          regime: str) -> dict[str, Any]:
    """The content JSON of ``report_type`` (validated by its content model)."""
    model: BaseModel = BUILDERS[report_type](sources, extras, phase, number, regime)
    return model.model_dump(mode="json")


def diff(before: Any, after: Any, path: str = "") -> list[dict[str, Any]]:
    """Changes from ``before`` to ``after``: ``[{"path": "a.b", "op": "added|removed|changed", "before",
    "after"}]``, recursing into objects (lists compare whole)."""
    if isinstance(before, Mapping) and isinstance(after, Mapping):
        out: list[dict[str, Any]] = []
        for key in sorted(set(before) | set(after)):
            sub = f"{path}.{key}" if path else str(key)
            if key not in before:
                out.append({"path": sub, "op": "added", "before": None, "after": after[key]})
            elif key not in after:
                out.append({"path": sub, "op": "removed", "before": before[key], "after": None})
            else:
                out.extend(diff(before[key], after[key], sub))
        return out
    return [] if before == after else [{"path": path, "op": "changed", "before": before, "after": after}]
