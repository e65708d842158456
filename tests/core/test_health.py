import pytest
from django.db import connection

from accounts.models import Role
from accounts.services import RoleSpec, api_token_create, user_create
from config.celery import app as celery_app
from tests.factories import make_user

pytestmark = pytest.mark.django_db

BROKEN_REDIS_URL = "redis://127.0.0.1:1/0"


@pytest.fixture
def staff_client(client):
    client.force_login(make_user(Role.ADMIN, mfa=True))
    return client


@pytest.fixture
def broker_celery(monkeypatch):
    """Celery with a broker (not eager); call it with the workers' ping replies."""

    def answer(replies):
        celery_app.conf.task_always_eager = False  # conftest's _celery_eager restores it
        monkeypatch.setattr(celery_app.control, "ping", lambda timeout: replies)

    return answer


def test_healthz_tells_anonymous_clients_only_the_status(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"status": "ok"}


@pytest.mark.parametrize("role", [Role.ANNOTATOR, Role.CUSTOMER])
def test_healthz_tells_people_outside_operations_only_the_status(client, role):
    client.force_login(make_user(role))

    assert client.get("/healthz").json() == {"status": "ok"}


def test_healthz_hides_the_details_from_staff_without_a_second_factor(client):
    client.force_login(make_user(Role.ADMIN))

    assert client.get("/healthz").json() == {"status": "ok"}


def test_healthz_shows_staff_the_database_and_eager_celery(staff_client):
    response = staff_client.get("/healthz")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"] == {"status": "ok", "vendor": connection.vendor}
    assert body["checks"]["celery"] == {"status": "ok", "mode": "eager"}


def test_healthz_shows_a_staff_api_token_the_details(client):
    key = api_token_create(user=make_user(Role.MANAGER, mfa=True), name="ops")[1]

    response = client.get("/healthz", HTTP_AUTHORIZATION=f"Token {key}")

    assert response.json()["checks"]["database"]["status"] == "ok"


def test_healthz_hides_the_details_from_a_customer_api_token(client):
    key = api_token_create(user=make_user(Role.CUSTOMER), name="tool")[1]

    response = client.get("/healthz", HTTP_AUTHORIZATION=f"Token {key}")

    assert response.json() == {"status": "ok"}


def test_healthz_names_the_workers_to_staff_only(client, staff_client, broker_celery):
    broker_celery([{"celery@worker-1.internal": {"ok": "pong"}}])

    details = staff_client.get("/healthz").json()
    client.logout()
    public = client.get("/healthz")

    assert details["checks"]["celery"]["workers"] == ["celery@worker-1.internal"]
    assert details["checks"]["celery"]["status"] == "ok"
    assert b"worker-1" not in public.content


def test_healthz_is_degraded_without_celery_workers(staff_client, broker_celery):
    broker_celery([])

    response = staff_client.get("/healthz")

    assert response.status_code == 200
    assert response.json()["status"] == "degraded"
    assert response.json()["checks"]["celery"]["status"] == "no_workers"
    assert response.json()["checks"]["celery"]["workers"] == []


def test_healthz_reports_redis_not_configured_without_redis_url(staff_client, settings):
    settings.REDIS_URL = None

    response = staff_client.get("/healthz")

    assert response.status_code == 200
    assert response.json()["checks"]["redis"] == {"status": "not_configured"}


@pytest.mark.redis
def test_healthz_reports_redis_ok_when_it_answers(staff_client):
    response = staff_client.get("/healthz")

    assert response.status_code == 200
    assert response.json()["checks"]["redis"] == {"status": "ok"}


def test_healthz_answers_503_with_status_error_when_redis_is_unreachable(staff_client, settings):
    settings.REDIS_URL = BROKEN_REDIS_URL

    response = staff_client.get("/healthz")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "error"
    assert body["checks"]["redis"]["status"] == "error"
    assert body["checks"]["database"]["status"] == "ok"


def test_healthz_answers_503_to_anonymous_clients_too(client, settings):
    settings.REDIS_URL = BROKEN_REDIS_URL

    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json() == {"status": "error"}


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
    assert response.json() == {"status": "ok"}
