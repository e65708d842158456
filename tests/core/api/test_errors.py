"""API errors come back as {"code", "message", "extra"} with the right status."""

import json

import pytest
import redis
from django.db import OperationalError, connection
from django.db.backends.utils import CursorWrapper
from django.urls import Resolver404, resolve

from accounts.api.tokens import ApiTokenViewSet
from accounts.models import Role
from core.api.parsers import MAX_JSON_DEPTH
from labeling.api import throttles as labeling_api_views
from tests.factories import make_user
from tests.labeling.factories import add_tasks, make_project, make_worker

pytestmark = pytest.mark.django_db


def test_a_validation_error_names_the_field(client):
    client.force_login(make_user(Role.CUSTOMER))

    response = client.post("/api/v1/tokens/", {"name": ""}, content_type="application/json")

    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"code", "message", "extra"}
    assert body["code"] == "validation_error"
    assert body["message"].startswith("name:")
    assert "name" in body["extra"]["fields"]


def test_a_service_validation_error_uses_the_same_shape(client):
    admin = make_user(Role.ADMIN, mfa=True)
    person = make_user(Role.ANNOTATOR)
    client.force_login(admin)

    response = client.post(
        f"/api/v1/users/{person.pk}/roles/", {"role": "reviewer"}, content_type="application/json"
    )

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "validation_error"
    assert body["extra"]["fields"] == {"level": ["Required for reviewers."]}


def test_a_permission_error_has_the_documented_shape(client):
    client.force_login(make_user(Role.ANNOTATOR))

    response = client.get("/api/v1/audit-events/")

    assert response.status_code == 403
    assert response.json() == {
        "code": "permission_denied",
        "message": "You do not have permission to perform this action.",
        "extra": {},
    }


def test_not_found_has_the_documented_shape(client):
    client.force_login(make_user(Role.CUSTOMER))

    response = client.get("/api/v1/tokens/999999/")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert set(response.json()) == {"code", "message", "extra"}


def test_malformed_json_is_a_clear_parse_error(client):
    client.force_login(make_user(Role.CUSTOMER))

    response = client.post("/api/v1/tokens/", "{not json", content_type="application/json")

    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"


# --- Findings of the hardening audit (issue 10): each was a 5xx, each is now a 4xx -------------


def test_me_answers_a_manager_with_their_own_record(client):
    manager = make_user(Role.MANAGER, mfa=True)
    client.force_login(manager)

    response = client.get("/api/v1/me/")

    assert response.status_code == 200
    assert response.json()["id"] == manager.pk
    assert [r["role"] for r in response.json()["roles"]] == ["manager"]


@pytest.mark.parametrize("action", ["heartbeat", "submit", "skip", "release"])
@pytest.mark.parametrize("lease_id", ["abc", "1.5", "-1", "0", str(2**63), "9" * 25])
def test_a_lease_id_that_is_not_an_id_is_not_found(client, action, lease_id):
    client.force_login(make_worker())

    response = client.post(
        f"/api/v1/leases/{lease_id}/{action}/", {}, content_type="application/json"
    )

    assert response.status_code == 404
    assert response.json() == {"code": "not_found", "message": "Not found.", "extra": {}}


def test_a_project_id_beyond_bigint_is_not_found_on_claim(client):
    client.force_login(make_worker())

    response = client.post(f"/api/v1/projects/{2**63}/claim/")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_the_largest_id_still_reaches_the_view():
    match = resolve(f"/api/v1/projects/{2**63 - 1}/claim/")

    assert match.url_name == "project-claim"
    assert match.kwargs == {"project_id": 2**63 - 1}
    with pytest.raises(Resolver404):
        resolve(f"/api/v1/projects/{2**63}/claim/")


def test_an_unknown_api_url_is_not_found_in_the_error_shape(client):
    response = client.get("/api/v1/no-such-thing/")

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json()["code"] == "not_found"


def test_an_unknown_portal_url_keeps_the_html_page(client):
    response = client.get("/no-such-page/")

    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


def _date_filter_urls() -> list[tuple[Role, str, str]]:
    return [
        (Role.MANAGER, "/api/v1/projects/{project}/tasks/", "created_since"),
        (Role.MANAGER, "/api/v1/projects/{project}/tasks/", "completed_since"),
        (Role.ADMIN, "/api/v1/audit-events/", "since"),
        (Role.ADMIN, "/api/v1/audit-events/", "until"),
        (Role.MANAGER, "/api/v1/tokens/", "revoked_at"),
        (Role.MANAGER, "/api/v1/projects/{project}/export/", "since"),
        (Role.MANAGER, "/api/v1/projects/{project}/export/", "until"),
    ]


@pytest.mark.parametrize(("role", "url", "field"), _date_filter_urls())
@pytest.mark.parametrize("moment", ["2025-01-01T00:00:00+16:00", "2025-01-01T00:00:00-23:59"])
def test_a_date_filter_refuses_an_offset_no_time_zone_uses(client, role, url, field, moment):
    client.force_login(make_user(role, mfa=True))
    project = make_project()

    response = client.get(url.format(project=project.pk), {field: moment})

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "validation_error"
    assert body["message"].startswith(f"{field}: The UTC offset")
    assert field in body["extra"]["fields"]


@pytest.mark.parametrize(("role", "url", "field"), _date_filter_urls())
def test_a_date_filter_refuses_a_moment_out_of_range_in_utc(client, role, url, field):
    client.force_login(make_user(role, mfa=True))
    project = make_project()

    response = client.get(url.format(project=project.pk), {field: "0001-01-01T00:00:00+14:00"})

    assert response.status_code == 400
    assert (
        response.json()["message"] == f"{field}: The time is out of range (years 1 to 9999 in UTC)."
    )


def test_a_date_filter_accepts_the_widest_real_offset(client):
    client.force_login(make_user(Role.MANAGER, mfa=True))
    project = make_project()
    add_tasks(project, 2)

    early = client.get(
        f"/api/v1/projects/{project.pk}/tasks/", {"created_since": "2000-01-01T00:00:00+14:00"}
    )
    late = client.get(
        f"/api/v1/projects/{project.pk}/tasks/", {"created_since": "9999-12-31T10:00:00+14:00"}
    )

    assert early.status_code == 200
    assert early.json()["count"] == 2
    assert late.json()["count"] == 0


def test_a_filter_id_beyond_bigint_is_a_validation_error(client):
    client.force_login(make_user(Role.ADMIN, mfa=True))

    response = client.get("/api/v1/audit-events/", {"actor": str(2**63)})

    assert response.status_code == 400
    assert "actor" in response.json()["extra"]["fields"]


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_a_non_finite_number_in_a_body_is_a_parse_error(client, constant):
    client.force_login(make_user(Role.CUSTOMER))

    response = client.post(
        "/api/v1/tokens/", f'{{"name": "x", "n": {constant}}}', content_type="application/json"
    )

    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"
    assert constant in response.json()["message"]


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 3_000, 100_000])
def test_a_deeply_nested_body_is_a_parse_error(client, depth):
    client.force_login(make_user(Role.CUSTOMER))

    response = client.post(
        "/api/v1/tokens/", "[" * depth + "]" * depth, content_type="application/json"
    )

    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"
    assert "nested more than" in response.json()["message"]


def test_a_body_at_the_depth_limit_is_read(client):
    client.force_login(make_user(Role.CUSTOMER))
    nested: object = "deep"
    for _ in range(MAX_JSON_DEPTH - 1):
        nested = [nested]

    response = client.post(
        "/api/v1/tokens/", json.dumps({"name": nested}), content_type="application/json"
    )

    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"  # read, then refused as a name


@pytest.mark.parametrize("content_type", ["application/json", "application/x-www-form-urlencoded"])
def test_a_body_over_the_limit_is_413_in_the_error_shape(client, settings, content_type):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    client.force_login(make_user(Role.CUSTOMER))

    response = client.post("/api/v1/tokens/", "a=" + "x" * 2000, content_type=content_type)

    assert response.status_code == 413
    body = response.json()
    assert body["code"] == "request_too_large"
    assert body["extra"] == {"max_bytes": 1000}


def test_a_body_over_the_limit_on_a_portal_page_keeps_djangos_answer(client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    client.force_login(make_user(Role.CUSTOMER))

    response = client.post("/tokens/", {"name": "x" * 2000})

    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/html")


def test_a_host_quorum_does_not_serve_is_a_400_in_the_error_shape(client):
    response = client.get("/api/v1/me/", HTTP_HOST="evil.example")

    assert response.status_code == 400
    assert response.json()["code"] == "disallowed_host"


# --- Outages: the database or Redis gone is a 503 the client may retry ----------------------


@pytest.fixture
def take_database_down(monkeypatch):
    """Call it to make every query fail as the driver fails when the server is gone."""

    def refuse(self, *args, **kwargs):
        with self.db.wrap_database_errors:  # as Django wraps the driver's error in _execute
            raise connection.Database.OperationalError("server closed the connection unexpectedly")

    def take_down() -> None:
        monkeypatch.setattr(CursorWrapper, "_execute", refuse)
        monkeypatch.setattr(CursorWrapper, "_executemany", refuse)

    return take_down


def _assert_outage(response) -> None:
    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    body = response.json()
    assert body["code"] == "service_unavailable"
    assert body["extra"] == {"retry_after_seconds": 30}


def test_a_database_outage_in_middleware_is_a_503_in_the_error_shape(client, take_database_down):
    client.raise_request_exception = False
    client.force_login(make_user(Role.CUSTOMER))  # middleware reads the session from the database
    take_database_down()

    _assert_outage(client.get("/api/v1/me/"))


def test_a_database_outage_in_a_view_is_a_503_in_the_error_shape(client, monkeypatch):
    user = make_user(Role.CUSTOMER)
    client.force_login(user)

    def refuse(*args, **kwargs):
        raise OperationalError("could not connect to server")

    monkeypatch.setattr(ApiTokenViewSet, "get_queryset", refuse)

    _assert_outage(client.get("/api/v1/tokens/"))


def test_a_redis_outage_is_a_503_in_the_error_shape(client, monkeypatch):
    worker = make_worker()
    client.force_login(worker)
    project = make_project()

    def refuse(*args, **kwargs):
        raise redis.exceptions.ConnectionError("Error 111 connecting to redis:6379.")

    monkeypatch.setattr(labeling_api_views, "counter_add", refuse)

    _assert_outage(client.post(f"/api/v1/projects/{project.pk}/claim/"))


def test_a_database_outage_on_a_portal_page_keeps_the_html_500(client, take_database_down):
    client.raise_request_exception = False
    client.force_login(make_user(Role.CUSTOMER))
    take_database_down()

    response = client.get("/tokens/")

    assert response.status_code == 500
    assert response["Content-Type"].startswith("text/html")


def test_an_unexpected_error_under_the_api_is_a_500_in_the_error_shape(client, monkeypatch):
    client.raise_request_exception = False
    client.force_login(make_user(Role.CUSTOMER))

    def fail(*args, **kwargs):
        raise KeyError("bug")

    monkeypatch.setattr(ApiTokenViewSet, "get_queryset", fail)
    response = client.get("/api/v1/tokens/")

    assert response.status_code == 500
    assert response.json()["code"] == "server_error"
