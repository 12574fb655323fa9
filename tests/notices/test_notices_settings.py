"""The notice checks' settings come from the environment like every other setting (``app.config.SETTINGS``):
readability limits per language, the most SMS segments, and the GSM-7 normalisation of SMS text, which a
version keeps from its approval and is sent with."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import Session

from app import create_app
from app.channels.base import SmsOutbound
from app.config import from_environment
from app.dispatch.outbox import Job
from app.dispatch.render import MessageBuilder, load_versions
from app.dispatch.settings import from_config
from tests.notices.notices_workflow_sample import act, draft, facts, file_incident, put_facts
from tests.support import EXAMPLE_INCIDENT, login

TEST_KEYS = ("DATABASE_URL", "INSTANCE_PATH", "SECRET_KEY", "CLOCK", "TESTING")


def env_client(app: Flask, monkeypatch: pytest.MonkeyPatch, **env: str) -> FlaskClient:
    """A client of an app built like the test app, with ``BREACH_NOTIFY_<name>`` set in the environment."""
    for name, value in env.items():
        monkeypatch.setenv(f"BREACH_NOTIFY_{name}", value)
    return create_app({k: app.config[k] for k in TEST_KEYS}).test_client()


def test_settings_are_read_and_checked_from_the_environment() -> None:
    defaults = from_environment({})
    assert (defaults["NOTICE_MAX_GRADE"], defaults["NOTICE_MAX_GRADE_DE"], defaults["NOTICE_MIN_EASE_FR"],
            defaults["NOTICE_MAX_SMS_SEGMENTS"], defaults["NOTICE_SMS_NORMALISE"]) == (8.0, 8.0, 60.0, 3, True)
    read = from_environment({"BREACH_NOTIFY_NOTICE_MAX_GRADE": "6.5", "BREACH_NOTIFY_NOTICE_MAX_SMS_SEGMENTS": "2",
                             "BREACH_NOTIFY_NOTICE_SMS_NORMALISE": "off"})
    assert (read["NOTICE_MAX_GRADE"], read["NOTICE_MAX_SMS_SEGMENTS"], read["NOTICE_SMS_NORMALISE"]) == (6.5, 2, False)
    for name, bad, reason in (("NOTICE_MAX_SMS_SEGMENTS", "0", "at least 1"), ("NOTICE_MAX_GRADE", "easy", "a number"),
                              ("NOTICE_SMS_NORMALISE", "maybe", "on or off")):
        with pytest.raises(ValueError, match=f"BREACH_NOTIFY_{name} must be {reason}"):
            from_environment({f"BREACH_NOTIFY_{name}": bad})


@pytest.mark.parametrize(("locale", "setting", "strict", "lenient"), [
    ("en", "NOTICE_MAX_GRADE", "2", "30"), ("de", "NOTICE_MAX_GRADE_DE", "1", "30"),
    ("fr", "NOTICE_MIN_EASE_FR", "100", "0")])
def test_a_stricter_readability_limit_flags_the_notice(
    app: Flask, make_user: Any, monkeypatch: pytest.MonkeyPatch, locale: str, setting: str, strict: str,
    lenient: str
) -> None:
    user = make_user("responder")
    versions = {}
    for limit in (lenient, strict):
        client = env_client(app, monkeypatch, **{setting: limit})
        incident_id = file_incident(client, user, EXAMPLE_INCIDENT)
        put_facts(client, user, incident_id, facts(default_locale=locale))
        versions[limit] = draft(client, user, incident_id, regimes=["eu-gdpr"], channels=["letter"])[0]
    assert not versions[lenient]["checks"]["readability"]["html"]["flagged"]
    checks = versions[strict]["checks"]
    assert checks["readability"]["html"]["flagged"] and checks["ok"]  # a warning only
    assert any(w.startswith("readability") and w.endswith(f" {float(strict)}") for w in checks["warnings"])
    login(client, user)
    page = client.get(f"/incidents/{incident_id}/notices/{versions[strict]['id']}").get_data(as_text=True)
    shown = "reading ease" if locale == "fr" else "grade"
    assert f"Readability of html: {shown} " in page and f"flag {'below' if locale == 'fr' else 'above'} " in page


def test_fewer_sms_segments_refuse_approval(app: Flask, make_user: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    drafter, approver = make_user("privacy_officer"), make_user("privacy_officer")
    long_name = facts(organisation_name="Example Clinic of the Greater Springfield County Health District")
    default = env_client(app, monkeypatch)
    incident_id = file_incident(default, drafter)
    put_facts(default, drafter, incident_id, long_name)
    sms = draft(default, drafter, incident_id, regimes=["us-ca"], channels=["sms"])[0]
    assert sms["checks"]["ok"] and sms["checks"]["sms"]["segments"] == 2
    client = env_client(app, monkeypatch, NOTICE_MAX_SMS_SEGMENTS="1")
    incident_id = file_incident(client, drafter)
    put_facts(client, drafter, incident_id, long_name)
    sms = draft(client, drafter, incident_id, regimes=["us-ca"], channels=["sms"])[0]
    assert sms["checks"]["sms"]["max_segments"] == 1
    assert sms["checks"]["blocking"] == [f"sms: SMS needs 2 segments ({sms['checks']['sms']['units']} GSM-7 units), "
                                         "more than the maximum of 1"]
    act(client, drafter, incident_id, sms["id"], "submit")
    refused = act(client, approver, incident_id, sms["id"], "approve")
    assert refused.status_code == 409 and "more than the maximum of 1" in refused.json["message"]


@pytest.mark.parametrize(("normalise", "encoding", "name"), [("on", "GSM-7", "O'Brien Clinic"),
                                                             ("off", "UCS-2", "O\u2019Brien Clinic")])
def test_sms_normalisation_is_checked_and_sent_as_approved(
    app: Flask, make_user: Any, monkeypatch: pytest.MonkeyPatch, session: Session, normalise: str, encoding: str,
    name: str
) -> None:
    drafter, approver = make_user("privacy_officer"), make_user("privacy_officer")
    client = env_client(app, monkeypatch, NOTICE_SMS_NORMALISE=normalise)
    incident_id = file_incident(client, drafter)
    put_facts(client, drafter, incident_id, facts(organisation_name="O\u2019Brien Clinic"))
    sms = draft(client, drafter, incident_id, regimes=["us-ca"], channels=["sms"])[0]
    assert (sms["checks"]["sms"]["encoding"], sms["checks"]["sms_normalise"]) == (encoding, normalise == "on")
    act(client, drafter, incident_id, sms["id"], "submit")
    assert act(client, approver, incident_id, sms["id"], "approve").status_code == 200
    info = load_versions(session, [sms["id"]])[sms["id"]]
    keys = app.extensions["keys"]
    builder = MessageBuilder(keys.cipher(), from_config(app.config))
    job = Job(1, 1, sms["id"], "sms", 1, keys.cipher().encrypt("Pat Doe"), "en",
              keys.cipher().encrypt("+14155550100"))
    message = builder.build(job, info, app.extensions["clock"].now())
    assert isinstance(message, SmsOutbound) and message.body.startswith(f"{name}: important notice")
