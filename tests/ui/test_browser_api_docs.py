"""The API reference page in a real browser, under the app's own content security policy: Redoc loads from
this server, renders the documented operations, and nothing lands in the console (an inline script would be
refused by ``script-src 'self'`` and leave a blank page)."""

from __future__ import annotations

from flask import Flask

from tests.dispatch.dispatch_support import served
from tests.ui.browser_support import Tab, chromium


def test_reference_page_renders_the_operations_without_console_errors(app: Flask) -> None:
    with chromium() as browser, served(lambda _url: app) as (url, _live):
        reader = Tab(browser, url, "anonymous reader")
        document = reader.context.request.get("/api/openapi.json").json()
        summary = document["paths"]["/api/incidents"]["post"]["summary"]
        page = reader.go("/api/docs/")
        page.get_by_role("heading", name="breach-notify API").first.wait_for(state="visible")
        page.get_by_text("incidents", exact=True).first.click()  # the tag in the sidebar
        page.locator("h1, h2, h3", has_text=summary).first.wait_for(state="visible")
        assert page.url.endswith("/api/docs/#/incidents")
        assert all(u.startswith(url) for u in reader.urls), reader.urls  # nothing from another host
        reader.shot("api-docs")
        reader.clean()
        reader.close()
