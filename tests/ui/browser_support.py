"""Helpers for the browser tests (plain helpers, not fixtures): Debian's Chromium driven by Playwright, a page
that records console errors and uncaught exceptions, sign-in, and the screenshot folder.

Chromium comes from Debian (``apt-get install chromium``, see ``scripts/system-deps.sh``); Playwright never
downloads a browser here. ``BREACH_TEST_CHROMIUM`` overrides the path.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

CHROMIUM = os.environ.get("BREACH_TEST_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"
TIMEOUT_MS = 15_000


@contextmanager
def chromium() -> Iterator[Browser]:
    """Headless Chromium (no sandbox: tests run as root in containers)."""
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        try:
            yield browser
        finally:
            browser.close()


class Tab:
    """A page in its own browser context (its own cookies: one signed-in person) that records every console
    error and uncaught page exception; ``clean()`` asserts there were none since the last call."""

    def __init__(self, browser: Browser, base_url: str, name: str) -> None:
        self.name = name
        self.context: BrowserContext = browser.new_context(base_url=base_url, accept_downloads=True,
                                                           viewport={"width": 1280, "height": 900})
        self.context.set_default_timeout(TIMEOUT_MS)
        self.page: Page = self.context.new_page()
        self.errors: list[str] = []
        self.urls: list[str] = []
        self.context.on("request", lambda request: self.urls.append(request.url))
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda exc: self.errors.append(f"{self.page.url}: uncaught {exc}"))

    def _console(self, message: Any) -> None:
        if message.type == "error":
            self.errors.append(f"{self.page.url}: console error: {message.text}")

    def clean(self) -> None:
        """No console error or page exception so far (then forget them)."""
        errors, self.errors = self.errors, []
        shown = self.page.locator(".flash, .error").all_inner_texts() if errors else []
        assert errors == [], f"{self.name}: {errors} {shown}"

    def go(self, path: str) -> Page:
        """Open ``path``, wait for the page's scripts, and check the console."""
        response = self.page.goto(path)
        assert response is not None and response.status == 200, (path, response and response.status)
        self.page.wait_for_load_state("load")
        self.clean()
        return self.page

    def click(self, selector: str) -> Page:
        """Click (usually a submit button), wait for the next page, and check the console."""
        with self.page.expect_navigation():
            self.page.click(selector)
        self.page.wait_for_load_state("load")
        self.clean()
        return self.page

    def shot(self, name: str, *, full_page: bool = True) -> Path:
        """A screenshot under ``test-artifacts/browser/`` (the whole page, or what the window shows: Chromium
        paints sandboxed frames, such as the HTML email preview, only inside the window)."""
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=full_page)
        return path

    def sign_in(self, user: Any) -> None:
        """Through the real sign-in form."""
        self.go("/login")
        self.page.fill("#email", user.user.email)
        self.page.fill("#password", user.password)
        self.click("button[type=submit]")
        assert "/login" not in self.page.url, self.page.content()[:2000]

    def csrf(self) -> str:
        """The CSRF token of the page shown now."""
        return str(self.page.locator("input[name=csrf_token]").first.get_attribute("value"))

    def close(self) -> None:
        self.context.close()
