"""Issue 9 acceptance: the whole job done in a real browser (Debian's Chromium via Playwright) against the
app served on 127.0.0.1 with the sandbox protocol peers and an in-process dispatch worker. Every page is
checked for console errors and uncaught exceptions; screenshots land in ``test-artifacts/browser/``."""

from __future__ import annotations

import datetime as dt
import re
import zipfile
from pathlib import Path
from typing import Any

from flask import Flask
from sqlmodel import Session

from app.reports.verify import verify_bundle
from app.sandbox import SandboxPeers
from tests.dispatch.dispatch_support import Person, dispatch_app, running_worker, served, write_csv
from tests.ui.browser_support import Tab, chromium

PEOPLE = [Person("c-1", "Ana Lima", email="ana@example.org"), Person("c-2", "Ben Okoro", email="ben@example.org"),
          Person("c-3", "Chloé Martin", email="chloe@example.org", phone="+14155550101"),
          Person("c-4", "Dev Patel", phone="+14155550102"), Person("c-5", "Eve Nobody")]
FACTS = {
    "facts.organisation_name": "Example Clinic",
    "facts.what_happened": "On the night of the theft a staff laptop was taken from a car. It was not encrypted.",
    "facts.cause": "Theft of an unencrypted laptop.",
    "facts.data_involved": "Name\nDate of birth\nHealth information",
    "facts.likely_consequences": "Someone could use your details to get care or file claims in your name.",
    "facts.measures_taken": "We told the police. We now lock all laptops with a code and trained our staff.",
    "facts.what_you_can_do": "Check the letters you get from your health plan. Tell us about care you did not get.",
    "facts.contact.name": "Privacy Office", "facts.contact.toll_free_phone": "1-800-555-0100",
    "facts.contact.hours": "Mon-Fri 8am-6pm Pacific", "facts.contact.email": "privacy@clinic.example",
    "facts.contact.postal_address": "1 Main St, Springfield, CA 90000",
    "sender_name": "Example Clinic Privacy Office", "sender_address": "privacy@clinic.example",
}


def _file_incident(tab: Tab) -> int:
    page = tab.go("/")
    assert page.locator("h1").inner_text() == "Dashboard"
    tab.click("text=File an incident")
    aware = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M+00:00")
    page.fill("[id='title']", "Unencrypted laptop with patient records stolen")
    page.fill("[id='aware_at']", aware)
    page.fill("[id='controller.name']", "Example Clinic")
    page.fill("[id='controller.establishment']", "US-CA")
    page.select_option("[id='controller.sector']", "health")
    page.check("input[name='controller.hipaa_covered_entity']")
    page.select_option("[id='cause']", "theft")
    page.check("input[name='confidentiality.affected']")
    page.select_option("[id='confidentiality.recipients']", "unknown")
    page.select_option("[id='confidentiality.exfiltrated']", "unknown")
    for category in ("name", "date_of_birth", "health"):
        page.check(f"input[name='data_categories'][value='{category}']")
    page.fill("[id='subjects.count']", "5")
    page.fill("[id='subjects.by_jurisdiction']", "US-CA:5")
    tab.click("button[type=submit]")
    match = re.search(r"/incidents/(\d+)$", page.url)
    assert match, page.url
    return int(match.group(1))


def _upload_subjects(tab: Tab, incident_id: int, tmp_path: Path) -> None:
    page = tab.go(f"/incidents/{incident_id}/subjects")
    page.set_input_files("#file", str(write_csv(tmp_path / "patients.csv", PEOPLE)))
    page.click("button:has-text('Import')")  # sent by XMLHttpRequest with a progress bar: no navigation
    page.wait_for_selector("h2:has-text('Import summary')")
    tab.clean()
    summary = page.locator("h2:has-text('Import summary') + table").inner_text()
    assert re.search(r"imported\s+5", summary) and re.search(r"rejected\s+0", summary), summary
    assert "US-CA 5" in page.locator("table").first.inner_text()


def _review_obligations(tab: Tab, incident_id: int) -> None:
    page = tab.go(f"/incidents/{incident_id}")
    obligations = page.locator("#obligations + p + table, #obligations + table").first.inner_text()
    assert "us-ca" in obligations and "individuals" in obligations and "1798.82" in obligations, obligations
    assert "Unreachable (no usable contact)\t1" in page.locator("#subjects + table").inner_text()
    tab.shot("incident-workspace")


def _draft_notices(tab: Tab, incident_id: int) -> list[str]:
    page = tab.go(f"/incidents/{incident_id}/notices")
    for name, value in FACTS.items():
        page.fill(f"[id='{name}']", value)
    page.fill("[id='facts.discovered_on']", dt.date.today().isoformat())
    tab.click("button:has-text('Save facts')")
    for box in page.locator("input[name='regimes']").all():
        box.set_checked(box.get_attribute("value") == "us-ca")
    for box in page.locator("input[name='channels']").all():
        box.set_checked(box.get_attribute("value") in ("email", "sms", "announcement"))
    tab.click("button:has-text('Draft')")
    links = [str(a.get_attribute("href")) for a in page.locator("#versions + table a").all()]
    assert len(links) == 3, page.locator("#versions + table").inner_text()
    for link in links:
        tab.go(link)
        assert "Nothing blocks approval" in page.content(), page.locator("main").inner_text()
        tab.click("button:has-text('Submit for approval')")
        assert page.locator(".status").first.inner_text() == "submitted"
        channel = page.locator("h1").inner_text().split(" · ")[2]
        if channel in ("sms", "email"):
            page.fill("#full_name", "Ana Lima")
            tab.click("button:has-text('Preview')")
        if channel == "sms":
            assert re.match(r"SMS: 1 segment, \d+ GSM-7 units", page.locator("#preview ~ p").first.inner_text())
        elif channel == "email":
            frame = page.frame_locator("iframe[title='html preview']")
            assert "Dear Ana Lima" in frame.locator("body").inner_text()
            page.locator("h3:has-text('html (preview)')").evaluate("h => h.scrollIntoView()")
            tab.shot("notice-preview", full_page=False)
    return links


def _approve(tab: Tab, links: list[str]) -> None:
    for link in links:
        page = tab.go(link)
        tab.click("button:has-text('Approve and lock')")
        assert page.locator(".status").first.inner_text() == "approved", page.locator("main").inner_text()


def _dispatch(tab: Tab, incident_id: int) -> None:
    page = tab.go(f"/incidents/{incident_id}/dispatch")
    assert "4 people" in page.locator("main").inner_text() or "5 people" in page.locator("main").inner_text()
    page.fill("#chain", "email,sms")
    tab.click("button:has-text('Start dispatch')")
    page.wait_for_function("() => document.querySelector('#dispatch-state').textContent === 'done'",
                           timeout=60_000)
    page.wait_for_load_state("load")
    page.wait_for_function("() => window.Chart && Chart.getChart('delivery-chart') "
                           "&& Chart.getChart('delivery-chart').data.datasets.length > 0")
    assert page.locator("#dispatch-progress").evaluate("p => p.value") == 1
    assert page.locator("#dispatch-percent").inner_text() == "100.0 %"
    delivered = page.locator("#dispatch-counts th[data-state='delivered']").inner_text()
    assert delivered == "4", page.locator("#dispatch-counts").inner_text()  # 3 email + 1 SMS; Eve has no contact
    labels = page.evaluate(
        "() => Chart.getChart('delivery-chart').data.datasets.map(d => d.label + '=' + d.data.at(-1).y)")
    assert sorted(labels) == ["email delivered=3", "sms delivered=1"], labels
    tab.clean()
    tab.shot("dispatch-progress")


def _publish(tab: Tab, incident_id: int) -> None:
    page = tab.go(f"/incidents/{incident_id}")
    tab.click("button:has-text('Publish the approved announcement')")
    tab.click("#public-notice ~ p a[href^='/notices/']")
    assert "Example Clinic" in page.locator("article").inner_text()
    assert "stands in for individual notice to 1 person." in page.locator("main").inner_text()
    tab.shot("public-notice")


def _report(responder: Tab, officer: Tab, incident_id: int, regulator: Any) -> bytes:
    page = responder.go(f"/incidents/{incident_id}/reports")
    page.select_option("#regime", "us-ca")
    responder.click("button:has-text('Draft')")
    report_url = page.url
    responder.click("button:has-text('Submit for approval')")
    officer.go(report_url)
    officer.click("button:has-text('Approve')")
    responder.go(report_url)
    responder.click("button:has-text('Export signed bundle')")
    with page.expect_download() as info:
        page.click("text=Bundles: >> a")
    exported = Path(info.value.path()).read_bytes()
    officer_page = officer.go(f"/incidents/{incident_id}/reports")
    officer_page.check("input[name='bundle_ids']")
    officer_page.fill("#regulator_name", "California Attorney General")
    officer_page.fill("#user_email", regulator.user.email)
    officer.click("button:has-text('Share selected bundles')")
    assert "California Attorney General" in officer_page.locator("h2:has-text('Regulator access') + table").inner_text()
    return exported


def _more_pages(responder: Tab, officer: Tab, incident_id: int) -> None:
    """Pages the journey passes by, each free of console errors."""
    page = responder.go("/incidents")
    page.select_option("#status", "detected")  # the filter submits itself (app.js)
    page.wait_for_url("**/incidents?status=detected")
    responder.clean()
    outbox = responder.go("/dispatch/outbox").locator("main table").inner_text()
    assert "Nothing recorded yet." in outbox  # live mode against the loopback peers: the sandbox recorded nothing
    trail = officer.go(f"/incidents/{incident_id}").locator("#audit + p + table").inner_text()
    assert trail.count("notice.approved") == 3 and trail.count("report.approved") == 1, trail
    officer.go(f"/incidents/{incident_id}/reports")
    officer.go("/notices")


def test_the_whole_job_in_a_browser(app: Flask, make_user: Any, session: Session, tmp_path: Path) -> None:
    responder, officer = make_user("responder"), make_user("privacy_officer")
    regulator = make_user("regulator")
    with SandboxPeers(receipt_delay=0.05) as peers, chromium() as browser, served(
            lambda url: dispatch_app(app, peers.settings(), PUBLIC_URL=url)) as (url, live), running_worker(live):
        alice, paul, reg = Tab(browser, url, "responder"), Tab(browser, url, "officer"), Tab(browser, url, "regulator")
        alice.sign_in(responder)
        incident_id = _file_incident(alice)
        _upload_subjects(alice, incident_id, tmp_path)
        _review_obligations(alice, incident_id)
        links = _draft_notices(alice, incident_id)
        paul.sign_in(officer)
        _approve(paul, links)
        _dispatch(alice, incident_id)
        dashboard = alice.go("/")
        row = dashboard.locator(f"tr[data-incident='{incident_id}']")
        assert (row.locator(".affected").inner_text(), row.locator(".notified").inner_text(),
                row.locator(".unreachable").inner_text()) == ("5", "4", "1")
        assert row.locator(".countdown").get_attribute("data-urgency") in ("due", "soon")
        alice.shot("dashboard")
        _publish(paul, incident_id)
        exported = _report(alice, paul, incident_id, regulator)
        reg.sign_in(regulator)
        assert reg.page.url.endswith("/regulator")
        with reg.page.expect_download() as info:
            reg.page.click("table a[href^='/regulator/bundles/']")
        downloaded = Path(info.value.path())
        assert downloaded.read_bytes() == exported
        assert verify_bundle(downloaded).ok
        with zipfile.ZipFile(downloaded) as bundle:
            assert "report.json" in bundle.namelist()
        _more_pages(alice, paul, incident_id)
        for tab in (alice, paul, reg):
            tab.clean()
            tab.close()
        urls = " ".join(alice.urls + paul.urls + reg.urls)
        for person in PEOPLE:  # no personal data in any URL the browser asked for
            for value in (person.email, person.phone, person.full_name, person.full_name.replace(" ", "+")):
                assert not value or value not in urls, value
    assert sorted(m.rcpt_tos[0] for m in peers.smtp.messages) == ["ana@example.org", "ben@example.org",
                                                                   "chloe@example.org"]
    assert [m.to for m in peers.twilio.messages] == ["+14155550102"]
