"""API errors come back as {"code", "message", "extra"} with the right status."""

import pytest

from accounts.models import Role
from tests.factories import make_user

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
