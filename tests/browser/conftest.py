"""Playwright (Chromium from Debian) against pytest-django's live server.

Each test gets a fresh browser context and page; every console error and uncaught page error is
collected and fails the test unless the test expects it (`console_errors.allow(...)`). The sync
Playwright API runs an event loop in this thread, so Django's async-safety check is switched off.
"""

import os
import re
import time
from collections.abc import Iterator
from pathlib import Path

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def require_chromium() -> None:
    """Skip the calling test module without Chromium; in CI (QUORUM_REQUIRE_SERVICES=1) fail instead."""
    if CHROMIUM.exists():
        return
    if os.environ.get("QUORUM_REQUIRE_SERVICES") == "1":
        raise pytest.UsageError(f"QUORUM_REQUIRE_SERVICES=1 but {CHROMIUM} is not installed.")
    pytest.skip(f"{CHROMIUM} is not installed", allow_module_level=True)


class ConsoleErrors:
    """Console errors and page errors seen by one page, minus the ones a test expects."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        self._allowed: list[re.Pattern[str]] = []

    def allow(self, pattern: str) -> None:
        self._allowed.append(re.compile(pattern))

    def add(self, text: str) -> None:
        self.seen.append(text)

    def unexpected(self) -> list[str]:
        return [t for t in self.seen if not any(p.search(t) for p in self._allowed)]


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture(autouse=True)
def _terms_published(transactional_db) -> None:
    """Transactional tests start from an emptied database: publish the terms annotators accept."""
    from workforce.selectors import terms_current
    from workforce.services import terms_publish

    if terms_current() is None:
        terms_publish(version="browser-tests", title="Terms", body="Terms of work.", actor=None)


@pytest.fixture
def console_errors() -> ConsoleErrors:
    return ConsoleErrors()


@pytest.fixture
def page(browser, live_server, console_errors) -> Iterator[object]:
    context = browser.new_context(
        base_url=live_server.url, viewport={"width": 1280, "height": 900}, locale="en-GB"
    )
    context.set_default_timeout(10_000)
    in_flight = InFlight(context, live_server.url)
    page = context.new_page()

    def on_console(message) -> None:
        if message.type == "error":
            location = message.location.get("url", "") if message.location else ""
            console_errors.add(f"{message.text} [{location}]")

    page.on("console", on_console)
    page.on("pageerror", lambda error: console_errors.add(f"pageerror: {error}"))
    yield page
    _leave_quietly(page, in_flight)
    context.close()
    assert not console_errors.unexpected(), console_errors.unexpected()


class InFlight:
    """The requests a browser context has sent to the live server and not yet seen answered."""

    def __init__(self, context, base_url: str) -> None:
        self.pending: set[object] = set()
        self.base_url = base_url
        context.on("request", lambda r: self._start(r))
        context.on("requestfinished", lambda r: self.pending.discard(r))
        context.on("requestfailed", lambda r: self.pending.discard(r))

    def _start(self, request) -> None:
        if request.url.startswith(self.base_url):
            self.pending.add(request)


def _leave_quietly(page, in_flight: InFlight, timeout: float = 5.0) -> None:
    """Leave the page and wait until the server has answered everything sent to it.

    Leaving sends the release beacon; a request still running on the live server while the test
    database is flushed would break the flush.
    """
    page.goto("about:blank")
    deadline = time.monotonic() + timeout
    while in_flight.pending and time.monotonic() < deadline:
        page.wait_for_timeout(20)
    page.wait_for_timeout(100)  # a request the browser began as the page went away


def screenshot(page, name: str) -> Path:
    """Save a screenshot of the page as a test artefact."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def sign_in(page, email: str, password: str) -> None:
    """Sign in through the real login form."""
    page.goto("/accounts/login/")
    page.fill("input[name=login]", email)
    page.fill("input[name=password]", password)
    page.click("form button[type=submit]")
    page.wait_for_url(lambda url: "/accounts/login/" not in url)
