"""A token change applies to every call that starts after it commits, whatever the timing.

The cached token entry is the risk: a call that read the token from the database before the
change committed may write what it read into the cache after the change dropped it. The first
tests drive that interleaving step by step (the change commits between the call's database read
and its cache write); the last one hammers the API from threads on PostgreSQL and Redis while
the person is deactivated. Both API doors are covered: DRF's token authentication and the
WSGI hot path for claim and submit, which read tokens through the same function.
"""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import pytest
from django.core.cache import caches
from django.core.handlers.wsgi import WSGIHandler
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext

from accounts import selectors
from accounts.models import Role, User
from accounts.selectors import api_token_get_by_key
from accounts.services import (
    api_token_create,
    api_token_revoke,
    api_token_touch,
    role_revoke,
    user_set_active,
)
from labeling.api.hotpath import QueueHotPath
from labeling.api.throttles import WorkThrottle
from tests.factories import make_user
from tests.labeling.factories import add_tasks, make_project, make_worker


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Token {key}"}


def hot_claim(project_id: int, key: str) -> int:
    """POST a claim through the WSGI application with the hot path; return the status code."""
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": f"/api/v1/projects/{project_id}/claim/",
        "QUERY_STRING": "",
        "SCRIPT_NAME": "",
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "HTTP_HOST": "testserver",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": "0",
        "HTTP_AUTHORIZATION": f"Token {key}",
        "HTTP_ACCEPT": "application/json",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.url_scheme": "http",
        "wsgi.errors": io.StringIO(),
    }
    statuses: list[str] = []
    chunks = QueueHotPath(WSGIHandler())(environ, lambda status, *_: statuses.append(status))
    b"".join(chunks)
    if hasattr(chunks, "close"):
        chunks.close()
    return int(statuses[0].split()[0])


def me_status(key: str) -> int:
    """GET /api/v1/me/ with the token through the full stack (DRF); return the status code."""
    return Client().get("/api/v1/me/", headers=auth(key)).status_code


@pytest.fixture
def change_between_read_and_cache_write(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """Arrange for `change` to run (and commit) once, after the next call's database read of a
    token and before that call writes the token into the cache."""

    def arrange(change: Callable[[], object]) -> None:
        original = selectors.user_roles
        pending = [change]

        def read_then_change(user: Any) -> dict[str, int | None]:
            roles = original(user)  # the call has read the token, its user and their roles
            if pending:
                pending.pop()()
            return roles

        monkeypatch.setattr(selectors, "user_roles", read_then_change)

    return arrange


def forget_cached_entry_and_generation(key: str) -> None:
    digest = selectors.token_digest(key)
    caches["default"].delete_many(
        [selectors._token_cache_key(digest), selectors._token_generation_key(digest)]
    )


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("generation_present", [True, False], ids=["cached", "evicted"])
def test_a_deactivation_committed_during_a_call_applies_to_the_next_call(
    client: Client,
    change_between_read_and_cache_write: Callable[..., None],
    generation_present: bool,
) -> None:
    customer = make_user(Role.CUSTOMER)
    token, key = api_token_create(user=customer, name="ci")
    assert client.get("/api/v1/me/", headers=auth(key)).status_code == 200
    # A later call reads the database again: its entry ran out, or it was evicted with the
    # generation (the call must then start a generation that the change replaces).
    caches["default"].delete(selectors._token_cache_key(token.key_digest))
    if not generation_present:
        forget_cached_entry_and_generation(key)
    change_between_read_and_cache_write(
        lambda: user_set_active(user=customer, is_active=False, actor=None)
    )

    racing = client.get("/api/v1/me/", headers=auth(key))  # started before the change committed
    after = client.get("/api/v1/me/", headers=auth(key))

    assert racing.status_code == 200
    assert after.status_code == 401
    assert after.json()["code"] == "authentication_failed"


@pytest.mark.django_db(transaction=True)
def test_a_revocation_committed_during_a_call_applies_to_the_next_call_on_the_hot_path(
    change_between_read_and_cache_write: Callable[..., None],
) -> None:
    project = make_project()
    add_tasks(project, 3)
    worker = make_worker()
    token, key = api_token_create(user=worker, name="tool")
    change_between_read_and_cache_write(lambda: api_token_revoke(token=token, actor=worker))

    racing = hot_claim(project.pk, key)
    after = hot_claim(project.pk, key)

    assert racing == 200
    assert after == 401


@pytest.mark.django_db(transaction=True)
def test_a_role_taken_away_during_a_call_applies_to_the_next_claim_on_the_hot_path(
    change_between_read_and_cache_write: Callable[..., None],
) -> None:
    project = make_project()
    add_tasks(project, 3)
    worker = make_worker()
    _, key = api_token_create(user=worker, name="tool")
    change_between_read_and_cache_write(
        lambda: role_revoke(user=worker, role=Role.ANNOTATOR, actor=None)
    )

    racing = hot_claim(project.pk, key)
    after = hot_claim(project.pk, key)

    assert racing == 200
    assert after == 404


def read_token_elsewhere(key: str) -> bool:
    """Read the token as a call on another connection would; return whether its user is active."""
    found: list[bool] = []

    def read() -> None:
        try:
            token = api_token_get_by_key(key)
            found.append(token is not None and token.user.is_active)
        finally:
            connection.close()

    thread = threading.Thread(target=read)
    thread.start()
    thread.join(timeout=30)
    return found == [True]


@pytest.mark.django_db(transaction=True)
def test_a_call_that_reads_while_a_deactivation_is_uncommitted_does_not_outlive_the_commit(
    client: Client,
) -> None:
    customer = make_user(Role.CUSTOMER)
    _, key = api_token_create(user=customer, name="ci")
    assert client.get("/api/v1/me/", headers=auth(key)).status_code == 200

    with transaction.atomic():
        user_set_active(user=customer, is_active=False, actor=None)
        # Another call, after the change began and before it commits, reads and caches the old row.
        racing_saw_active = read_token_elsewhere(key)
    after = client.get("/api/v1/me/", headers=auth(key))

    assert racing_saw_active
    assert after.status_code == 401


@pytest.mark.django_db(transaction=True)
def test_noting_a_use_after_a_deactivation_does_not_put_the_old_entry_back(
    client: Client,
) -> None:
    customer = make_user(Role.CUSTOMER)
    _, key = api_token_create(user=customer, name="ci")
    in_flight = api_token_get_by_key(key)  # a call got the cached token, then stalled
    assert in_flight is not None and in_flight.user.is_active
    in_flight.last_used_at = None  # due for a touch, which stores the token again

    user_set_active(user=customer, is_active=False, actor=None)
    api_token_touch(token=in_flight)  # the stalled call carries on

    assert client.get("/api/v1/me/", headers=auth(key)).status_code == 401


@pytest.mark.django_db
def test_a_cached_token_costs_one_cache_round_trip_and_no_query(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    customer = make_user(Role.CUSTOMER)
    _, key = api_token_create(user=customer, name="ci")
    warm = api_token_get_by_key(key)
    assert warm is not None
    api_token_touch(token=warm)  # cached now, and just used
    backend = caches["default"]
    calls: list[str] = []
    depth = [0]  # the local-memory cache's get_many calls its own get: count the outer call
    for name in ("get", "get_many", "set", "set_many", "add", "delete", "delete_many", "incr"):
        original = getattr(backend, name)

        def counting(*args: Any, _name: str = name, _original: Any = original, **kw: Any) -> Any:
            if depth[0] == 0:
                calls.append(_name)
            depth[0] += 1
            try:
                return _original(*args, **kw)
            finally:
                depth[0] -= 1

        monkeypatch.setattr(backend, name, counting)

    with CaptureQueriesContext(connection) as queries:
        token = api_token_get_by_key(key)
        assert token is not None
        api_token_touch(token=token)  # used a moment ago: nothing to write

    assert calls == ["get_many"]
    assert len(queries) == 0


# --- Real threads on PostgreSQL and Redis ----------------------------------------------------


@pytest.fixture
def high_work_rate(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let the threads claim as fast as they can (the work rate limit is not under test)."""
    monkeypatch.setattr(WorkThrottle, "THROTTLE_RATES", {"work": "1000000/minute"})


class Recorder:
    """Threads calling the API: when each call started (monotonic clock) and its status."""

    def __init__(self) -> None:
        self.calls: list[tuple[float, int, str]] = []
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.threads: list[threading.Thread] = []

    def start(self, door: str, call: Callable[[], int]) -> None:
        thread = threading.Thread(target=self._run, args=(door, call), daemon=True)
        thread.start()
        self.threads.append(thread)

    def finish(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=30)
        assert not any(thread.is_alive() for thread in self.threads)

    def _run(self, door: str, call: Callable[[], int]) -> None:
        try:
            while not self.stop.is_set():
                started = time.monotonic()
                status = call()
                with self.lock:
                    self.calls.append((started, status, door))
        finally:
            connection.close()


@pytest.mark.redis
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_no_call_started_after_a_deactivation_commits_is_served_under_load(
    high_work_rate: None,
) -> None:
    project = make_project()
    add_tasks(project, 20)
    for _ in range(4):
        worker = make_worker()
        _, key = api_token_create(user=worker, name="tool")
        recorder = Recorder()
        for _ in range(3):
            recorder.start("drf", partial(me_status, key))
            recorder.start("hot", partial(hot_claim, project.pk, key))
        time.sleep(0.4)

        user_set_active(user=User.objects.get(pk=worker.pk), is_active=False, actor=None)
        committed_at = time.monotonic()
        time.sleep(0.4)
        recorder.finish()

        before = [(door, code) for started, code, door in recorder.calls if started <= committed_at]
        after = [(door, code) for started, code, door in recorder.calls if started > committed_at]
        assert {door for door, code in before if code == 200} == {"drf", "hot"}
        assert {door for door, _ in after} == {"drf", "hot"}
        assert [call for call in after if call[1] == 200] == []
