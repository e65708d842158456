import pytest


@pytest.mark.django_db
def test_healthz_reports_database_and_celery(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    body = response.json()
    assert body["checks"]["database"]["status"] == "ok"
    assert body["checks"]["celery"]["status"] in {"ok", "no_workers"}
