"""The browser tests' fixtures (tests/browser/conftest.py) for the payout runs' journey in Chromium."""

from tests.browser.conftest import (  # noqa: F401  (fixtures, used by name)
    _server_idle_before_flush,
    _terms_published,
    browser,
    console_errors,
    live_server,
    page,
    server_requests,
)
