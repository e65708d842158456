from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from celery import _state as celery_state
from django.conf import settings
from django.core.cache import cache
from django.core.handlers.base import BaseHandler
from django.http import HttpRequest, HttpResponseBase

from config.celery import app as celery_app
from tests.openapi_conformance import ApiConformance, generated_schema


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip tests marked `redis` or `postgres` when that service is not configured.

    With QUORUM_REQUIRE_SERVICES=1 (CI's run on the real services) a missing service is an error
    instead, so a test that needs PostgreSQL or Redis can never pass by being skipped there.
    """
    missing = {
        "redis": None if settings.REDIS_URL else "REDIS_URL is not set (needs a real Redis)",
        "postgres": (
            None
            if settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
            else "DATABASE_URL is not a PostgreSQL database (needs a real PostgreSQL)"
        ),
    }
    needed = {name for name in missing if any(i.get_closest_marker(name) for i in items)}
    if os.environ.get("QUORUM_REQUIRE_SERVICES") == "1":
        unmet = [reason for name in sorted(needed) if (reason := missing[name])]
        if unmet:
            raise pytest.UsageError(f"QUORUM_REQUIRE_SERVICES=1 but {'; '.join(unmet)}.")
        return
    for name in needed:
        reason = missing[name]
        if reason is None:
            continue
        skip = pytest.mark.skip(reason=reason)
        for item in items:
            if item.get_closest_marker(name):
                item.add_marker(skip)


_conformance: ApiConformance | None = None


@pytest.fixture(scope="session", autouse=True)
def _api_answers_as_documented() -> Iterator[None]:
    """Hold every API answer to the OpenAPI schema (see tests/openapi_conformance.py).

    The seam is Django's `BaseHandler.get_response`, which every way the tests call the app goes
    through: the test client (DRF's `APIClient` too), the WSGI application with the queue's hot
    path in front, and the live server of the browser tests. A mismatch fails the test that got
    the answer, after the test's own assertions passed.
    """
    global _conformance
    _conformance = ApiConformance(generated_schema())
    conformance = _conformance
    get_response = BaseHandler.get_response

    def checked_get_response(self: BaseHandler, request: HttpRequest) -> HttpResponseBase:
        response: HttpResponseBase = get_response(self, request)
        conformance.record(request, response)
        return response

    BaseHandler.get_response = checked_get_response  # type: ignore[method-assign]  # the seam
    yield
    BaseHandler.get_response = get_response  # type: ignore[method-assign]  # as it was
    _conformance = None


def _raise_api_mismatches() -> None:
    problems = _conformance.take_problems() if _conformance else []
    if problems:
        listed = "\n".join(f"- {problem}" for problem in problems)
        pytest.fail(
            f"API answers that the OpenAPI schema does not describe:\n{listed}", pytrace=False
        )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Iterator[None]:
    if _conformance:
        _conformance.take_problems()  # an earlier test's leftovers are that test's, reported there
    return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    result = yield  # a test that failed on its own says so first
    _raise_api_mismatches()
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    result = yield
    _raise_api_mismatches()
    return result


@pytest.fixture(scope="session")
def django_db_modify_db_settings(
    django_db_modify_db_settings_parallel_suffix: None,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """Give SQLite a test database file of this run's own instead of the shared in-memory one.

    Django shares one in-memory connection between the test and every live-server thread, so a
    request still running while a test queries or flushes the database corrupts that connection's
    transaction state ("no such savepoint") for every test after it. With a file each thread has
    its own connection, as on PostgreSQL.
    """
    database = settings.DATABASES["default"]
    if database["ENGINE"] == "django.db.backends.sqlite3":
        database.setdefault("TEST", {})["NAME"] = str(
            tmp_path_factory.getbasetemp() / "quorum-test.sqlite3"
        )


@pytest.fixture(autouse=True)
def _clean_cache() -> Iterator[None]:
    """Start each test with empty rate-limit counters and one-time-code markers."""
    _cache_clear()
    yield
    _cache_clear()


def _cache_clear() -> None:
    if settings.REDIS_URL:
        import redis

        client = redis.Redis.from_url(settings.REDIS_URL)
        prefix = settings.CACHES["default"].get("KEY_PREFIX", "")
        for key in client.scan_iter(f"{prefix}:*"):
            client.delete(key)
    else:
        cache.clear()


@pytest.fixture(autouse=True)
def _celery_eager(request: pytest.FixtureRequest) -> Iterator[None]:
    """Run tasks in-process, except in tests marked `real_celery`, which use the real worker."""
    if request.node.get_closest_marker("real_celery"):
        # Eager tasks run by two threads at once (the live server of the browser tests) can leave
        # Celery's process-wide "inside a task" flag set (each restores what it saw on entry), and
        # then result.get() refuses to wait. This test's thread is not inside a task: say so.
        celery_state._set_task_join_will_block(False)  # type: ignore[attr-defined]  # private, not in celery-types
        yield
        return
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = previous


@pytest.fixture(autouse=True)
def _media_in_tmp(settings: Any, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Keep uploaded imports and export files out of the working tree."""
    settings.MEDIA_ROOT = str(tmp_path_factory.getbasetemp() / "media")


@pytest.fixture(autouse=True)
def _no_default_quality_rules(settings: Any, request: pytest.FixtureRequest) -> None:
    """New projects start without the default quality rules (quality/defaults.py), so a test sees
    only the rules it makes; tests marked `default_rules` get them, as production does."""
    settings.QUORUM_DEFAULT_QUALITY_RULES = bool(request.node.get_closest_marker("default_rules"))
