"""The reviewer and rework pages of the annotator portal: review home, review shell, rework lists."""

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import Role
from labeling.models import Task, WorkSlot
from labeling.services.claim import slot_claim_next
from labeling.services.gold import gold_answer_set
from labeling.services.review import review_claim_next, review_submit
from labeling.services.submit import lease_submit
from labeling.work_views import readable_result
from tests.factories import make_user
from tests.labeling.factories import add_tasks, make_worker, review_project

pytestmark = pytest.mark.django_db


def annotate(project, worker, count=1, result=None):
    for _ in range(count):
        lease = slot_claim_next(project=project, user=worker).lease
        lease_submit(lease_id=lease.pk, user=worker, result=result or {"label": "cat"})


def reject(project, reviewer, comment="It is a dog.", reason="wrong_label"):
    lease = review_claim_next(project=project, user=reviewer).lease
    return review_submit(
        lease_id=lease.pk, user=reviewer, verdict="reject", reason=reason, comment=comment
    )


def rejected_work(author, count, project=None, comment="It is a dog."):
    """`count` tasks of `author` sent back with `comment`; return the project."""
    project = project or review_project()
    add_tasks(project, count)
    annotate(project, author, count)
    reviewer = make_user(Role.REVIEWER, level=1)
    for _ in range(count):
        reject(project, reviewer, comment)
    return project


def config_of(response):
    html = response.content.decode()
    start = html.index('id="lab-config"')
    body = html[html.index(">", start) + 1 : html.index("</script>", start)]
    return json.loads(body)


# --- the review page ------------------------------------------------------------------------------


def test_annotators_without_the_reviewer_role_are_refused_the_review_page(client):
    project = review_project()
    client.force_login(make_worker())

    response = client.get(f"/work/projects/{project.pk}/review/")

    assert response.status_code == 403


@pytest.mark.parametrize("role", [Role.CUSTOMER, Role.MANAGER])
def test_people_who_do_not_label_are_refused_the_review_page(client, role):
    project = review_project()
    client.force_login(make_user(role, mfa=role != Role.CUSTOMER))

    assert client.get(f"/work/projects/{project.pk}/review/").status_code == 403


def test_review_page_renders_the_review_config_for_its_scripts(client):
    project = review_project()
    client.force_login(make_user(Role.REVIEWER, level=1))

    response = client.get(f"/work/projects/{project.pk}/review/")

    html = response.content.decode()
    config = config_of(response)
    assert response.status_code == 200
    assert config["mode"] == "review"
    assert config["urls"]["claim"] == f"/api/v1/projects/{project.pk}/review/claim/"
    assert config["urls"]["release_beacon"] == "/work/leases/0/release/"
    assert html.index("labeling/work/label.js") < html.index("labeling/work/review.js")


def test_review_page_of_an_inactive_project_is_not_found(client):
    project = review_project(status="paused")
    client.force_login(make_user(Role.REVIEWER, level=1))

    assert client.get(f"/work/projects/{project.pk}/review/").status_code == 404


def test_review_and_labeling_pages_never_contain_a_gold_answer(client):
    secret = "The hidden reason it is a bird"
    project = review_project(gold_feedback=True)
    [gold_id, _] = add_tasks(project, 2)
    gold_answer_set(
        task=Task.objects.get(pk=gold_id), result={"label": "bird"}, explanation=secret, actor=None
    )
    reviewer = make_user(Role.REVIEWER, level=1)
    client.force_login(reviewer)

    pages = [
        client.get(f"/work/projects/{project.pk}/review/"),
        client.get(f"/work/projects/{project.pk}/"),
    ]

    for response in pages:
        html = response.content.decode()
        assert response.status_code == 200
        assert secret not in html
        assert "is_gold" not in html
        assert '"expected"' not in html
        assert set(config_of(response)) <= {"mode", "project", "urls"}


# --- the work home ---------------------------------------------------------------------------------


def test_home_lists_projects_with_review_work_at_the_reviewers_level(client):
    project = review_project()
    add_tasks(project, 3)
    annotate(project, make_worker(), 2)
    idle = review_project()
    add_tasks(idle, 1)
    client.force_login(make_user(Role.REVIEWER, level=1))

    response = client.get("/work/")

    html = response.content.decode()
    rows = {row["id"]: row for row in response.context["review_projects"]}
    assert rows[project.pk]["open"] == 2
    assert idle.pk not in rows
    assert f'href="/work/projects/{project.pk}/review/"' in html
    assert "level 1: 2" in html


def test_home_shows_no_review_section_to_annotators(client):
    project = review_project()
    add_tasks(project, 2)
    annotate(project, make_worker(), 1)
    client.force_login(make_worker())

    response = client.get("/work/")

    assert 'id="review-projects"' not in response.content.decode()
    assert f"/work/projects/{project.pk}/review/" not in response.content.decode()


def test_home_says_when_nothing_waits_for_review(client):
    client.force_login(make_user(Role.REVIEWER, level=1))

    response = client.get("/work/")

    assert "Nothing waits for your review right now." in response.content.decode()


def test_home_query_count_does_not_grow_with_review_projects(client):
    annotator = make_worker()
    first = review_project()
    add_tasks(first, 1)
    annotate(first, annotator)
    reviewer = make_user(Role.REVIEWER, level=1)
    client.force_login(reviewer)
    client.get("/work/")
    with CaptureQueriesContext(connection) as one:
        client.get("/work/")
    for _ in range(4):
        project = review_project()
        add_tasks(project, 2)
        annotate(project, annotator, 2)

    with CaptureQueriesContext(connection) as five:
        response = client.get("/work/")

    assert len(response.context["review_projects"]) == 5
    assert len(five) == len(one)


def test_home_counts_the_rework_waiting_and_links_to_it(client):
    author = make_worker()
    rejected_work(author, 2)
    client.force_login(author)

    response = client.get("/work/")

    html = response.content.decode()
    assert response.context["rework_count"] == 2
    assert 'id="rework-count">2<' in html
    assert 'href="/work/history/#h-rework"' in html


def test_home_query_count_does_not_grow_with_rework_items(client):
    author = make_worker()
    project = rejected_work(author, 1)
    client.force_login(author)
    client.get("/work/")
    with CaptureQueriesContext(connection) as one:
        client.get("/work/")
    rejected_work(author, 3, project=project)

    with CaptureQueriesContext(connection) as four:
        response = client.get("/work/")

    assert response.context["rework_count"] == 4
    assert len(four) == len(one)


# --- the history page -------------------------------------------------------------------------------


def test_history_lists_rework_with_reason_comment_answer_and_a_rework_link(client):
    author = make_worker()
    project = rejected_work(author, 1, comment="Look at the ears: it is a dog.")
    slot = WorkSlot.objects.get(kind="rework", assignee=author)
    client.force_login(author)

    response = client.get("/work/history/")

    html = response.content.decode()
    [item] = response.context["rework"]
    assert item["comment"] == "Look at the ears: it is a dog."
    assert item["your_answer"] == ["cat"]
    assert "Look at the ears: it is a dog." in html
    assert "Wrong label" in html
    assert f'href="/work/projects/{project.pk}/?rework={slot.pk}"' in html
    assert "Nothing to rework" not in html


def test_history_shows_no_one_elses_rework(client):
    rejected_work(make_worker(), 1, comment="Someone else's comment")
    client.force_login(make_worker())

    response = client.get("/work/history/")

    assert response.context["rework"] == []
    assert "Someone else's comment" not in response.content.decode()


def test_history_query_count_does_not_grow_with_rework_items(client):
    author = make_worker()
    project = rejected_work(author, 1)
    client.force_login(author)
    client.get("/work/history/")
    with CaptureQueriesContext(connection) as one:
        client.get("/work/history/")
    rejected_work(author, 3, project=project)
    rejected_work(author, 1)  # and one in another project

    with CaptureQueriesContext(connection) as five:
        response = client.get("/work/history/")

    assert len(response.context["rework"]) == 5
    assert len(five) == len(one)


def test_history_names_the_words_of_rejected_entities(client):
    labels = [{"name": "PER", "hotkey": "p"}, {"name": "LOC", "hotkey": "l"}]
    project = review_project(task_type="ner", labels=labels)
    author = make_worker()
    add_tasks(project, 1)
    annotate(project, author, result={"spans": [{"start": 0, "end": 4, "label": "LOC"}]})
    reject(project, make_user(Role.REVIEWER, level=1), reason="wrong_label")
    client.force_login(author)

    response = client.get("/work/history/")

    assert response.context["rework"][0]["your_answer"] == ["“Item” LOC"]


# --- rework mode of the labeling page ------------------------------------------------------------------


def test_rework_mode_claims_the_rework_and_starts_from_the_rejected_answer(client):
    author = make_worker()
    project = rejected_work(author, 1, comment="It is a dog.")
    slot = WorkSlot.objects.get(kind="rework", assignee=author)
    client.force_login(author)

    response = client.get(f"/work/projects/{project.pk}/?rework={slot.pk}")

    config = config_of(response)
    assert response.status_code == 200
    assert config["urls"]["rework_claim"] == f"/api/v1/rework/{slot.pk}/claim/"
    assert config["urls"]["after_rework"] == "/work/history/"
    assert config["rework"]["item"]["your_result"] == {"label": "cat"}
    assert 'id="rework-note"' in response.content.decode()
    assert "It is a dog." in response.content.decode()


def test_rework_mode_shows_nothing_of_another_persons_rework(client):
    project = rejected_work(make_worker(), 1, comment="Private to the author")
    slot = WorkSlot.objects.get(kind="rework")
    client.force_login(make_worker())

    response = client.get(f"/work/projects/{project.pk}/?rework={slot.pk}")

    assert response.status_code == 200
    assert config_of(response)["rework"]["item"] is None
    assert "Private to the author" not in response.content.decode()


def test_rework_mode_with_a_malformed_slot_is_not_found(client):
    project = review_project()
    client.force_login(make_worker())

    assert client.get(f"/work/projects/{project.pk}/?rework=abc").status_code == 404


def test_the_labeling_page_without_rework_has_no_rework_config(client):
    project = review_project()
    client.force_login(make_worker())

    config = config_of(client.get(f"/work/projects/{project.pk}/"))

    assert "rework" not in config
    assert "rework_claim" not in config["urls"]


# --- results in words ----------------------------------------------------------------------------------


def test_readable_result_describes_each_kind_of_result():
    assert readable_result({"label": "cat"}) == ["cat"]
    assert readable_result({"labels": ["a", "b"]}) == ["a, b"]
    assert readable_result({"labels": []}) == ["No label."]
    assert readable_result({"spans": [{"start": 5, "end": 8, "label": "LOC"}]}, "José São") == [
        "“São” LOC"
    ]
    assert readable_result({"spans": [{"start": 0, "end": 2, "label": "PER"}]}) == [
        "PER (characters 0 to 2)"
    ]
    assert readable_result({"boxes": [{"x": 1, "y": 2, "w": 3, "h": 4, "label": "car"}]}) == [
        "car at (1, 2), 3 by 4 px"
    ]
    assert readable_result(None) == ["No answer."]
