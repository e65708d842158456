"""A consensus project's `reaggregate_final` setting through the projects API and service."""

import pytest

from core.errors import ValidationFailed
from labeling.services.projects import project_update
from tests.labeling.factories import make_project

pytestmark = pytest.mark.django_db


def test_new_projects_leave_old_final_tasks_alone_until_told(customer_client):
    response = customer_client.post(
        "/api/v1/projects/",
        {
            "name": "Re-aggregated",
            "task_type": "single_label",
            "labels": ["cat", "dog"],
            "pipeline": "consensus",
            "overlap": 2,
            "max_overlap": 3,
            "aggregation_method": "dawid_skene",
        },
        content_type="application/json",
    )
    project_id = response.json()["id"]
    changed = customer_client.patch(
        f"/api/v1/projects/{project_id}/",
        {"reaggregate_final": True},
        content_type="application/json",
    )

    assert response.status_code == 201, response.json()
    assert response.json()["reaggregate_final"] is False
    assert changed.status_code == 200, changed.json()
    assert changed.json()["reaggregate_final"] is True


def test_a_reaggregate_final_that_is_not_a_boolean_is_refused_naming_the_field():
    project = make_project(pipeline="consensus", overlap=2, max_overlap=2)

    with pytest.raises(ValidationFailed) as refused:
        project_update(project=project, actor=None, reaggregate_final="yes")

    assert "reaggregate_final" in refused.value.extra["fields"]
