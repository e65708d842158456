"""Check attempts through the API and the portal: answer keys never reach the person, the time
limit is the server's, and nobody reaches anyone else's attempt."""

import json
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Role
from labeling.services.checks import check_attempt_begin
from tests.factories import make_user
from tests.labeling.factories import make_check, make_customer, make_customer_user, make_worker
from workforce.models import AttemptState, CheckAttempt

pytestmark = pytest.mark.django_db

ANSWERS = ("cat", "dog", "bird", "dog")


def post(client, url, body=None):
    return client.post(url, body or {}, content_type="application/json")


def keys_in(text: str, ids: list[int]) -> list[str]:
    """Every trace of an answer key in `text`: an expected result or an explanation."""
    explanations = [f"Because {label} {i}." for i, label in enumerate(ANSWERS)]
    markers = ['"label"', "&quot;label&quot;", '"expected"', *explanations, "Because "]
    return [marker for marker in markers if marker in text]


def run_attempt(client, check):
    """Start an attempt, fetch the page, then next/answer every item; return (attempt id, bodies
    by step)."""
    bodies: list[tuple[str, str, dict | None]] = []
    started = post(client, f"/api/v1/checks/{check.pk}/attempts/")
    assert started.status_code == 201, started.content
    attempt_id = started.json()["id"]
    bodies.append(("start", started.content.decode(), None))
    page = client.get(f"/work/attempts/{attempt_id}/")
    assert page.status_code == 200
    bodies.append(("page", page.content.decode(), None))
    while True:
        item = client.get(f"/api/v1/attempts/{attempt_id}/next/")
        assert item.status_code == 200, item.content
        bodies.append(("next", item.content.decode(), None))
        task = item.json()["task"]
        assert task is not None
        answered = post(
            client,
            f"/api/v1/attempts/{attempt_id}/answers/",
            {"task_id": task["id"], "result": {"label": "bird"}, "active_seconds": 3},
        )
        assert answered.status_code == 201, answered.content
        bodies.append(("answer", answered.content.decode(), {"task_id": task["id"]}))
        if answered.json()["attempt"]["state"] != "open":
            break  # the last answer closed the attempt
    bodies.append(("state", client.get(f"/api/v1/attempts/{attempt_id}/").content.decode(), None))
    listing = client.get(f"/api/v1/checks/{check.pk}/attempts/")
    bodies.append(("list", listing.content.decode(), None))
    bodies.append(("checks page", client.get("/checks/").content.decode(), None))
    return attempt_id, bodies


def test_no_response_of_a_whole_test_attempt_carries_an_answer_key(client):
    check, _, ids = make_check("test", ANSWERS)
    client.force_login(make_worker())

    attempt_id, bodies = run_attempt(client, check)

    assert CheckAttempt.objects.get(pk=attempt_id).state == AttemptState.FAILED
    leaks = {step: keys_in(text, ids) for step, text, _ in bodies if keys_in(text, ids)}
    assert leaks == {}
    assert len([b for b in bodies if b[0] == "answer"]) == len(ANSWERS)


def test_training_shows_the_expected_answer_only_in_the_answer_to_that_item(client):
    check, _, ids = make_check("training", ANSWERS)
    client.force_login(make_worker())
    by_task = dict(zip(ids, ANSWERS, strict=True))

    _, bodies = run_attempt(client, check)

    for step, text, meta in bodies:
        if step == "answer":
            feedback = json.loads(text)["feedback"]
            label = by_task[meta["task_id"]]
            assert feedback["expected"] == {"label": label}
            assert feedback["explanation"] == f"Because {label} {ids.index(meta['task_id'])}."
            others = [
                f"Because {x} {i}." for i, x in enumerate(ANSWERS) if ids[i] != meta["task_id"]
            ]
            assert not [o for o in others if o in text]
        else:
            assert keys_in(text, ids) == [], step


def test_an_abandoned_or_timed_out_attempt_reveals_no_answer_key(client):
    check, _, ids = make_check("test", ANSWERS, time_limit_seconds=60)
    worker = make_worker()
    client.force_login(worker)
    attempt_id = post(client, f"/api/v1/checks/{check.pk}/attempts/").json()["id"]

    abandoned = post(client, f"/api/v1/attempts/{attempt_id}/abandon/")
    after = [abandoned, client.get(f"/api/v1/attempts/{attempt_id}/next/")]
    late = check_attempt_begin(user=worker, check=check, now=timezone.now() - timedelta(hours=1))
    after.append(client.get(f"/api/v1/attempts/{late.pk}/next/"))

    assert abandoned.json()["state"] == "abandoned"
    assert [r.status_code for r in after[1:]] == [409, 409]
    assert after[2].json()["code"] == "attempt_timed_out"
    assert [keys_in(r.content.decode(), ids) for r in after] == [[], [], []]


def test_an_answer_after_the_deadline_is_refused_by_the_server(client):
    check, _, _ = make_check("test", ANSWERS, time_limit_seconds=60)
    worker = make_worker()
    client.force_login(worker)
    attempt = check_attempt_begin(
        user=worker, check=check, now=timezone.now() - timedelta(seconds=61)
    )

    late = post(
        client,
        f"/api/v1/attempts/{attempt.pk}/answers/",
        {"task_id": attempt.item_ids[0], "result": {"label": "cat"}},
    )

    assert late.status_code == 409
    assert late.json()["code"] == "attempt_timed_out"
    attempt.refresh_from_db()
    assert attempt.state == AttemptState.TIMED_OUT


def test_another_person_s_attempt_is_not_found(client):
    check, _, _ = make_check("test", ANSWERS)
    owner = make_worker()
    attempt = check_attempt_begin(user=owner, check=check, now=timezone.now())
    client.force_login(make_worker())

    answers = [
        client.get(f"/api/v1/attempts/{attempt.pk}/"),
        client.get(f"/api/v1/attempts/{attempt.pk}/next/"),
        post(
            client,
            f"/api/v1/attempts/{attempt.pk}/answers/",
            {"task_id": attempt.item_ids[0], "result": {"label": "cat"}},
        ),
        post(client, f"/api/v1/attempts/{attempt.pk}/abandon/"),
        client.get(f"/work/attempts/{attempt.pk}/"),
    ]

    assert [r.status_code for r in answers] == [404] * 5
    assert client.get(f"/api/v1/checks/{check.pk}/attempts/").json()["results"] == []


def test_a_manager_sees_everyone_s_attempts_and_edits_checks(client):
    check, _, _ = make_check("test", ANSWERS)
    check_attempt_begin(user=make_worker(), check=check, now=timezone.now())
    client.force_login(make_user(Role.MANAGER, mfa=True))

    listing = client.get(f"/api/v1/checks/{check.pk}/attempts/")
    patched = client.patch(
        f"/api/v1/checks/{check.pk}/",
        {"level_map": [[0.9, 1], [0.5, 2]]},
        content_type="application/json",
    )

    assert listing.status_code == 200 and len(listing.json()["results"]) == 1
    assert patched.status_code == 400
    assert "level_map" in patched.json()["extra"]["fields"]


def test_an_annotator_lists_active_checks_but_cannot_create_one(client):
    check, _, _ = make_check("training", ANSWERS)
    client.force_login(make_worker())

    listing = client.get("/api/v1/checks/")
    created = post(
        client, "/api/v1/checks/", {"skill": check.skill.slug, "kind": "training", "name": "Mine"}
    )

    assert [c["id"] for c in listing.json()["results"]] == [check.pk]
    assert created.status_code == 403


def test_the_checks_page_starts_an_attempt_and_opens_the_labeling_page_in_attempt_mode(client):
    check, _, _ = make_check("training", ANSWERS)
    client.force_login(make_worker())

    page = client.get("/checks/")
    started = client.post(f"/work/checks/{check.pk}/start/")
    labeling = client.get(started["Location"])

    assert check.name in page.content.decode()
    assert started.status_code == 302
    html = labeling.content.decode()
    assert 'data-mode="attempt"' in html and "/next/" in html and "label.js" in html


def test_a_manager_makes_a_test_project_for_a_check_through_the_project_api(client):
    check, _, _ = make_check("test", ANSWERS)
    other, _, _ = make_check("training", ANSWERS)
    client.force_login(make_user(Role.MANAGER, mfa=True))
    base = {"customer": make_customer().pk, "task_type": "single_label"}
    base["labels"] = ["cat", "dog", "bird"]

    mismatched = post(
        client,
        "/api/v1/projects/",
        {**base, "name": "T", "purpose": "test", "skill_check": other.pk},
    )
    taken = post(
        client,
        "/api/v1/projects/",
        {**base, "name": "T", "purpose": "test", "skill_check": check.pk},
    )
    work = post(client, "/api/v1/projects/", {**base, "name": "W", "skill_check": check.pk})

    assert mismatched.status_code == 400
    assert "skill_check" in mismatched.json()["extra"]["fields"]
    assert taken.status_code == 400 and "skill_check" in taken.json()["extra"]["fields"]
    assert work.status_code == 400 and "skill_check" in work.json()["extra"]["fields"]


def test_a_customer_cannot_make_a_training_project(client):
    customer = make_customer()
    client.force_login(make_customer_user(customer))

    refused = post(
        client,
        "/api/v1/projects/",
        {"name": "Mine", "task_type": "single_label", "labels": ["a", "b"], "purpose": "training"},
    )

    assert refused.status_code == 403


def test_the_checks_page_costs_the_same_queries_whatever_the_number_of_checks(
    client, django_assert_max_num_queries
):
    worker = make_worker()
    client.force_login(worker)
    check, _, _ = make_check("training", ANSWERS)
    check_attempt_begin(user=worker, check=check, now=timezone.now())
    with CaptureQueriesContext(connection) as one:
        assert client.get("/checks/").status_code == 200
    for _ in range(3):
        more, _, _ = make_check("test", ANSWERS)
        check_attempt_begin(user=make_worker(), check=more, now=timezone.now())

    with django_assert_max_num_queries(len(one.captured_queries)):
        assert client.get("/checks/").status_code == 200
