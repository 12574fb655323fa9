"""Generated wording: a count agrees with its noun, a one-day period prints one date, a recipient is named
once. Each test reads the text a user sees (obligation reasons, notices, the call-centre kit, pages)."""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

import pytest
from flask import Flask, render_template_string

from app.callcentre.kit import KitFacts, render_html
from app.incidents.schema import IncidentFile
from app.notices.context import IncidentFacts
from app.notices.rendering import NoticeRenderer
from app.playbooks.engine import Assessment, Obligation, assess
from app.playbooks.loader import load_playbooks
from app.wording import plural
from tests.notices.notices_sample import TEMPLATES, context
from tests.notices.notices_workflow_sample import FACTS
from tests.support import EXAMPLE_INCIDENT, HIPAA_CLINIC

PLAYBOOKS = load_playbooks()
NOW = dt.datetime(2026, 4, 2, tzinfo=dt.UTC)
# The clinic in New York, 600 patients there.
NY_CLINIC: dict[str, Any] = {**HIPAA_CLINIC, "aware_at": "2026-04-01T09:00:00-04:00",
                             "controller": {**HIPAA_CLINIC["controller"], "establishment": "US-NY"},
                             "subjects": {"count": 600, "by_jurisdiction": {"US-NY": 600}}}


def _assess(data: dict[str, Any]) -> Assessment:
    return assess(incident=IncidentFile.model_validate(data), playbooks=PLAYBOOKS, now=NOW)


def _ob(result: Assessment, regime: str, audience: str) -> Obligation:
    return next(o for o in result.obligations if (o.regime, o.audience) == (regime, audience))


def test_plural_takes_the_singular_for_exactly_one() -> None:
    assert plural(1, "person", "people") == "1 person"
    assert plural(0, "person", "people") == "0 people"
    assert plural(2, "person", "people") == "2 people"
    assert plural(1, "letter") == "1 letter" and plural(5, "letter") == "5 letters"
    assert plural(1.0, "hour") == "1 hour" and plural(1.5, "hour") == "1.5 hours" and plural(6.0, "hour") == "6 hours"
    assert plural(1, "person has", "people have") == "1 person has"


def test_pages_have_the_plural_filter(app: Flask) -> None:
    with app.test_request_context():
        text = render_template_string("{{ 1 | plural('person', 'people') }}; {{ 3 | plural('person', 'people') }}; "
                                      "{{ [1] | length | plural('problem') }}")
    assert text == "1 person; 3 people; 1 problem"


def test_obligation_reasons_count_one_person_in_the_singular() -> None:
    one = copy.deepcopy(NY_CLINIC) | {"subjects": {"count": 1, "by_jurisdiction": {"US-NY": 1}}}
    result = _assess(one)
    reasons = [r for o in result.obligations for r in o.reasons]
    assert "1 individual in total: < 500 holds" in _ob(result, "us-hipaa", "regulator").reasons
    assert "1 resident of US-NY: > 5000 does not hold" in _ob(result, "us-ny", "consumer_reporting_agencies").reasons
    assert any(r.endswith("(1 person affected)") for r in _ob(result, "us-ny", "public").reasons)
    assert not [r for r in reasons if any(bad in r for bad in ("1 people", "1 individuals", "1 residents"))]
    # the same reasons for 600 people stay plural
    many = [r for o in _assess(NY_CLINIC).obligations for r in o.reasons]
    assert "600 individuals in total: >= 500 holds" in many and any("(600 people affected)" in r for r in many)


def test_a_one_hour_outage_is_one_hour() -> None:
    data = copy.deepcopy(EXAMPLE_INCIDENT)
    data["availability"]["outage_hours"] = 1
    reasons = [r for o in _assess(data).obligations for r in o.reasons]
    assert "restored from backup within 1 hour; the outage harmed no one" in reasons
    assert not [r for r in reasons if "1 hours" in r]


def test_deadline_units_read_as_written() -> None:
    result = _assess(NY_CLINIC)
    assert any(r.startswith("due 5 business days after the us-hipaa regulator notice")
               for r in _ob(result, "us-ny", "regulator").reasons)
    assert any(r.startswith("due 60 calendar days after discovery")
               for r in _ob(result, "us-hipaa", "individuals").reasons)


def test_the_new_york_attorney_general_is_named_once() -> None:
    # two parts are due: the notice to the AG, Department of State and State Police, and the copy of the HHS
    # notice to the AG; the obligation used to name the AG twice.
    regulator = _ob(_assess(NY_CLINIC), "us-ny", "regulator")
    assert [p.name for p in regulator.parts if p.required] == [
        "notice to AG, Department of State and State Police", "copy of the HHS notice to the AG"]
    assert regulator.recipient == "New York Attorney General; Department of State; Division of State Police"


ONE_DAY = {  # the notice's sentence for a breach on one day (2 March 2026), per locale
    "en": "The incident took place on March 2, 2026.",
    "de": "Der Vorfall ereignete sich am 2. März 2026.",
    "fr": "L'incident a eu lieu le 2 mars 2026.",
    "zh": "事件发生于2026年3月2日。",
}
BETWEEN = {"en": "between", "de": "zwischen", "fr": "entre le", "zh": "之间"}


@pytest.mark.parametrize("locale", sorted(ONE_DAY))
def test_a_one_day_breach_prints_one_date_in_every_notice(locale: str) -> None:
    day = dt.date(2026, 3, 2)
    ctx = context(locale, breach_start=day, breach_end=day)
    renderer = NoticeRenderer(TEMPLATES)
    for channel in ("email", "letter", "announcement"):
        notice = renderer.render_for(ctx, regime="default", channel=channel)
        for name, text in notice.parts.items():
            if name == "subject":
                continue
            assert ONE_DAY[locale] in text, (channel, name)
            assert BETWEEN[locale] not in text, (channel, name)
    # a real range still prints both ends
    ranged = renderer.render_for(context(locale), regime="default", channel="email").parts["text"]
    assert BETWEEN[locale] in ranged


@pytest.mark.parametrize(("locale", "sentence"), [("en", "It took place on March 30, 2026."),
                                                  ("de", "Der Vorfall ereignete sich am 30. März 2026."),
                                                  ("fr", "L\u2019incident a eu lieu le 30 mars 2026."),
                                                  ("zh", "事件发生于 2026年3月30日.")])
def test_the_call_centre_kit_says_one_date_for_one_day(locale: str, sentence: str) -> None:
    facts = dict(FACTS["facts"], breach_start="2026-03-30", breach_end="2026-03-30")
    kit = KitFacts(IncidentFacts.model_validate(facts), "approved notice us-ny/individuals letter v1", False)
    for document in ("script", "faq"):
        page = render_html(kit, locale=locale, document=document, today=dt.date(2026, 4, 2))
        assert sentence in page, document
