"""A gold task's hidden answer never reaches an annotator: every API response and page they can
reach while holding, submitting and revisiting a gold task is searched for it."""

import json

import pytest

from accounts.models import Role
from labeling.models import Task
from labeling.services.gold import gold_answer_set
from tests.factories import make_user
from tests.labeling.factories import add_tasks, make_project, make_worker

pytestmark = pytest.mark.django_db

SECRET_EXPLANATION = "The answer is hidden: zq-7781-secret"
# Offsets nobody would type by chance: the hidden spans of the answer.
HIDDEN = {
    "spans": [{"start": 5, "end": 11, "label": "PER"}, {"start": 15, "end": 21, "label": "ORG"}]
}
TEXT = "Item number 0 of the batch."


def leaks(body: str) -> list[str]:
    found = []
    if SECRET_EXPLANATION in body:
        found.append("explanation")
    compact = body.replace(" ", "")
    for span in HIDDEN["spans"]:
        if f'"start":{span["start"]},"end":{span["end"]}' in compact:
            found.append(f"span {span}")
    if "gold_answer" in body or '"gold":{' in compact:
        found.append("gold field")
    return found


@pytest.fixture
def gold_setup():
    project = make_project(
        task_type="ner",
        labels=["PER", "ORG"],
        gold_warmup=1,
        gold_feedback=False,
        review_levels=[],
    )
    gold_id, _ = add_tasks(project, 2)
    gold_answer_set(
        task=Task.objects.get(pk=gold_id),
        result=HIDDEN,
        explanation=SECRET_EXPLANATION,
        actor=None,
    )
    return project, gold_id


def test_no_response_or_page_an_annotator_reaches_carries_the_gold_answer(client, gold_setup):
    project, gold_id = gold_setup
    worker = make_worker()
    client.force_login(worker)
    bodies: dict[str, str] = {}

    def get(url):
        response = client.get(url)
        bodies[f"GET {url}"] = response.content.decode()
        return response

    def post(url, payload=None):
        response = client.post(url, payload or {}, content_type="application/json")
        bodies[f"POST {url}"] = response.content.decode()
        return response

    get("/work/")
    get(f"/work/projects/{project.pk}/")
    claim = post(f"/api/v1/projects/{project.pk}/claim/").json()
    assert claim["task"]["id"] == gold_id  # the warm-up serves the gold task first
    lease_id = claim["lease"]["id"]
    post(f"/api/v1/leases/{lease_id}/heartbeat/")
    post(f"/api/v1/leases/{lease_id}/submit/", {"result": {"spans": []}})
    post(f"/api/v1/projects/{project.pk}/claim/")
    get("/api/v1/work/projects/")
    get("/api/v1/work/rework/")
    get("/work/history/")
    for url in (
        f"/api/v1/tasks/{gold_id}/",
        f"/api/v1/tasks/{gold_id}/gold/",
        f"/api/v1/projects/{project.pk}/tasks/",
        f"/api/v1/projects/{project.pk}/",
    ):
        assert get(url).status_code in (403, 404)

    found = {where: leaks(body) for where, body in bodies.items() if leaks(body)}
    assert found == {}


def test_the_leak_check_would_see_the_answer_where_a_manager_may(client, gold_setup):
    # The search above is only worth something if it finds the answer where it is shown.
    _, gold_id = gold_setup
    client.force_login(make_user(Role.MANAGER, mfa=True))

    body = client.get(f"/api/v1/tasks/{gold_id}/").content.decode()

    assert leaks(body)
    assert json.loads(body)["gold"]["explanation"] == SECRET_EXPLANATION
