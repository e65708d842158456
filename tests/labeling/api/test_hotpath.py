"""Claim and submit on the short path answer exactly as the full stack does, headers included.

Each case runs the same request through the WSGI application twice: on the hot path
(`QUORUM_API_HOT_PATH = True`) and through the full middleware chain and DRF (`False`), for
both kinds of caller: an API token, and the labeling page's session cookie with its CSRF token.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
import redis
from django.contrib.auth import update_session_auth_hash
from django.core import signals
from django.core.handlers.wsgi import WSGIHandler
from django.db import close_old_connections, connection
from django.middleware.csrf import _get_new_csrf_string
from django.test import Client, RequestFactory
from django.utils import timezone

from accounts.models import Role
from accounts.services import api_token_create, api_token_revoke, user_set_active
from labeling.api import hotpath
from labeling.api import throttles as labeling_api_views
from labeling.api.hotpath import QueueHotPath
from labeling.models import Annotation, Lease
from labeling.services.projects import customer_member_add
from tests.factories import make_user
from tests.labeling.factories import add_tasks, make_customer, make_project, make_worker

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


class Session:
    """A signed-in labeling page: its session cookie and CSRF token (None: the page sent none)."""

    def __init__(self, user: Any, *, csrf: bool = True) -> None:
        client = Client()
        client.force_login(user)  # Django's sign-in: a real session in the session engine
        self.client = client
        self.cookie = client.cookies["sessionid"].value
        self.csrf = _get_new_csrf_string() if csrf else None

    def environ(self) -> dict[str, str]:
        cookies = f"sessionid={self.cookie}"
        if self.csrf is None:
            return {"HTTP_COOKIE": cookies}
        return {"HTTP_COOKIE": f"{cookies}; csrftoken={self.csrf}", "HTTP_X_CSRFTOKEN": self.csrf}


def _call(
    app: Callable[..., Any],
    path: str,
    *,
    key: str | Session,
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
        **(key.environ() if isinstance(key, Session) else {"HTTP_AUTHORIZATION": f"Token {key}"}),
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
    """The paths the hot path handed to the full stack."""
    calls: list[str] = []
    original = QueueHotPath._hand_over

    def counting(self, request):
        calls.append(request.path_info)
        return original(self, request)

    monkeypatch.setattr(QueueHotPath, "_hand_over", counting)
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


CALLERS = ["token", "session"]


def _caller(kind: str, user) -> str | Session:
    """How `user` calls: with an API token, or from the labeling page with a session."""
    return _token(user) if kind == "token" else Session(user)


@pytest.mark.parametrize("caller", CALLERS)
def test_claim_and_submit_answer_as_the_full_stack_does(settings, app, delegated, caller):
    project = make_project(instructions="Label the **animal**.")
    add_tasks(project, 4)
    keys = iter([_caller(caller, make_worker()), _caller(caller, make_worker())])
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
        "no_csrf_token",
        "signed_out_session",
        "prefetch_at_the_limit",
        "non_finite_result",
        "deeply_nested_body",
        "body_over_the_limit",
        "project_beyond_bigint",
    ],
)
@pytest.mark.parametrize("caller", CALLERS)
def test_every_refusal_is_worded_and_shaped_as_the_full_stack_does(settings, app, case, caller):
    project = make_project(lease_seconds=60)
    add_tasks(project, 3)
    worker = make_worker(status="suspended" if case == "not_eligible" else "active")
    key = _caller(caller, worker)
    claim_path = f"/api/v1/projects/{project.pk}/claim/"
    submit_body = json.dumps({"result": {"label": "cat"}}).encode()

    def lease_of(user, prefetch: bool = False) -> int:
        from labeling.services.claim import slot_claim_next

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
        if case == "no_csrf_token":
            return _call(app, claim_path, key=Session(worker, csrf=False))
        if case == "signed_out_session":
            session = Session(worker)
            assert _call(app, claim_path, key=session).code == 200  # now held by the process
            session.client.logout()
            return _call(app, claim_path, key=session)
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
    if case == "no_csrf_token":
        assert hot.code == 403
        assert hot.json()["message"].startswith("CSRF Failed: CSRF cookie not set.")
    if case == "signed_out_session":
        assert hot.code == 401
    assert not Annotation.objects.exists()


def test_a_redis_outage_is_a_503_on_both_paths(settings, app, monkeypatch):
    project = make_project()
    add_tasks(project, 1)
    key = _token(make_worker())

    def refuse(*args, **kwargs):
        raise redis.exceptions.ConnectionError("Error 111 connecting to redis:6379.")

    # Each path's only way to count the call: the views' counter, the short path's round trip.
    monkeypatch.setattr(labeling_api_views, "counter_add", refuse)
    monkeypatch.setattr(hotpath, "cache_read_and_count", refuse)
    hot, full = both(settings, lambda: _call(app, f"/api/v1/projects/{project.pk}/claim/", key=key))

    assert (hot.code, hot.json()) == (full.code, full.json())  # Django's 500 view or DRF's
    assert hot.code == 503
    assert hot.headers["retry-after"] == full.headers["retry-after"] == "30"
    assert hot.json()["code"] == "service_unavailable"
    assert not Lease.objects.exists()


@pytest.mark.parametrize("caller", CALLERS)
def test_a_manager_without_mfa_is_sent_to_set_it_up_by_both(settings, app, caller):
    project = make_project()
    add_tasks(project, 1)
    key = _caller(caller, make_user(Role.MANAGER))

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


@pytest.mark.parametrize("caller", CALLERS)
def test_the_work_rate_limit_counts_each_call_once_and_refuses_as_drf_does(
    settings, app, monkeypatch, caller
):
    from labeling.api.throttles import WorkThrottle

    monkeypatch.setattr(WorkThrottle, "THROTTLE_RATES", {"work": "2/minute"})
    # Every call half-way through one fixed window: Retry-After is the same for both paths, and
    # a window that ends between two calls can neither let the third call through nor shorten it.
    monkeypatch.setattr(WorkThrottle, "timer", lambda self: MID_MINUTE)
    project = make_project()
    add_tasks(project, 10)
    keys = iter([_caller(caller, make_worker()), _caller(caller, make_worker())])
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


@pytest.mark.parametrize("change", ["revoked", "deactivated"])
def test_a_token_refused_since_the_last_claim_is_refused_at_once_as_drf_does(
    settings, app, delegated, change
):
    project = make_project()
    add_tasks(project, 4)
    path = f"/api/v1/projects/{project.pk}/claim/"
    workers = iter([make_worker(), make_worker()])

    def claim_then_change_then_claim() -> Answer:
        worker = next(workers)
        token, key = api_token_create(user=worker, name="tool")
        assert _call(app, path, key=key).code == 200  # the token is held by the process now
        if change == "revoked":
            api_token_revoke(token=token, actor=worker)
        else:
            user_set_active(user=worker, is_active=False, actor=None)
        return _call(app, path, key=key)

    hot, full = both(settings, claim_then_change_then_claim)

    assert hot.code == 401
    assert hot.shape() == full.shape()


@pytest.mark.parametrize(
    "change", ["deactivated", "password changed elsewhere", "password reset by e-mail"]
)
def test_a_session_refused_since_the_last_claim_is_refused_at_once_as_drf_does(
    settings, app, change
):
    project = make_project()
    add_tasks(project, 4)
    path = f"/api/v1/projects/{project.pk}/claim/"
    workers = iter([make_worker(), make_worker()])

    def claim_then_change_then_claim() -> Answer:
        worker = next(workers)
        page = Session(worker)
        assert _call(app, path, key=page).code == 200  # the session is held by the process now
        if change == "deactivated":
            user_set_active(user=worker, is_active=False, actor=None)
        elif change == "password reset by e-mail":  # no session of the person's is involved
            worker.set_password("a new password, from the reset link")
            worker.save()
        else:
            elsewhere = Client()
            elsewhere.force_login(worker)
            worker.set_password("a new password, chosen elsewhere")
            worker.save()
            # As Django's password change view does: it keeps its own session, the others end.
            request = RequestFactory().get("/")
            request.session = elsewhere.session
            request.user = worker
            update_session_auth_hash(request, worker)
        return _call(app, path, key=page)

    hot, full = both(settings, claim_then_change_then_claim)

    assert hot.code in {401, 403}
    assert hot.shape() == full.shape()


def test_a_customer_session_from_outside_the_allowlist_is_refused_as_the_full_stack_does(
    settings, app
):
    customer = make_customer()
    customer.ip_allowlist = ["10.1.0.0/16"]
    customer.save()
    project = make_project(customer)
    add_tasks(project, 3)
    worker = make_worker()
    customer_member_add(customer=customer, user=worker, actor=None)
    page = Session(worker)
    path = f"/api/v1/projects/{project.pk}/claim/"

    hot, full = both(
        settings, lambda: _call(app, path, key=page, extra={"REMOTE_ADDR": "192.0.2.9"})
    )
    inside = _call(app, path, key=page, extra={"REMOTE_ADDR": "10.1.2.3"})

    assert hot.code == 403
    assert hot.json()["code"] == "ip_not_allowed"
    assert (hot.code, hot.json()) == (full.code, full.json())
    assert inside.code == 200, inside.body


class RoundTrips:
    """Counts the commands sent to Redis: one per command, one per pipeline (one round trip)."""

    def __init__(self, monkeypatch) -> None:
        self.count = 0
        original = redis.connection.AbstractConnection.send_packed_command

        def counting(connection_self, command, check_health=True):
            self.count += 1
            return original(connection_self, command, check_health)

        monkeypatch.setattr(redis.connection.AbstractConnection, "send_packed_command", counting)


@pytest.mark.redis
@pytest.mark.parametrize("caller", CALLERS)
def test_a_claim_and_a_submit_each_cost_one_redis_round_trip(app, monkeypatch, caller):
    project = make_project(instructions="Label the **animal**.")
    add_tasks(project, 5)
    key = _caller(caller, make_worker())
    path = f"/api/v1/projects/{project.pk}/claim/"
    body = json.dumps({"result": {"label": "cat"}}).encode()
    first = _call(app, path, key=key)  # the caller is looked up and held by the process
    assert (
        _call(app, f"/api/v1/leases/{first.json()['lease']['id']}/submit/", key=key, body=body).code
        == 201
    )
    trips = RoundTrips(monkeypatch)

    claimed = _call(app, path, key=key)
    after_claim = trips.count
    submitted = _call(
        app, f"/api/v1/leases/{claimed.json()['lease']['id']}/submit/", key=key, body=body
    )

    assert (claimed.code, submitted.code) == (200, 201)
    assert after_claim == 1
    assert trips.count - after_claim == 1


@pytest.mark.redis
def test_the_full_stack_costs_more_round_trips_than_the_short_path(settings, app, monkeypatch):
    """The counter of the test above sees round trips: without the short path there are more."""
    project = make_project()
    add_tasks(project, 3)
    key = _token(make_worker())
    path = f"/api/v1/projects/{project.pk}/claim/"
    assert _call(app, path, key=key).code == 200
    settings.QUORUM_API_HOT_PATH = False
    trips = RoundTrips(monkeypatch)

    assert _call(app, path, key=key).code == 200

    assert trips.count >= 2


@pytest.mark.parametrize(
    ("path", "most"), [("/api/v1/projects/7/claim/", 6), ("/api/v1/leases/7/submit/", 12)]
)
def test_claim_and_submit_resolve_before_the_rest_of_the_url_patterns_is_tried(
    monkeypatch, path, most
):
    # The hot path resolves every claim and submit; each URL pattern tried before the right one
    # costs a regular-expression match and, for an include, a list of what it tried. Counted,
    # not timed: labeling's API comes first in config/urls.py.
    from django.urls import resolve
    from django.urls.resolvers import RoutePattern

    tried = []
    match = RoutePattern.match
    monkeypatch.setattr(RoutePattern, "match", lambda self, p: tried.append(p) or match(self, p))

    assert hotpath.hot_work(path) is not None
    assert resolve(path).func is not None

    assert len(tried) <= 2 * most  # hot_work's resolve and this one
