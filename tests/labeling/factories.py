"""Labeling test data, made through the services; and, for the readers of finished work (exports),
project rows written straight with the ORM, whose tasks those tests write directly too."""

from __future__ import annotations

import itertools
from typing import Any

from accounts.models import Role
from labeling.models import Customer, Project, Task
from labeling.services.claim import slot_claim_next
from labeling.services.gold import gold_answer_set
from labeling.services.imports.batches import tasks_create
from labeling.services.projects import customer_create, customer_member_add, project_create
from labeling.services.review import review_claim_next, review_submit
from labeling.services.submit import lease_submit
from tests.factories import make_user
from workforce.models import AnnotatorProfile, AnnotatorStatus, Skill, SkillCheck
from workforce.services import annotator_status_set, skill_create, skill_level_grant
from workforce.services.checks import skill_check_create

_seq = itertools.count(1)
ALWAYS = {"probation": 1.0, "regular": 1.0, "trusted": 1.0}  # review rates: everyone's work
ROW_LABELS = {
    "single_label": ["positive", "negative", "neutral"],
    "multi_label": ["sports", "politics", "science"],
    "ner": ["PER", "LOC", "ORG", "DATE"],
    "bbox": ["car", "person"],
}


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


def two_level_project(**settings: Any) -> Project:
    """A project whose every annotation is reviewed at levels 1 and 2 (unless `settings` say otherwise)."""
    settings.setdefault("review_levels", [{"level": 1, "rates": ALWAYS}, {"rates": ALWAYS}])
    settings.setdefault("gold_warmup", 0)
    return make_project(**settings)


def review_project(**settings: Any) -> Project:
    """A project whose every annotation is reviewed at level 1."""
    return make_project(review_levels=[{"level": 1, "rates": ALWAYS}], gold_warmup=0, **settings)


def annotate(project: Project, worker: Any, label: str = "cat"):
    """`worker` claims their next task of `project` and answers `label`; return the annotation."""
    lease = slot_claim_next(project=project, user=worker).lease
    return lease_submit(lease_id=lease.pk, user=worker, result={"label": label})


def review(project: Project, reviewer: Any, verdict: str, **kw: Any):
    """`reviewer` claims their next review of `project` and gives `verdict`."""
    lease = review_claim_next(project=project, user=reviewer).lease
    return review_submit(lease_id=lease.pk, user=reviewer, verdict=verdict, **kw)


def project_form(**changes: str) -> dict[str, str]:
    """The fields of the portal's project form, valid as they are (labels cat and dog), with `changes`."""
    values = {
        "name": "Reviews",
        "description": "",
        "preset": "",
        "task_type": "single_label",
        "labels": "cat\ndog",
        "pipeline": "standard",
        "overlap": "1",
        "max_overlap": "",
        "lease_minutes": "10",
        "max_leases_per_person": "1",
        "priority": "0",
        "queue_order": "random",
        "required_skill": "",
        "required_level": "1",
        "status": "draft",
        "instructions": "",
    }
    values.update(changes)
    return values


def make_project_row(
    customer: Customer | None = None,
    task_type: str = "single_label",
    pipeline: str = "standard",
    *,
    labels: list[str] | None = None,
) -> Project:
    """A project row written with the ORM, without the services (no slots, no instructions), for
    tests that write finished tasks and annotations directly; labels are `ROW_LABELS`' by default."""
    return Project.objects.create(
        customer=customer or make_customer(),
        name=f"{task_type} {pipeline} {next(_seq)}",
        task_type=task_type,
        pipeline=pipeline,
        labels=[{"name": name} for name in labels or ROW_LABELS[task_type]],
    )


def make_check(
    kind: str = "test",
    answers: tuple[str, ...] = ("cat", "dog", "bird", "cat"),
    *,
    skill: Skill | None = None,
    **rules: Any,
) -> tuple[SkillCheck, Project, list[int]]:
    """A skill check of `kind` with an active project of that purpose whose items are tasks with
    hidden answers `answers` (single label; each explained as "Because <label> <n>.");
    return the check, its project and the item ids in order."""
    n = next(_seq)
    skill = skill or skill_create(slug=f"skill-{n}", name=f"Skill {n}", actor=None)
    if kind == "test":
        rules.setdefault("level_map", [[0.8, 1], [0.92, 2]])
    check = skill_check_create(actor=None, skill=skill, kind=kind, name=f"Check {n}", **rules)
    project = make_project(purpose=kind, skill_check=check)
    ids = add_tasks(project, len(answers))
    for i, (task_id, label) in enumerate(zip(ids, answers, strict=True)):
        gold_answer_set(
            task=Task.objects.get(pk=task_id),
            result={"label": label},
            explanation=f"Because {label} {i}.",
            actor=None,
        )
    return check, project, ids
