"""The annotator portal pages: work home, history, the labeling shell and the release beacon."""

import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.staticfiles import finders
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Role
from labeling.models import Annotation, InstructionVersion, Lease, LeaseState
from labeling.services.claim import slot_claim_next
from labeling.services.submit import lease_submit
from tests.factories import make_user
from tests.labeling.factories import add_tasks, make_project, make_worker
from workforce.models import Skill
from workforce.services import skill_level_grant

pytestmark = pytest.mark.django_db


def label_tasks(project, worker, count):
    for _ in range(count):
        lease = slot_claim_next(project=project, user=worker).lease
        lease_submit(lease_id=lease.pk, user=worker, result={"label": "cat"})


def home_rows(response, key):
    return {row.project.pk: row for row in response.context[key]}


def test_home_lists_workable_projects_with_the_slots_the_person_could_take(client):
    worker = make_worker()
    project = make_project(instructions="Label it.")
    add_tasks(project, 4)
    label_tasks(project, worker, 1)
    other = make_worker()
    slot_claim_next(project=project, user=other)  # leased by someone else: not available
    client.force_login(worker)

    response = client.get("/work/")

    assert response.status_code == 200
    rows = home_rows(response, "workable")
    assert rows[project.pk].available == 2
    assert rows[project.pk].instructions_version == (
        InstructionVersion.objects.filter(project=project).order_by("-version").first().version
    )
    assert f'href="/work/projects/{project.pk}/"' in response.content.decode()


def test_home_counts_tasks_not_the_open_slots_of_a_consensus_project(client):
    worker, other = make_worker(), make_worker()
    project = make_project(pipeline="consensus", overlap=3, max_overlap=3)
    add_tasks(project, 5)
    label_tasks(project, other, 2)  # two tasks keep two open slots each
    client.force_login(worker)

    response = client.get("/work/")

    assert home_rows(response, "workable")[project.pk].available == 5
    assert re.search(r"<strong>5</strong> tasks available", response.content.decode())


def test_home_counts_an_expired_lease_of_another_person_as_available(client):
    worker, other = make_worker(), make_worker()
    project = make_project()
    add_tasks(project, 1)
    lease = slot_claim_next(project=project, user=other).lease
    past = timezone.now() - timedelta(seconds=5)
    Lease.objects.filter(pk=lease.pk).update(expires_at=past)
    lease.slot.__class__.objects.filter(pk=lease.slot_id).update(lease_expires_at=past)
    client.force_login(worker)

    response = client.get("/work/")

    assert home_rows(response, "workable")[project.pk].available == 1


def test_home_puts_projects_without_work_for_the_person_apart(client):
    worker = make_worker()
    done = make_project()
    add_tasks(done, 1)
    label_tasks(done, worker, 1)
    client.force_login(worker)

    response = client.get("/work/")

    assert done.pk not in home_rows(response, "workable")
    assert done.pk in home_rows(response, "empty")


def test_home_lists_projects_the_person_could_unlock_with_what_they_need(client):
    skill = Skill.objects.create(slug="ner-en", name="English NER")
    worker = make_worker()
    low = make_worker(skill=skill, level=1)
    project = make_project(required_skill=skill, required_level=2)
    add_tasks(project, 2)

    client.force_login(worker)
    missing = client.get("/work/")
    client.force_login(low)
    too_low = client.get("/work/")
    skill_level_grant(user=low, skill=skill, level=2, actor=None)
    enough = client.get("/work/")

    assert project.pk not in home_rows(missing, "workable")
    assert "English NER at level 2 (you do not have this skill yet)" in missing.content.decode()
    assert "English NER at level 2 (you have level 1)" in too_low.content.decode()
    assert project.pk not in {row.project.pk for row in enough.context["locked"]}
    assert home_rows(enough, "workable")[project.pk].available == 2


def test_home_shows_todays_and_this_weeks_submissions(client):
    worker = make_worker()
    project = make_project()
    add_tasks(project, 3)
    label_tasks(project, worker, 3)
    old = Annotation.objects.filter(author=worker).order_by("pk").first()
    Annotation.objects.filter(pk=old.pk).update(submitted_at=timezone.now() - timedelta(days=30))
    client.force_login(worker)

    response = client.get("/work/")

    assert response.context["today_count"] == 2
    assert response.context["week_count"] == 2


def test_home_query_count_does_not_grow_with_projects(client):
    worker = make_worker()
    project = make_project()
    add_tasks(project, 2)
    client.force_login(worker)
    client.get("/work/")
    with CaptureQueriesContext(connection) as one:
        client.get("/work/")
    for _ in range(4):
        add_tasks(make_project(), 2)

    with CaptureQueriesContext(connection) as five:
        response = client.get("/work/")

    assert len(home_rows(response, "workable")) == 5
    assert len(five) == len(one)


def test_an_inactive_annotator_sees_why_and_no_start_button(client):
    worker = make_worker(status="suspended")
    project = make_project()
    add_tasks(project, 1)
    client.force_login(worker)

    response = client.get("/work/")

    assert response.status_code == 200
    assert "only active annotators take work" in response.content.decode()
    assert not response.context["workable"]


@pytest.mark.parametrize("role", [Role.CUSTOMER, Role.FINANCE, Role.MANAGER])
@pytest.mark.parametrize("url", ["/work/", "/work/history/", "/work/projects/{id}/"])
def test_people_who_do_not_label_are_refused_the_portal(client, role, url):
    project = make_project()
    client.force_login(make_user(role, mfa=role != Role.CUSTOMER))

    response = client.get(url.format(id=project.pk))

    assert response.status_code == 403


def test_visitors_are_sent_to_sign_in(client):
    response = client.get("/work/")

    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_labeling_page_renders_the_project_config_for_its_script(client):
    worker = make_worker()
    project = make_project(task_type="ner", labels=[{"name": "PER", "hotkey": "p"}])
    client.force_login(worker)

    response = client.get(f"/work/projects/{project.pk}/")

    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="lab-config"' in html
    assert f"/api/v1/projects/{project.pk}/claim/" in html
    assert "labeling/work/label.js" in html


def test_labeling_page_of_an_inactive_project_is_not_found(client):
    worker = make_worker()
    project = make_project(status="paused")
    client.force_login(worker)

    assert client.get(f"/work/projects/{project.pk}/").status_code == 404


def test_history_lists_own_submissions_in_constant_queries(client):
    worker = make_worker()
    project = make_project()
    add_tasks(project, 6)
    label_tasks(project, worker, 2)
    someone = make_worker()
    label_tasks(project, someone, 1)
    client.force_login(worker)
    client.get("/work/history/")
    with CaptureQueriesContext(connection) as two:
        response = client.get("/work/history/")
    label_tasks(project, worker, 3)

    with CaptureQueriesContext(connection) as five:
        more = client.get("/work/history/")

    assert [a.author_id for a in response.context["page"].object_list] == [worker.pk] * 2
    assert len(more.context["page"].object_list) == 5
    assert len(five) == len(two)


def test_history_is_paginated(client):
    worker = make_worker()
    project = make_project()
    add_tasks(project, 27)
    label_tasks(project, worker, 27)
    client.force_login(worker)

    first = client.get("/work/history/")
    second = client.get("/work/history/?page=2")

    assert len(first.context["page"].object_list) == 25
    assert len(second.context["page"].object_list) == 2


def test_history_shows_the_empty_rework_list(client):
    client.force_login(make_worker())

    response = client.get("/work/history/")

    assert "Nothing to rework. When a reviewer sends work back, it appears here." in (
        response.content.decode()
    )


def test_release_beacon_gives_the_lease_back_with_the_token_in_the_form(client):
    worker = make_worker()
    project = make_project()
    add_tasks(project, 2)
    lease = slot_claim_next(project=project, user=worker).lease
    client.force_login(worker)
    csrf_client = type(client)(enforce_csrf_checks=True)
    csrf_client.force_login(worker)
    page = csrf_client.get(f"/work/projects/{project.pk}/")
    token = page.context["csrf_token"]

    refused = csrf_client.post(f"/work/leases/{lease.pk}/release/")
    released = csrf_client.post(
        f"/work/leases/{lease.pk}/release/", {"csrfmiddlewaretoken": str(token)}
    )

    assert refused.status_code == 403
    assert released.status_code == 204
    lease.refresh_from_db()
    assert lease.state == LeaseState.RELEASED


def test_release_beacon_cannot_touch_another_persons_lease(client):
    owner, stranger = make_worker(), make_worker()
    project = make_project()
    add_tasks(project, 1)
    lease = slot_claim_next(project=project, user=owner).lease
    client.force_login(stranger)

    response = client.post(f"/work/leases/{lease.pk}/release/")

    assert response.status_code == 404
    lease.refresh_from_db()
    assert lease.state == LeaseState.ACTIVE


def test_labeling_page_loads_under_100_kb_of_its_own_javascript_and_css(client):
    client.force_login(make_worker())
    project = make_project()

    html = client.get(f"/work/projects/{project.pk}/").content.decode()

    assets = re.findall(
        r'<(?:script[^>]*\ssrc|link[^>]*rel="stylesheet"[^>]*\shref)="([^"]+)"', html
    )
    own = [a for a in assets if "htmx" not in a]
    assert any(a.endswith("labeling/work/label.js") for a in own)
    assert any(a.endswith("labeling/work/work.css") for a in own)
    sizes = {}
    for url in own:
        assert url.startswith(settings.STATIC_URL) or url.startswith("/" + settings.STATIC_URL)
        path = finders.find(url.split(settings.STATIC_URL, 1)[1])
        assert path, f"{url} is not a static file of the project (no CDN)"
        sizes[url] = Path(path).stat().st_size
    assert sum(sizes.values()) < 100 * 1024, sizes
