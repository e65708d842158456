"""Claim and submit on the short path answer exactly as the full stack does, headers included.

Each case runs the same request through the WSGI application twice: on the hot path
(`QUORUM_API_HOT_PATH = True`) and through the full middleware chain and DRF (`False`).
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
import redis
from django.core import signals
from django.core.handlers.wsgi import WSGIHandler
from django.db import close_old_connections, connection
from django.utils import timezone

from accounts.models import Role
from accounts.services import api_token_create
from labeling.api import hotpath
from labeling.api import views as labeling_api_views
from labeling.api.hotpath import QueueHotPath
from labeling.models import Annotation, Lease
from tests.factories import make_user
from tests.labeling.factories import add_tasks, make_project, make_worker

pytestmark = pytest.mark.django_db

# Volatile parts of a response: ids and times differ between two otherwise equal answers.
_VOLATILE = {"id", "claimed_at", "expires_at", "annotation_id", "data"}


class Answer:
    def __init__(self, status: str, headers: list[tuple[str, str]], body: bytes) -> None:
        self.status = status
        self.code = int(status.split()[0])
        self.headers = {k.lower(): v for k, v in headers if k.lower() not in {"date", "server"}}
        self.body = body

    def json(self) -> Any:
        return json.loads(self.body)

    def shape(self) -> tuple[str, dict[str, str], Any]:
        def strip(value: Any) -> Any:
            if isinstance(value, dict):
                return {k: strip(v) for k, v in value.items() if k not in _VOLATILE}
            return value

        headers = dict(self.headers)
        headers.pop("content-length", None)  # ids of different lengths
        return self.status, headers, strip(self.json()) if self.body else None


def _call(
    app: Callable[..., Any],
    path: str,
    *,
    key: str,
    body: bytes = b"",
    query: str = "",
    content_type: str = "application/json",
    extra: dict[str, str] | None = None,
) -> Answer:
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SCRIPT_NAME": "",
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "HTTP_HOST": "testserver",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "CONTENT_TYPE": content_type,
        "CONTENT_LENGTH": str(len(body)),
        "HTTP_AUTHORIZATION": f"Token {key}",
        "HTTP_ACCEPT": "application/json",
        "wsgi.input": io.BytesIO(body),
        "wsgi.url_scheme": "http",
        "wsgi.errors": io.StringIO(),
        **(extra or {}),
    }
    seen: list[Any] = []
    # As Django's test client does: the test's transaction lives on this connection.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        chunks = app(environ, lambda status, headers, *_: seen.append((status, headers)))
        payload = b"".join(chunks)
        if hasattr(chunks, "close"):
            chunks.close()
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)
    return Answer(seen[0][0], seen[0][1], payload)


@pytest.fixture
def app() -> QueueHotPath:
    return QueueHotPath(WSGIHandler())


@pytest.fixture
def delegated(monkeypatch) -> list[str]:
    """The paths the hot path handed to DRF."""
    calls: list[str] = []
    original = hotpath._drf

    def counting(request):
        calls.append(request.path_info)
        return original(request)

    monkeypatch.setattr(hotpath, "_drf", counting)
    return calls


def both(settings, run: Callable[[], Answer]) -> tuple[Answer, Answer]:
    settings.QUORUM_API_HOT_PATH = True
    hot = run()
    settings.QUORUM_API_HOT_PATH = False
    full = run()
    settings.QUORUM_API_HOT_PATH = True
    return hot, full


def _token(user) -> str:
    return api_token_create(user=user, name="tool")[1]


def test_claim_and_submit_answer_as_the_full_stack_does(settings, app, delegated):
    project = make_project(instructions="Label the **animal**.")
    add_tasks(project, 4)
    keys = iter([_token(make_worker()), _token(make_worker())])
    claim_path = f"/api/v1/projects/{project.pk}/claim/"

    def claim_and_submit() -> Answer:
        key = next(keys)
        claimed = _call(app, claim_path, key=key)
        assert claimed.code == 200, claimed.body
        lease_id = claimed.json()["lease"]["id"]
        body = json.dumps({"result": {"label": "cat"}}).encode()
        submitted = _call(app, f"/api/v1/leases/{lease_id}/submit/", key=key, body=body)
        return Answer(
            submitted.status,
            [*claimed.headers.items(), *(("s-" + k, v) for k, v in submitted.headers.items())],
            json.dumps({"claim": claimed.json(), "submit": submitted.json()}).encode(),
        )

    hot, full = both(settings, claim_and_submit)

    assert delegated == []  # the hot path served both calls itself
    assert hot.shape() == full.shape()
    assert hot.json()["claim"]["instructions"]["html"]
    assert hot.headers["x-frame-options"] == "DENY"
    assert hot.headers["x-content-type-options"] == "nosniff"
    assert int(hot.headers["content-length"]) > 0
    assert Annotation.objects.filter(project=project).count() == 2


@pytest.mark.parametrize(
    "case",
    [
        "no_work",
        "unknown_project",
        "not_eligible",
        "bad_result",
        "expired_lease",
        "someone_elses_lease",
        "bad_json",
        "no_result",
        "form_body",
        "bad_token",
        "prefetch_at_the_limit",
        "non_finite_result",
        "deeply_nested_body",
        "body_over_the_limit",
        "project_beyond_bigint",
    ],
)
def test_every_refusal_is_worded_and_shaped_as_the_full_stack_does(settings, app, case):
    project = make_project(lease_seconds=60)
    add_tasks(project, 3)
    worker = make_worker(status="suspended" if case == "not_eligible" else "active")
    key = _token(worker)
    claim_path = f"/api/v1/projects/{project.pk}/claim/"
    submit_body = json.dumps({"result": {"label": "cat"}}).encode()

    def lease_of(user, prefetch: bool = False) -> int:
        from labeling.services.queue import slot_claim_next

        return slot_claim_next(project=project, user=user, prefetch=prefetch).lease.pk

    def run() -> Answer:
        if case == "no_work":
            empty = make_project()
            return _call(app, f"/api/v1/projects/{empty.pk}/claim/", key=key)
        if case == "unknown_project":
            return _call(app, "/api/v1/projects/987654/claim/", key=key)
        if case == "project_beyond_bigint":
            return _call(app, f"/api/v1/projects/{2**63}/claim/", key=key)
        if case in {"not_eligible", "prefetch_at_the_limit"}:
            return _call(app, claim_path, key=key, query="prefetch=1")
        if case == "bad_token":
            return _call(app, claim_path, key="qr_nothing_like_a_key")
        if case == "someone_elses_lease":
            return _call(
                app, f"/api/v1/leases/{lease_of(make_worker())}/submit/", key=key, body=submit_body
            )
        lease_id = Lease.objects.filter(user=worker, state="active").values_list("pk", flat=True)
        path = f"/api/v1/leases/{lease_id.first() or lease_of(worker)}/submit/"
        if case == "expired_lease":
            Lease.objects.filter(user=worker, state="active").update(
                expires_at=timezone.now() - timedelta(seconds=1)
            )
            return _call(app, path, key=key, body=submit_body)
        if case == "bad_result":
            return _call(app, path, key=key, body=b'{"result": {"label": "horse"}}')
        if case == "bad_json":
            return _call(app, path, key=key, body=b'{"result": ')
        if case == "non_finite_result":
            return _call(app, path, key=key, body=b'{"result": {"label": "cat", "score": NaN}}')
        if case == "deeply_nested_body":
            return _call(app, path, key=key, body=b'{"result": ' + b"[" * 3000 + b"]" * 3000 + b"}")
        if case == "body_over_the_limit":
            settings.DATA_UPLOAD_MAX_MEMORY_SIZE = len(submit_body) - 1
            return _call(app, path, key=key, body=submit_body)
        if case == "no_result":
            return _call(app, path, key=key, body=b'{"answer": {"label": "cat"}}')
        assert case == "form_body"
        return _call(
            app,
            path,
            key=key,
            body=b"result=cat",
            content_type="application/x-www-form-urlencoded",
        )

    if case == "prefetch_at_the_limit":
        lease_of(worker, prefetch=True)
        lease_of(worker, prefetch=True)  # at the limit with one in reserve: claims resume it

    hot, full = both(settings, run)

    assert hot.shape() == full.shape()
    if case == "prefetch_at_the_limit":
        assert hot.json()["resumed"] is True
    else:
        assert 400 <= hot.code < 500
        assert set(hot.json()) == {"code", "message", "extra"}
    expected = {
        "non_finite_result": (400, "parse_error"),
        "deeply_nested_body": (400, "parse_error"),
        "body_over_the_limit": (413, "request_too_large"),
        "project_beyond_bigint": (404, "not_found"),
    }
    if case in expected:
        assert (hot.code, hot.json()["code"]) == expected[case]
    assert not Annotation.objects.exists()


def test_a_redis_outage_is_a_503_on_both_paths(settings, app, monkeypatch):
    project = make_project()
    add_tasks(project, 1)
    key = _token(make_worker())

    def refuse(*args, **kwargs):
        raise redis.exceptions.ConnectionError("Error 111 connecting to redis:6379.")

    monkeypatch.setattr(labeling_api_views, "counter_add", refuse)
    hot, full = both(settings, lambda: _call(app, f"/api/v1/projects/{project.pk}/claim/", key=key))

    assert (hot.code, hot.json()) == (full.code, full.json())  # Django's 500 view or DRF's
    assert hot.code == 503
    assert hot.headers["retry-after"] == full.headers["retry-after"] == "30"
    assert hot.json()["code"] == "service_unavailable"
    assert not Lease.objects.exists()


def test_a_manager_without_mfa_is_sent_to_set_it_up_by_both(settings, app):
    project = make_project()
    add_tasks(project, 1)
    key = _token(make_user(Role.MANAGER))

    hot, full = both(settings, lambda: _call(app, f"/api/v1/projects/{project.pk}/claim/", key=key))

    assert hot.shape() == full.shape()
    assert hot.json()["code"] == "mfa_required"


def test_a_host_not_allowed_and_plain_http_are_refused_as_everywhere(settings):
    project = make_project()
    add_tasks(project, 1)
    key = _token(make_worker())
    path = f"/api/v1/projects/{project.pk}/claim/"

    evil = both(
        settings,
        lambda: _call(
            QueueHotPath(WSGIHandler()), path, key=key, extra={"HTTP_HOST": "evil.example"}
        ),
    )
    settings.SECURE_SSL_REDIRECT = True
    plain = both(settings, lambda: _call(QueueHotPath(WSGIHandler()), path, key=key))

    assert evil[0].code == evil[1].code == 400
    assert plain[0].code == plain[1].code == 301
    assert plain[0].headers["location"] == plain[1].headers["location"]
    assert not Lease.objects.exists()


def test_everything_else_goes_to_the_full_stack(app, delegated):
    key = _token(make_user(Role.CUSTOMER))

    answer = _call(app, "/api/v1/me/", key=key, extra={"REQUEST_METHOD": "GET"})

    assert answer.code == 200
    assert delegated == []  # not even offered to the hot path


@pytest.mark.django_db(transaction=True)
@pytest.mark.postgres  # SQLite connections do not break this way
def test_a_broken_reused_connection_is_replaced_and_the_call_served(app):
    project = make_project()
    add_tasks(project, 1)
    key = _token(make_worker())
    connection.ensure_connection()
    connection.connection.close()  # the server went away since the last request, say

    answer = _call(app, f"/api/v1/projects/{project.pk}/claim/", key=key)

    assert answer.code == 200, answer.body
    assert Lease.objects.count() == 1


MID_MINUTE = 1_800_000_030.0  # 30 s into a minute (1_800_000_000 is a multiple of 60)


def test_the_work_rate_limit_counts_each_call_once_and_refuses_as_drf_does(
    settings, app, monkeypatch
):
    from labeling.api.views import WorkThrottle

    monkeypatch.setattr(WorkThrottle, "THROTTLE_RATES", {"work": "2/minute"})
    # Every call half-way through one fixed window: Retry-After is the same for both paths, and
    # a window that ends between two calls can neither let the third call through nor shorten it.
    monkeypatch.setattr(WorkThrottle, "timer", lambda self: MID_MINUTE)
    project = make_project()
    add_tasks(project, 10)
    keys = iter([_token(make_worker()), _token(make_worker())])
    path = f"/api/v1/projects/{project.pk}/claim/"

    def three_claims() -> Answer:
        key = next(keys)
        answers = [_call(app, path, key=key) for _ in range(3)]
        assert [a.code for a in answers[:2]] == [200, 200]  # a repeated claim resumes the lease
        return answers[2]

    hot, full = both(settings, three_claims)

    assert hot.code == 429
    assert hot.shape() == full.shape()
    assert hot.headers["retry-after"] == full.headers["retry-after"] == "30"
