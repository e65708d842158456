"""Labeling test data, made through the services."""

from __future__ import annotations

import itertools
from typing import Any

from accounts.models import Role
from labeling.models import Customer, Project
from labeling.services.imports.batches import tasks_create
from labeling.services.projects import customer_create, customer_member_add, project_create
from tests.factories import make_user
from workforce.models import AnnotatorProfile, AnnotatorStatus, Skill
from workforce.services import annotator_status_set, skill_level_grant

_seq = itertools.count(1)


def make_customer(name: str | None = None) -> Customer:
    n = next(_seq)
    return customer_create(name=name or f"Customer {n}", actor=None)


def make_customer_user(customer: Customer, **kwargs: Any):
    user = make_user(Role.CUSTOMER, **kwargs)
    customer_member_add(customer=customer, user=user, actor=None)
    return user


def make_project(
    customer: Customer | None = None, *, status: str = "active", **settings: Any
) -> Project:
    settings.setdefault("task_type", "single_label")
    if "preset" not in settings and "labels" not in settings:
        settings["labels"] = ["cat", "dog", "bird"]
    return project_create(
        customer=customer or make_customer(),
        name=f"Project {next(_seq)}",
        actor=None,
        status=status,
        **settings,
    )


def add_tasks(project: Project, count: int = 3, **extra: Any) -> list[int]:
    """Add `count` text tasks (or image tasks for box projects); return their ids in order."""
    if project.task_type == "bbox":
        items = [
            {"image": f"https://img.example.test/{i}.jpg", "width": 640, "height": 480, **extra}
            for i in range(count)
        ]
    else:
        items = [{"text": f"Item number {i} of the batch.", **extra} for i in range(count)]
    tasks_create(project=project, tasks=items, actor=None)
    return list(project.tasks.order_by("id").values_list("id", flat=True))


def make_worker(
    *,
    skill: Skill | None = None,
    level: int = 1,
    status: str = AnnotatorStatus.ACTIVE,
    **kwargs: Any,
):
    """An annotator who may work now (active, and qualified in `skill` at `level` if given)."""
    user = make_user(Role.ANNOTATOR, **kwargs)
    profile = AnnotatorProfile.objects.get(user=user)
    annotator_status_set(profile=profile, status=status, actor=None)
    if skill is not None:
        skill_level_grant(user=user, skill=skill, level=level, actor=None)
    return user
