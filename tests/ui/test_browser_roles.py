"""Roles seen from a real browser: a reporter reads but cannot approve a notice (no button, and a forged form
post is refused); a regulator sees and downloads exactly the bundles shared with it and no staff page."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from tests.dispatch.dispatch_support import dispatch_app, served
from tests.notices.notices_workflow_sample import act, draft, file_incident, put_facts
from tests.reports.reports_sample import api, approved_report, bundle
from tests.support import bearer
from tests.ui.browser_support import Tab, chromium


def _shared_one_of_two(client: FlaskClient, drafter: Any, approver: Any, incident_id: int, regulator: Any
                       ) -> tuple[dict[str, Any], dict[str, Any], bytes]:
    report = approved_report(client, drafter, approver, incident_id, "us-ca")
    shared, data = bundle(client, drafter, incident_id, report["id"])
    other, _ = bundle(client, drafter, incident_id, report["id"])
    expires = (dt.datetime.now(dt.UTC) + dt.timedelta(days=14)).isoformat()  # the served app keeps real time
    grant = client.post(f"{api(incident_id)}/grants", headers=bearer(approver), json={
        "bundle_ids": [shared["id"]], "regulator_name": "California Attorney General",
        "user_email": regulator.user.email, "expires_at": expires})
    assert grant.status_code == 201, grant.json
    return shared, other, data


def test_a_reporter_cannot_approve_and_a_regulator_sees_only_what_was_shared(
    app: Flask, client: FlaskClient, make_user: Any
) -> None:
    drafter, approver = make_user("privacy_officer"), make_user("privacy_officer")
    reporter, regulator = make_user("reporter"), make_user("regulator")
    incident_id = file_incident(client, drafter)
    put_facts(client, drafter, incident_id)
    version = draft(client, drafter, incident_id, regimes=["us-ca"], channels=["sms"])[0]
    assert act(client, drafter, incident_id, version["id"], "submit").status_code == 200
    shared, other, data = _shared_one_of_two(client, drafter, approver, incident_id, regulator)
    with chromium() as browser, served(lambda url: dispatch_app(app, {}, PUBLIC_URL=url)) as (url, _live):
        rita = Tab(browser, url, "reporter")
        rita.sign_in(reporter)
        page = rita.go(f"/incidents/{incident_id}/notices/{version['id']}")
        assert page.locator(".status").first.inner_text() == "submitted"
        assert page.locator("button:has-text('Approve')").count() == 0
        forged = rita.context.request.post(f"/incidents/{incident_id}/notices/{version['id']}/approve",
                                           form={"csrf_token": rita.csrf()}, max_redirects=0)
        assert forged.status == 403 and "role reporter may not do this" in forged.text()
        assert rita.go(f"/incidents/{incident_id}/notices/{version['id']}").locator(
            ".status").first.inner_text() == "submitted"
        rita.go("/")  # the dashboard works for reporters
        rita.close()

        reg = Tab(browser, url, "regulator")
        reg.sign_in(regulator)
        assert reg.page.url.endswith("/regulator")
        links = reg.page.locator("table a[href^='/regulator/bundles/']")
        assert [links.nth(i).get_attribute("href") for i in range(links.count())] == [
            f"/regulator/bundles/{shared['id']}"]
        assert reg.page.locator("tbody tr").count() == 1 and shared["sha256"] in reg.page.content()
        with reg.page.expect_download() as info:
            links.first.click()
        assert Path(info.value.path()).read_bytes() == data
        refused = reg.context.request.get(f"/regulator/bundles/{other['id']}")
        assert refused.status == 404 and "not shared with you" in refused.text()
        for path in ("/", f"/incidents/{incident_id}", f"/incidents/{incident_id}/reports",
                     f"/incidents/{incident_id}/reports/bundles/{shared['id']}", "/dispatch/outbox"):
            assert reg.context.request.get(path, max_redirects=0).status == 403, path
        reg.clean()
        reg.close()
