"""A gold task's hidden answer never reaches an annotator or a reviewer.

Every response and page they can reach is searched structurally: JSON bodies are parsed (so key
order, as PostgreSQL returns it, and spacing do not matter), pages are unescaped and the JSON they
embed is parsed too, and any object literal in a body is read for the hidden offsets whatever its
key order or quoting. The search is proven against each of those encodings below.
"""

from __future__ import annotations

import contextlib
import html
import json
import re
from typing import Any

import pytest
from django.http import HttpResponse

from accounts.models import Role
from labeling.models import Task
from labeling.services.gold import gold_answer_set
from tests.factories import make_user
from tests.labeling.factories import add_tasks, make_project, make_worker

pytestmark = pytest.mark.django_db

SECRET_EXPLANATIONS = ["The answer is hidden: zq-7781-secret", "Also hidden: zq-9932-secret"]
# Offsets nobody would type by chance: the hidden spans of the two gold answers.
HIDDEN = [
    {"spans": [{"start": 5, "end": 11, "label": "PER"}, {"start": 15, "end": 21, "label": "ORG"}]},
    {"spans": [{"start": 3, "end": 17, "label": "ORG"}]},
]
HIDDEN_SPANS = [(span["start"], span["end"]) for answer in HIDDEN for span in answer["spans"]]
# Keys that name a gold answer or say a task is gold: an annotator's task looks like any other.
GOLD_KEYS = {"gold", "gold_answer", "is_gold", "explanation"}
OBJECT_LITERAL = re.compile(r"\{[^{}]*\}")
JSON_SCRIPT = re.compile(r"<script[^>]*type=\"application/json\"[^>]*>(.*?)</script>", re.DOTALL)
ATTRIBUTE = re.compile(r"=\s*\"([^\"]*)\"|=\s*'([^']*)'")


def _number(text: str, key: str) -> int | None:
    found = re.search(rf"[\"']?\b{key}\b[\"']?\s*:\s*(\d+)\b", text)
    return int(found[1]) if found else None


def _leaks_in_text(text: str) -> list[str]:
    found = [f"explanation {s!r}" for s in SECRET_EXPLANATIONS if s in text]
    # JSON or JavaScript objects, in any key order and quoting, also when JSON is nested in a string.
    for literal in OBJECT_LITERAL.findall(text.replace('\\"', '"')):
        span = (_number(literal, "start"), _number(literal, "end"))
        if span in HIDDEN_SPANS:
            found.append(f"span {span} in {literal}")
    return found


def _leaks_in_json(value: Any, where: str = "$") -> list[str]:
    found: list[str] = []
    if isinstance(value, dict):
        if (value.get("start"), value.get("end")) in HIDDEN_SPANS:
            found.append(f"span at {where}")
        found += [f"key {key!r} at {where}" for key in value if key in GOLD_KEYS]
        for key, item in value.items():
            found += _leaks_in_json(item, f"{where}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _leaks_in_json(item, f"{where}[{index}]")
    elif isinstance(value, str):
        found += [f"explanation at {where}" for s in SECRET_EXPLANATIONS if s in value]
        if value[:1] in "{[":
            with contextlib.suppress(ValueError):
                found += _leaks_in_json(json.loads(value), f"{where}(json)")
    return found


def leaks(body: str) -> list[str]:
    """Every trace of a hidden answer in a response body (JSON, HTML or anything else)."""
    found = _leaks_in_text(body) + _leaks_in_text(html.unescape(body))
    with contextlib.suppress(ValueError):
        found += _leaks_in_json(json.loads(body))
    embedded = JSON_SCRIPT.findall(body) + [a or b for a, b in ATTRIBUTE.findall(body)]
    for blob in embedded:
        try:
            found += _leaks_in_json(json.loads(html.unescape(blob)), "embedded")
        except ValueError:
            continue
    return sorted(set(found))


# --- The search finds the answer in every encoding ------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        '{"spans": [{"start": 5, "end": 11, "label": "PER"}]}',
        '{"spans":[{"end":11,"label":"PER","start":5}]}',  # PostgreSQL's jsonb key order
        '{"pre_annotation": {"spans": [{"label": "ORG", "end": 17, "start": 3}]}}',
        '{"payload": "{\\"spans\\": [{\\"end\\": 21, \\"start\\": 15}]}"}',  # JSON in a string
        "<div data-task='{&quot;end&quot;: 11, &quot;start&quot;: 5}'></div>",
        '<script id="t" type="application/json">{"spans": [{"end": 17, "start": 3}]}</script>',
        "<script>const answer = {label: 'PER', end: 11, start: 5};</script>",
        "<p>The answer is hidden: zq-7781-secret</p>",
        "<p>Also hidden: zq-9932-secret</p>",
        '{"task": {"id": 1, "is_gold": true}}',
    ],
)
def test_the_search_finds_the_answer_in_any_key_order_and_encoding(body):
    assert leaks(body)


@pytest.mark.parametrize(
    "body",
    [
        '{"spans": [{"start": 5, "end": 12, "label": "PER"}]}',
        '{"task": {"id": 5, "data": {"text": "Item 11"}}, "lease": {"id": 11}}',
        "<p>start 5, end 11</p>",
    ],
)
def test_the_search_ignores_what_only_looks_like_the_answer(body):
    assert leaks(body) == []


# --- Nothing an annotator or a reviewer reaches carries it ------------------------------------


@pytest.fixture
def gold_setup():
    """A project whose first two tasks are gold (served first, in the warm-up), then regular ones."""
    project = make_project(
        task_type="ner",
        labels=["PER", "ORG"],
        gold_warmup=2,
        gold_feedback=False,
        review_levels=[{"rates": {"probation": 1.0, "regular": 1.0, "trusted": 1.0}}],
    )
    task_ids = add_tasks(project, 5)
    for task_id, answer, explanation in zip(task_ids, HIDDEN, SECRET_EXPLANATIONS, strict=False):
        gold_answer_set(
            task=Task.objects.get(pk=task_id), result=answer, explanation=explanation, actor=None
        )
    return project, task_ids[:2]


class Seen:
    """Every response body a person got, numbered in the order of the requests."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.bodies: dict[str, str] = {}

    def _keep(self, what: str, response: HttpResponse) -> HttpResponse:
        streamed = getattr(response, "streaming_content", None)
        self.bodies[f"{len(self.bodies) + 1}. {what}"] = (
            b"".join(streamed) if streamed is not None else response.content
        ).decode()
        return response

    def get(self, url: str) -> HttpResponse:
        return self._keep(f"GET {url}", self.client.get(url))

    def post(self, url: str, payload: Any = None) -> HttpResponse:
        response = self.client.post(url, payload or {}, content_type="application/json")
        return self._keep(f"POST {url}", response)

    def leaks(self) -> dict[str, list[str]]:
        return {where: found for where, body in self.bodies.items() if (found := leaks(body))}


def test_no_response_or_page_an_annotator_reaches_carries_a_gold_answer(client, gold_setup):
    project, gold_ids = gold_setup
    client.force_login(make_worker())
    seen = Seen(client)
    claim_url = f"/api/v1/projects/{project.pk}/claim/"

    seen.get("/work/")
    seen.get(f"/work/projects/{project.pk}/")
    claim = seen.post(claim_url).json()
    reserved = seen.post(f"{claim_url}?prefetch=1").json()
    resumed = seen.post(claim_url).json()
    seen.get(f"/work/projects/{project.pk}/")  # the page with a gold task held
    lease_id = claim["lease"]["id"]
    seen.post(f"/api/v1/leases/{lease_id}/heartbeat/")
    seen.post(f"/api/v1/leases/{lease_id}/submit/", {"result": {"spans": []}})
    seen.post(f"/api/v1/leases/{reserved['lease']['id']}/submit/", {"result": {"spans": []}})
    seen.post(claim_url)
    seen.get("/api/v1/work/projects/")
    seen.get("/api/v1/work/rework/")
    seen.get("/work/history/")
    refused = [
        seen.get(url).status_code
        for url in (
            *(f"/api/v1/tasks/{task_id}/" for task_id in gold_ids),
            *(f"/api/v1/tasks/{task_id}/gold/" for task_id in gold_ids),
            *(f"/tasks/{task_id}/" for task_id in gold_ids),
            f"/api/v1/projects/{project.pk}/tasks/",
            f"/api/v1/projects/{project.pk}/",
            f"/api/v1/projects/{project.pk}/export/?format=jsonl&final_only=false",
            f"/projects/{project.pk}/tasks/",
        )
    ]

    assert sorted([claim["task"]["id"], reserved["task"]["id"]]) == gold_ids  # the warm-up
    assert resumed["task"]["id"] == claim["task"]["id"]
    assert all(status in (302, 403, 404) for status in refused), refused
    assert seen.leaks() == {}


def test_no_response_or_page_a_reviewer_reaches_carries_a_gold_answer(client, gold_setup):
    project, gold_ids = gold_setup
    author = make_worker()
    client.force_login(author)
    for _ in range(3):  # two gold tasks, then a regular one that goes to review
        lease = client.post(f"/api/v1/projects/{project.pk}/claim/").json()["lease"]
        client.post(
            f"/api/v1/leases/{lease['id']}/submit/",
            {"result": {"spans": []}},
            content_type="application/json",
        )
    client.force_login(make_user(Role.REVIEWER, level=1))
    seen = Seen(client)

    seen.get("/api/v1/work/review-projects/")
    seen.get(f"/work/projects/{project.pk}/review/")
    review = seen.post(f"/api/v1/projects/{project.pk}/review/claim/")
    seen.get(f"/work/projects/{project.pk}/review/")
    seen.get(f"/api/v1/tasks/{gold_ids[0]}/")
    seen.get(f"/api/v1/tasks/{gold_ids[0]}/gold/")

    assert review.status_code == 200, review.content
    assert review.json()["task"]["id"] not in gold_ids
    assert seen.leaks() == {}


def test_the_search_sees_the_answer_where_a_manager_may(client, gold_setup):
    # The searches above are only worth something if they find the answer where it is shown.
    _, gold_ids = gold_setup
    client.force_login(make_user(Role.MANAGER, mfa=True))
    seen = Seen(client)

    body = seen.get(f"/api/v1/tasks/{gold_ids[0]}/").json()
    seen.get(f"/tasks/{gold_ids[0]}/")

    assert body["gold"]["explanation"] == SECRET_EXPLANATIONS[0]
    assert set(seen.leaks()) == {
        f"1. GET /api/v1/tasks/{gold_ids[0]}/",
        f"2. GET /tasks/{gold_ids[0]}/",
    }
