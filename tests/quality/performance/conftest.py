"""The hand-computed dataset of the performance tests (see `hand_dataset`)."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from accounts.models import Role
from labeling.models import Project, Task
from tests.factories import make_user
from tests.labeling.factories import make_customer, make_customer_user, make_project, make_worker
from tests.quality.factories import (
    make_manager,
    managed,
    task_finalise,
    work_gold,
    work_lease,
    work_review,
    work_submit,
)

H = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)  # a Monday


def at(minutes: int) -> datetime:
    return H + timedelta(minutes=minutes)


@dataclass
class Dataset:
    project: Project
    other_project: Project
    a: Any
    b: Any
    c: Any
    manager: Any
    customer_user: Any


@pytest.fixture
def hand_dataset():
    """Hour H (10:00 UTC): A hands in 4 pieces of work (3, 7, 12 and 40 active seconds; the 12
    a rework; the 40 a gold answer scored 0.5), skips once (8 s) and lets a lease run out (0 s);
    a reviewer approves, corrects and rejects A's first three (and spends 100 s on a review
    lease, which is not annotation time). B labels task 1 too (agreement 0.6; A's 0.8), which
    becomes final at 10:58. Hour H+1: A hands in one piece of 4000 s. C works in another
    customer's project. A and B are in the manager's team; C is in none."""
    customer = make_customer()
    project = make_project(customer)
    other_project = make_project()
    a, b, c = make_worker(), make_worker(), make_worker()
    reviewer = make_user(Role.REVIEWER, level=1)
    manager = make_manager()
    managed(manager, a, b)
    t1 = Task.objects.create(project=project, data={"text": "one"})
    first = work_submit(project, a, at=at(10), seconds=3, task=t1, agreement=0.8)
    second = work_submit(project, a, at=at(20), seconds=7)
    third = work_submit(project, a, at=at(30), seconds=12, revision=2)
    work_gold(project, a, 0.5, at=at(40), seconds=40)
    work_lease(project, a, at=at(45), seconds=8, state="skipped")
    work_lease(project, a, at=at(50), seconds=0, state="expired")
    work_lease(project, reviewer, at=at(50), seconds=100, state="submitted", kind="review")
    work_review(first, "approve", at=at(55), reviewer=reviewer)
    work_review(second, "correct", at=at(56), reviewer=reviewer)
    work_review(third, "reject", at=at(57), reviewer=reviewer)
    work_submit(project, b, at=at(15), seconds=20, task=t1, agreement=0.6)
    task_finalise(t1, at=at(58))
    work_submit(project, a, at=at(70), seconds=4000)
    work_submit(other_project, c, at=at(5), seconds=9)
    return Dataset(
        project=project,
        other_project=other_project,
        a=a,
        b=b,
        c=c,
        manager=manager,
        customer_user=make_customer_user(customer),
    )
