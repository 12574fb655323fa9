"""A HIPAA media notice (45 CFR 164.406) drafted as a press release from its own templates (en, de, fr, zh),
checked for the same elements as the individual notice (164.406(c)), and approved like any notice; the media
audience gets no other channel, and nobody else gets the press release."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.notices.notices_workflow_sample import act, draft, file_incident, put_facts
from tests.support import bearer

RELEASE = {"en": "FOR IMMEDIATE RELEASE", "de": "PRESSEMITTEILUNG", "fr": "COMMUNIQUÉ DE PRESSE", "zh": "新闻稿"}
PUBLIC_WORDING = ("is telling the public", "informiert die Öffentlichkeit", "informe le public", "向公众发布告知")


def test_media_notice_is_a_checked_press_release_in_every_language(client: FlaskClient, make_user: Any) -> None:
    drafter, officer = make_user("responder"), make_user("privacy_officer")
    incident_id = file_incident(client, drafter)
    put_facts(client, drafter, incident_id)
    versions = draft(client, drafter, incident_id, audience="media", regimes=["us-hipaa"], locales=list(RELEASE))
    assert sorted(v["locale"] for v in versions) == sorted(RELEASE)
    for version in versions:
        html = client.get(f"/api/incidents/{incident_id}/notices/{version['id']}", headers=bearer(drafter)).json[
            "rendered"]["html"]
        assert version["audience"] == "media" and version["channel"] == "press_release"
        assert version["template_locale"] == version["locale"]
        assert version["templates"]["html"]["name"] == f"default/{version['locale']}/press_release.html.j2"
        assert RELEASE[version["locale"]] in html and "Example Clinic" in html
        assert not [w for w in PUBLIC_WORDING if w in html]
        assert version["checks"]["element_sets"] == ["us-hipaa"]
        assert version["checks"]["ok"] is True, (version["locale"], version["checks"])
    (english,) = [v for v in versions if v["locale"] == "en"]
    assert act(client, drafter, incident_id, english["id"], "submit").status_code == 200
    approved = act(client, officer, incident_id, english["id"], "approve")
    assert approved.status_code == 200 and approved.json["state"] == "approved"


@pytest.mark.parametrize(("audience", "channel"), [("media", "announcement"), ("media", "email"),
                                                   ("individuals", "press_release"), ("public", "press_release")])
def test_press_release_only_for_the_media(client: FlaskClient, make_user: Any, audience: str, channel: str) -> None:
    drafter = make_user("responder")
    incident_id = file_incident(client, drafter)
    put_facts(client, drafter, incident_id)
    refused = client.post(f"/api/incidents/{incident_id}/notices/draft", headers=bearer(drafter),
                          json={"audience": audience, "regimes": ["us-hipaa"], "channels": [channel]})
    assert refused.status_code == 422 and refused.json["details"][0]["path"] == "channels"
