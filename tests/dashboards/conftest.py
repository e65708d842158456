"""Fixtures of the dashboards' tests: a small world of two managers, their teams and projects,
two customers, and rollup rows written by hand (the figures below are computed by hand from them).
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from django.utils import timezone

from accounts.models import Role
from kit.money import Micros
from labeling.models import Project
from labeling.services.claim import slot_claim_next
from labeling.services.projects import project_access_set
from payments.models import AccountKind
from payments.services.ledger import Leg, ledger_account_get_or_create, ledger_post
from quality.performance.definitions import TIME_BUCKETS
from quality.performance.models import PersonHour, ProjectHour
from tests.factories import make_user
from tests.labeling.factories import (
    add_tasks,
    make_customer,
    make_customer_user,
    make_project,
    make_worker,
)
from tests.quality.factories import make_manager, managed
from workforce.models import Team

# "Now" in these tests: 14:20 UTC, so the last whole hour is 13:00-14:00 and the pace window
# is 14:00 the day before up to 14:00.
NOW = datetime(2026, 11, 20, 14, 20, tzinfo=UTC)
LAST_HOUR = datetime(2026, 11, 20, 13, 0, tzinfo=UTC)


def person_hour(user: Any, project: Project, hour: datetime, **counters: int) -> PersonHour:
    return PersonHour.objects.create(
        user=user, project=project, hour=hour, time_histogram=[0] * TIME_BUCKETS, **counters
    )


def project_hour(project: Project, hour: datetime, final_tasks: int) -> ProjectHour:
    return ProjectHour.objects.create(project=project, hour=hour, final_tasks=final_tasks)


def progress(project: Project, *, total: int, final: int, deadline: datetime | None = None) -> None:
    """Give `project` these progress counters (the queue keeps them; here they are set)."""
    Project.objects.filter(pk=project.pk).update(
        tasks_total=total, tasks_completed_folded=final, deadline=deadline
    )
    project.refresh_from_db()


def labour(project: Project, amount_micros: int, *, key: str, currency: str = "USD") -> None:
    """Post an earning of `amount_micros` on `project`'s labour expense, as payments does."""
    person = make_user()  # any person's account will do (no terms to accept on a frozen clock)
    pending = ledger_account_get_or_create(kind=AccountKind.PENDING, currency=currency, user=person)
    expense = ledger_account_get_or_create(
        kind=AccountKind.LABOUR_EXPENSE_PROJECT, currency=currency, project=project
    )
    amount = Micros(amount_micros, currency)
    ledger_post(
        source_key=key,
        legs=[Leg(account=pending, amount=amount), Leg(account=expense, amount=-amount)],
        actor=None,
    )


@pytest.fixture
def frozen(monkeypatch: pytest.MonkeyPatch) -> datetime:
    """Django's clock stands at NOW (the dashboards read `timezone.now()`)."""
    monkeypatch.setattr(timezone, "now", lambda: NOW)
    return NOW


@dataclass
class World:
    manager: Any
    other_manager: Any
    admin: Any
    a: Any  # in the manager's team
    b: Any  # in the manager's team
    c: Any  # in the other manager's team
    customer_user: Any
    other_customer_user: Any
    mine: Project  # the customer's, limited to the manager's team
    theirs: Project  # the other customer's, limited to the other manager's team


@pytest.fixture
def world() -> World:
    manager, other_manager = make_manager(), make_manager()
    a, b, c = make_worker(), make_worker(), make_worker()
    managed(manager, a, b)
    managed(other_manager, c)
    customer, other_customer = make_customer(), make_customer()
    mine, theirs = make_project(customer), make_project(other_customer)
    project_access_set(project=mine, actor=None, teams=[team_of(manager)])
    project_access_set(project=theirs, actor=None, teams=[team_of(other_manager)])
    return World(
        manager=manager,
        other_manager=other_manager,
        admin=make_user(Role.ADMIN, mfa=True),
        a=a,
        b=b,
        c=c,
        customer_user=make_customer_user(customer),
        other_customer_user=make_customer_user(other_customer),
        mine=mine,
        theirs=theirs,
    )


def team_of(manager: Any) -> Team:
    """The first team `manager` manages (make_manager gives each one)."""
    return Team.objects.filter(manager_assignments__user=manager).order_by("pk")[0]


def more_of(manager: Any, count: int) -> list[Project]:
    """`count` more projects of a new customer in `manager`'s team, each with a worker of the
    team who worked the last hour in it, is below the quality floor (1 of 20 gold) and holds a
    task in it at NOW: every list on the overview grows with `count`."""
    customer = make_customer()
    projects = []
    for _ in range(count):
        project = make_project(customer)
        project_access_set(project=project, actor=None, teams=[team_of(manager)])
        person = make_worker()
        managed(manager, person)
        person_hour(
            person,
            project,
            LAST_HOUR,
            submissions=3,
            gold_scored=20,
            gold_score_micros=1_000_000,
        )
        project_hour(project, LAST_HOUR, 2)
        add_tasks(project, 1)
        slot_claim_next(project=project, user=person, now=NOW)
        projects.append(project)
    return projects
