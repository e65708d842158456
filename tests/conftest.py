from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from celery import _state as celery_state
from django.conf import settings
from django.core.cache import cache

from config.celery import app as celery_app


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip tests that need Redis when it is not configured; in CI (QUORUM_REQUIRE_SERVICES=1) fail instead."""
    if settings.REDIS_URL:
        return
    if os.environ.get("QUORUM_REQUIRE_SERVICES") == "1":
        raise pytest.UsageError("QUORUM_REQUIRE_SERVICES=1 but REDIS_URL is not set.")
    skip = pytest.mark.skip(reason="needs REDIS_URL (a real Redis)")
    for item in items:
        if item.get_closest_marker("redis"):
            item.add_marker(skip)


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
