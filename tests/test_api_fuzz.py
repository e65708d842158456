"""Fuzz every API operation against its OpenAPI schema (schemathesis).

For each operation of the schema the app serves, schemathesis generates requests (valid and
invalid) from the schema, with a fixed seed and a bounded number of examples, and sends them
through the WSGI application that production runs (`config.wsgi`: the claim/submit hot path in
front of Django) as one of several callers: nobody, an annotator, a customer, a manager and an
administrator (the last two with MFA set up). Every answer must be:

- not a server error (no 5xx),
- of a status code the schema documents for the operation,
- of the documented content type and body shape.

Path ids are a seeded object's id in half of the examples (else whatever the schema allows), so
the fuzzer reaches real projects, tasks, leases, tokens and rules, not only "not found".

Run it with `pytest -m fuzz` (CI runs it as its own step); the default run leaves it out.
`FUZZ_MAX_EXAMPLES` raises the number of examples per operation for a deeper local run.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import schemathesis
from django.core import signals
from django.core.handlers.wsgi import WSGIHandler
from django.db import close_old_connections
from django.test import override_settings
from hypothesis import HealthCheck, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from accounts.models import Role
from accounts.services import api_token_create
from labeling.api.hotpath import QueueHotPath
from labeling.services.claim import slot_claim_next
from labeling.services.gold import gold_answer_set
from labeling.services.webhooks import webhook_endpoint_create
from quality.services.rules import rule_create
from tests.factories import make_user
from tests.labeling.factories import (
    add_tasks,
    make_customer,
    make_customer_user,
    make_project,
    make_worker,
)
from workforce.services import skill_create

pytestmark = [pytest.mark.fuzz, pytest.mark.django_db]

SEED = 20261210
MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "25"))
HOST = "localhost"  # the Host schemathesis' WSGI client sends
CALLERS = ("anonymous", "annotator", "customer", "manager", "admin")
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
# The app is the one production serves: the hot path in front of Django's WSGI handler.
APP = QueueHotPath(WSGIHandler())
with override_settings(ALLOWED_HOSTS=[HOST]):
    schema = schemathesis.openapi.from_wsgi("/api/v1/schema/?format=json", APP)


@dataclass
class World:
    """What the seeded callers can reach: their tokens and the ids of seeded objects."""

    keys: dict[str, str]
    ids: dict[str, int | str]


def _seed() -> World:
    customer = make_customer()
    customer_user = make_customer_user(customer)
    manager = make_user(Role.MANAGER, mfa=True)
    admin = make_user(Role.ADMIN, mfa=True)
    skill = skill_create(slug="fuzz-skill", name="Fuzz skill", description="", actor=admin)
    annotator = make_worker(skill=skill, level=2)
    project = make_project(customer, instructions="Label the **animal**.")
    make_project(customer, required_skill=skill, required_level=1)
    task_ids = add_tasks(project, 6)
    gold_answer_set(task=project.tasks.get(pk=task_ids[-1]), result={"label": "cat"}, actor=manager)
    lease = slot_claim_next(project=project, user=annotator).lease
    endpoint, _ = webhook_endpoint_create(
        customer=customer, url="https://hooks.example.test/quorum", events=[], actor=None
    )
    rule = rule_create(
        actor=manager,
        name="Low gold accuracy",
        metric="gold_accuracy",
        window_kind="items",
        window_size=20,
        min_sample=10,
        comparator="lt",
        threshold=0.6,
        action="notify",
        project=project,
    )
    keys = {
        "annotator": api_token_create(user=annotator, name="fuzz")[1],
        "customer": api_token_create(user=customer_user, name="fuzz")[1],
        "manager": api_token_create(user=manager, name="fuzz")[1],
        "admin": api_token_create(user=admin, name="fuzz")[1],
    }
    token = manager.api_tokens.order_by("pk").first()
    assert token is not None
    ids: dict[str, int | str] = {
        "customers": customer.pk,
        "projects": project.pk,
        "tasks": task_ids[0],
        "gold": task_ids[-1],
        "leases": lease.pk,
        "people": annotator.pk,
        "users": annotator.pk,
        "tokens": token.pk,
        "webhooks": endpoint.pk,
        "quality-rules": rule.pk,
        "skills": skill.slug,
        "roles": Role.ANNOTATOR.value,
    }
    return World(keys=keys, ids=ids)


@pytest.fixture
def world(settings: Any) -> Iterator[World]:
    settings.ALLOWED_HOSTS = [HOST]
    # As Django's test client does: the test's transaction lives on this thread's connection.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield _seed()
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


_SEGMENT = re.compile(r"/([a-z-]+)/\{(\w+)\}")


def _seeded_path_parameters(path: str, world: World) -> dict[str, int | str]:
    """The seeded object for each path parameter: `/projects/{id}` is the project, and so on."""
    values: dict[str, int | str] = {}
    for collection, name in _SEGMENT.findall(path):
        if collection in world.ids:
            values[name] = world.ids[collection]
    if path.endswith("/gold/"):
        values["task_id"] = world.ids["gold"]
    for name, collection in (("project_id", "projects"), ("lease_id", "leases")):
        values.setdefault(name, world.ids[collection])
    values.setdefault("webhook_id", world.ids["webhooks"])
    values.setdefault("user_id", world.ids["people"])
    return values


@schema.parametrize()
@schema.given(caller=st.sampled_from(CALLERS), seeded_ids=st.booleans())
@hypothesis_seed(SEED)
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_api_answers_as_its_schema_says(case: Any, caller: str, seeded_ids: bool, world: World):
    if seeded_ids and case.path_parameters:
        seeded = _seeded_path_parameters(case.path, world)
        case.path_parameters = {
            name: seeded.get(name, value) for name, value in case.path_parameters.items()
        }
    headers = {}
    if caller != "anonymous":
        headers["Authorization"] = f"Token {world.keys[caller]}"

    case.call_and_validate(headers=headers, checks=CHECKS)
