"""Test data of the accounts tests: a person with a bit of everything Quorum keeps about people,
made through the services; and an API client signed in as someone."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models import Q
from django.db.models.functions import Cast
from rest_framework.test import APIClient

from accounts.models import ApiToken, Role, User
from accounts.services import api_token_create, role_grant, user_create
from labeling.models import Project, Task
from labeling.services.claim import slot_claim_next
from labeling.services.gold import gold_answer_set
from labeling.services.review import review_claim_next, review_submit
from labeling.services.submit import lease_skip, lease_submit
from quality.services.actions import rule_action_appeal
from quality.services.evaluation import rules_evaluate
from tests.factories import PASSWORD, make_user
from tests.labeling.factories import ALWAYS, add_tasks, make_project
from tests.quality.factories import gold_record, make_manager, spam_rule
from workforce.models import AnnotatorProfile
from workforce.selectors import terms_current
from workforce.services import annotator_signup_complete, annotator_status_set, terms_publish

GOLD_EXPLANATION = "Gold-explanation-never-exported"


@dataclass
class Scenario:
    person: User
    reviewer: User
    other: User
    admin: User
    project: Project
    token_key: str
    ids: dict[str, Any] = field(default_factory=dict)


def make_person(email: str, full_name: str, *, ip: str = "203.0.113.5") -> User:
    """An annotator signed up with a name and the IP address of their terms acceptance."""
    user = user_create(email=email, password=PASSWORD, full_name=full_name, email_verified=True)
    terms = terms_current() or terms_publish(
        version="2026-11", title="Terms", body="Terms.", actor=None
    )
    annotator_signup_complete(
        user=user,
        country="KE",
        time_zone="Africa/Nairobi",
        languages=["en", "sw"],
        terms_version=terms.version,
        ip_address=ip,
    )
    profile = AnnotatorProfile.objects.get(user=user)
    annotator_status_set(profile=profile, status="active", actor=None, reason="Passed the test")
    return user


def build() -> Scenario:
    """Ana labels, is reviewed by Rita, has a gold record, is caught by a rule and appeals."""
    admin = make_user(Role.ADMIN, mfa=True)
    person = make_person("ana.example@example.test", "Ana Example")
    reviewer = make_person("rita.reviewer@example.test", "Rita Reviewer", ip="198.51.100.7")
    role_grant(user=reviewer, role=Role.REVIEWER, level=1, actor=admin)
    other = make_person("otto.other@example.test", "Otto Other", ip="192.0.2.9")
    role_grant(user=person, role=Role.CUSTOMER, actor=admin)  # an audited change by someone else
    _, token_key = api_token_create(user=person, name="laptop")

    project = make_project(review_levels=[{"level": 1, "rates": ALWAYS}], gold_warmup=0)
    add_tasks(project, 4)
    lease = slot_claim_next(project=project, user=person).lease
    annotation = lease_submit(lease_id=lease.pk, user=person, result={"label": "cat"})
    review_lease = review_claim_next(project=project, user=reviewer).lease
    review = review_submit(
        lease_id=review_lease.pk,
        user=reviewer,
        verdict="approve",
        comment="Looks right",
    )
    skip = slot_claim_next(project=project, user=person).lease
    lease_skip(lease_id=skip.pk, user=person, reason="Ana Example cannot read this image")
    other_lease = slot_claim_next(project=project, user=other).lease
    other_annotation = lease_submit(lease_id=other_lease.pk, user=other, result={"label": "dog"})
    # A gold answer exists (in a project of its own, so the queue above stays predictable).
    [gold_task_id] = add_tasks(make_project(), 1)
    gold_answer_set(
        task=Task.objects.get(pk=gold_task_id),
        result={"label": "bird"},
        explanation=GOLD_EXPLANATION,
        actor=admin,
    )

    manager = make_manager()
    gold_ids = gold_record(project, person, [0.0] * 12)
    spam_rule(manager)
    [action] = rules_evaluate(user=person, project=project)
    appeal = rule_action_appeal(action=action, user=person, reason="I was ill, Ana Example")

    # The Django admin site logs a change to the person's user row by its text (the e-mail).
    LogEntry.objects.create(
        user=admin,
        content_type=ContentType.objects.get_for_model(User),
        object_id=str(person.pk),
        object_repr=str(person),
        action_flag=CHANGE,
        change_message="Changed full name of ana.example@example.test.",
    )
    return Scenario(
        person=person,
        reviewer=reviewer,
        other=other,
        admin=admin,
        project=project,
        token_key=token_key,
        ids={
            "annotation": annotation.pk,
            "other_annotation": other_annotation.pk,
            "review": review.pk,
            "gold_annotations": gold_ids,
            "action": action.pk,
            "appeal": appeal.pk,
            "token": ApiToken.objects.get(user=person).pk,
        },
    )


def rows_mentioning(text: str) -> list[str]:
    """Every row of every model whose text or JSON fields contain `text` (case-insensitive)."""
    found: list[str] = []
    for model in apps.get_models():
        condition = Q(pk__in=[])
        annotations: dict[str, Any] = {}
        for f in model._meta.concrete_fields:
            if isinstance(f, models.JSONField):
                annotations[f"_{f.name}_text"] = Cast(f.name, models.TextField())
                condition |= Q(**{f"_{f.name}_text__icontains": text})
            elif isinstance(f, models.CharField | models.TextField) and not f.is_relation:
                condition |= Q(**{f"{f.name}__icontains": text})
        matches = model._base_manager.annotate(**annotations).filter(condition)
        found.extend(f"{model._meta.label} {pk}" for pk in matches.values_list("pk", flat=True))
    return found


def api_as(user: User) -> APIClient:
    """An API client signed in as `user`."""
    client = APIClient()
    client.force_authenticate(user)
    return client


def auth(key: str) -> dict[str, str]:
    """The test client's keyword arguments that send API token `key`."""
    return {"HTTP_AUTHORIZATION": f"Token {key}"}
