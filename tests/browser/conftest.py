"""Playwright (Chromium from Debian) against pytest-django's live server.

Each test gets a fresh browser context and page; every console error and uncaught page error is
collected and fails the test unless the test expects it (`console_errors.allow(...)`). The sync
Playwright API runs an event loop in this thread, so Django's async-safety check is switched off.

A page sends requests the test never waits for (heartbeats, the release beacon when it is left).
The live server counts the requests it is serving, and a test ends only when the browser is
closed and the server has answered everything: the database is flushed after that, never while
a request is still writing to it.
"""

import os
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

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


WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class ServerRequests:
    """WSGI middleware: counts the requests being served, each until its response is closed.

    Django closes the request's database connection when the response is closed, so a count of
    zero means no request of the live server holds or uses the database.
    """

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._serving = 0
        self._last_start = time.monotonic()

    def wrap(self, app: WSGIApp) -> WSGIApp:
        def counted(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
            with self._changed:
                self._serving += 1
                self._last_start = time.monotonic()
            try:
                response = app(environ, start_response)
            except BaseException:
                self._finished()
                raise
            return _ClosedNotifies(response, self._finished)

        return counted

    def _finished(self) -> None:
        with self._changed:
            self._serving -= 1
            self._changed.notify_all()

    def wait_idle(self, quiet: float = 0.2, timeout: float = 10.0) -> None:
        """Wait until nothing is being served and nothing has started for `quiet` seconds."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                now = time.monotonic()
                idle_for = now - self._last_start
                if self._serving == 0 and idle_for >= quiet:
                    return
                if now > deadline:
                    raise AssertionError(
                        f"the live server still serves {self._serving} request(s) "
                        f"{timeout:.0f} s after the test"
                    )
                self._changed.wait(max(0.01, quiet - idle_for) if self._serving == 0 else 0.05)


class _ClosedNotifies:
    """A WSGI response that calls `on_close` once, after the response's own close()."""

    def __init__(self, response: Iterable[bytes], on_close: Callable[[], None]) -> None:
        self._response = response
        self._on_close: Callable[[], None] | None = on_close

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._response)

    def close(self) -> None:
        try:
            close = getattr(self._response, "close", None)
            if close is not None:
                close()
        finally:
            on_close, self._on_close = self._on_close, None
            if on_close is not None:
                on_close()


@pytest.fixture(scope="session")
def server_requests() -> ServerRequests:
    return ServerRequests()


@pytest.fixture(scope="session")
def live_server(request: pytest.FixtureRequest, server_requests: ServerRequests) -> Iterator[Any]:
    """pytest-django's live server, serving through `ServerRequests`."""
    from django.contrib.staticfiles.handlers import StaticFilesHandler
    from pytest_django.live_server_helper import LiveServer

    addr = (
        request.config.getvalue("liveserver")
        or os.getenv("DJANGO_LIVE_TEST_SERVER_ADDRESS")
        or "localhost"
    )
    server = LiveServer(addr, start=False)
    if server.thread.connections_override:
        # One in-memory SQLite connection shared by the test and the server's threads breaks
        # as soon as two of them use it at once; tests/conftest.py gives SQLite a file instead.
        raise pytest.UsageError("the live server would share the test's database connection")
    # Django declares static_handler as a handler class; any callable taking the app will do.
    server.thread.static_handler = lambda app: server_requests.wrap(StaticFilesHandler(app))  # type: ignore[assignment]
    server.start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _server_idle_before_flush(transactional_db, live_server, server_requests) -> Iterator[None]:
    """Set up after the database, so torn down before its flush: wait for the server to finish."""
    yield
    server_requests.wait_idle()


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
def page(browser, live_server, server_requests, console_errors) -> Iterator[object]:
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
    server_requests.wait_idle()
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
