import pytest
from django.db import connection

from accounts.models import Role
from accounts.services import RoleSpec, user_create

pytestmark = pytest.mark.django_db

BROKEN_REDIS_URL = "redis://127.0.0.1:1/0"


def test_healthz_reports_database_and_celery(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    body = response.json()
    assert body["checks"]["database"]["status"] == "ok"
    assert body["checks"]["celery"]["status"] in {"ok", "no_workers"}


def test_healthz_reports_the_database_ok_with_its_vendor(client):
    response = client.get("/healthz")

    assert response.json()["checks"]["database"] == {"status": "ok", "vendor": connection.vendor}


def test_healthz_reports_redis_not_configured_without_redis_url(client, settings):
    settings.REDIS_URL = None

    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json()["checks"]["redis"] == {"status": "not_configured"}


@pytest.mark.redis
def test_healthz_reports_redis_ok_when_it_answers(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json()["checks"]["redis"] == {"status": "ok"}


def test_healthz_answers_503_with_status_error_when_redis_is_unreachable(client, settings):
    settings.REDIS_URL = BROKEN_REDIS_URL

    response = client.get("/healthz")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "error"
    assert body["checks"]["redis"]["status"] == "error"
    assert body["checks"]["database"]["status"] == "ok"


def test_healthz_answers_anonymous_requests_without_a_redirect(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"


def test_healthz_is_exempt_from_the_mfa_requirement(client):
    manager = user_create(
        email="manager@example.com",
        password=None,
        roles=[RoleSpec(Role.MANAGER)],
        email_verified=True,
    )
    client.force_login(manager)
    assert client.get("/").status_code == 302  # everything else sends them to set up MFA

    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json()["checks"]["database"]["status"] == "ok"
