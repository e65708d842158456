"""The managers' page of per-person confusion matrices."""

import pytest

from accounts.models import Role
from tests.factories import make_team, make_user
from tests.labeling.factories import make_worker
from tests.quality.reports.test_worker_confusion import finished_task, gold_task, single_label

pytestmark = pytest.mark.django_db


def test_a_manager_sees_their_peoples_matrices_and_the_export_links(client):
    manager = make_user(Role.MANAGER, mfa=True)
    mine, theirs = make_worker(), make_worker()
    make_team(managers=[manager], members=[mine])
    project = single_label()
    finished_task(project, "cat", [(mine, "dog"), (theirs, "cat")])
    client.force_login(manager)

    response = client.get(f"/projects/{project.pk}/quality/people-confusions/")

    assert response.status_code == 200
    assert [p.user_id for p, _ in response.context["people"]] == [mine.pk]
    html = response.content.decode()
    assert f"/api/v1/projects/{project.pk}/worker-confusions/csv/" in html
    assert "0 of 1 right" in html


def test_the_gold_reference_shows_gold_answers(client):
    manager = make_user(Role.MANAGER, mfa=True)
    mine = make_worker()
    make_team(managers=[manager], members=[mine])
    project = single_label()
    gold_task(project, "bird", [(mine, "bird")])
    client.force_login(manager)

    response = client.get(f"/projects/{project.pk}/quality/people-confusions/?reference=gold")

    [(person, _)] = response.context["people"]
    assert person.rows[2].counts == [0, 0, 1]


def test_an_annotator_may_not_open_the_page(client):
    project = single_label()
    client.force_login(make_worker())

    assert client.get(f"/projects/{project.pk}/quality/people-confusions/").status_code == 403
