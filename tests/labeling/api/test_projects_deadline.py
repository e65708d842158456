"""A project's optional deadline through the projects API, the portal form and the service."""

from datetime import UTC, datetime

import pytest

from core.errors import ValidationFailed
from core.models import AuditEvent
from labeling.models import Project
from labeling.services.projects import project_update
from tests.labeling.factories import make_project, project_form

pytestmark = pytest.mark.django_db


def test_a_customer_sets_and_clears_a_deadline_by_api(customer_client):
    created = customer_client.post(
        "/api/v1/projects/",
        {"name": "Due", "task_type": "single_label", "labels": ["cat", "dog"]},
        content_type="application/json",
    )
    project_id = created.json()["id"]

    set_ = customer_client.patch(
        f"/api/v1/projects/{project_id}/",
        {"deadline": "2026-12-31T18:00:00Z"},
        content_type="application/json",
    )
    cleared = customer_client.patch(
        f"/api/v1/projects/{project_id}/", {"deadline": None}, content_type="application/json"
    )

    assert created.json()["deadline"] is None
    assert set_.status_code == 200, set_.json()
    assert set_.json()["deadline"] == "2026-12-31T18:00:00Z"
    assert cleared.json()["deadline"] is None
    changes = AuditEvent.objects.filter(action="project.updated", target_id=str(project_id))
    assert any(e.after.get("deadline") == "2026-12-31T18:00:00+00:00" for e in changes)


def test_a_deadline_that_is_not_a_time_is_refused_by_api_naming_the_field(customer_client):
    created = customer_client.post(
        "/api/v1/projects/",
        {"name": "Due", "task_type": "single_label", "labels": ["cat", "dog"]},
        content_type="application/json",
    )

    response = customer_client.patch(
        f"/api/v1/projects/{created.json()['id']}/",
        {"deadline": "next friday"},
        content_type="application/json",
    )

    assert response.status_code == 400
    assert "deadline" in response.json()["extra"]["fields"]


def test_the_service_refuses_a_deadline_without_a_time_zone():
    project = make_project()

    with pytest.raises(ValidationFailed) as refused:
        project_update(project=project, actor=None, deadline=datetime(2026, 12, 31, 18))  # noqa: DTZ001  (the point)

    assert "deadline" in refused.value.extra["fields"]
    project.refresh_from_db()
    assert project.deadline is None


def test_the_portal_form_sets_a_deadline_in_utc(customer_client):
    response = customer_client.post("/projects/new/", project_form(deadline="2026-12-31T18:00"))

    project = Project.objects.get(name="Reviews")
    assert response.status_code == 302
    assert project.deadline == datetime(2026, 12, 31, 18, tzinfo=UTC)
    page = customer_client.get(f"/projects/{project.pk}/edit/").content.decode()
    assert 'value="2026-12-31T18:00"' in page
    assert (
        "2026-12-31 18:00 UTC" in customer_client.get(f"/projects/{project.pk}/").content.decode()
    )
