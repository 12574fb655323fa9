from __future__ import annotations

import datetime as dt

import pytest
from pydantic import ValidationError

from app.notices.context import Contact, Recipient
from app.notices.elements import ELEMENT_SETS, elements_for
from tests.notices.notices_sample import LINK, context, facts


def test_template_vars_shape() -> None:
    values = context().template_vars()
    assert set(values) == {"facts", "recipient", "notice_date"}
    assert values["recipient"]["personal_link"] == LINK
    assert values["facts"]["contact"]["toll_free_phone"] == "1-800-555-0100"
    assert values["facts"]["discovered_on"] == dt.date(2026, 3, 4)


def test_contact_needs_a_means() -> None:
    with pytest.raises(ValidationError, match="at least one of"):
        Contact(name="Privacy Office")


def test_facts_validation() -> None:
    with pytest.raises(ValidationError, match="breach_end is before breach_start"):
        facts(breach_start=dt.date(2026, 3, 5), breach_end=dt.date(2026, 3, 1))
    with pytest.raises(ValidationError):
        facts(data_involved=[])
    with pytest.raises(ValidationError):
        facts(ssn="123-45-6789")  # unknown keys are errors: breached values have no place here


def test_recipient_name_is_one_line() -> None:
    with pytest.raises(ValidationError):
        Recipient(full_name="A\nB", personal_link=LINK)


def test_element_sets_are_cited_and_unique() -> None:
    for key, elements in ELEMENT_SETS.items():
        assert elements, key
        assert all(e.citation for e in elements), key
        assert len({e.id for e in elements}) == len(elements), key
    assert [e.text for e in ELEMENT_SETS["us-ca"] if e.kind in ("title", "heading")] == [
        "Notice of Data Breach", "What Happened", "What Information Was Involved", "What We Are Doing",
        "What You Can Do", "For More Information"]
    combined = elements_for("us-hipaa", "us-hipaa", "eu-gdpr")
    assert len(combined) == len(ELEMENT_SETS["us-hipaa"]) + len(ELEMENT_SETS["eu-gdpr"])
