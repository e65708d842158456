"""Property test: a claim hands out only what the rules allow, and refuses for the reason they give.

Hypothesis draws projects (status, required skill and level, team limit, further skill
requirements, lease limit, gold and its mix),
people (role, annotator status, skill level, suspensions and retraining in the project, leases
already held, tasks already done) and the task states; the expected outcome is worked out here,
from the rules as the product states them, and compared with what the claim does. On PostgreSQL
both writers are checked: the one-statement writer and the transactional writer.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection, transaction
from django.utils import timezone
from hypothesis import HealthCheck, given
from hypothesis import settings as examples
from hypothesis import strategies as st

from accounts.models import Role
from core.errors import NotFound
from labeling.errors import NotQualified, NoWorkAvailable
from labeling.models import (
    Lease,
    LeaseState,
    SlotState,
    Task,
    TaskParticipation,
    WorkerProjectState,
    WorkSlot,
)
from labeling.services.claim import slot_claim_next
from labeling.services.gold import gold_answer_set
from labeling.services.projects import RequirementSpec, project_access_set
from tests.factories import make_team, make_user
from tests.labeling.factories import add_tasks, make_customer_user, make_project
from workforce.models import (
    WORKING_STATUSES,
    AnnotatorProfile,
    AnnotatorStatus,
    Skill,
    SkillComparator,
    SkillLevel,
    TeamMembership,
)

NOW = timezone.now().replace(microsecond=0)


@dataclass(frozen=True)
class Scenario:
    project_active: bool
    required_level: int | None  # None: no skill required
    max_leases: int
    tasks: int
    done: int  # tasks the person already did (participations)
    gold: bool  # the project has a live gold task
    gold_warmup: int
    regular_rate: float
    annotator: bool  # else a customer's user
    status: str
    skill_level: int | None
    suspension: str  # "none", "open_ended", "until_past", "until_future"
    retraining: bool
    claimed: int  # the person's tasks_claimed in the project
    held: int  # live leases the person holds there already
    prefetch: bool
    draw: float
    team: str = "open"  # "open" (no limit), "member" (limited to their team), "other"
    requirement: str = (
        "none"  # "none", "at_least_met", "at_least_unmet", "lacks_met", "lacks_unmet"
    )


# Each rule a claim checks, and how a scenario breaks it.
_BREAKS: dict[str, dict[str, Any]] = {
    "annotator": {"annotator": False},
    "active": {"project_active": False},
    "status": {"status": AnnotatorStatus.SUSPENDED.value},
    "skill": {"required_level": 3, "skill_level": 2},
    "team": {"team": "other"},
    "requirement_level": {"requirement": "at_least_unmet"},
    "requirement_lacks": {"requirement": "lacks_unmet"},
    "suspension": {"suspension": "until_future"},
    "retraining": {"retraining": True},
    "limit": {"held": 1, "max_leases": 1, "prefetch": False, "tasks": 3, "done": 0},
    "gold": {"gold": True, "gold_warmup": 2, "claimed": 0},
}

_random = st.builds(
    Scenario,
    project_active=st.booleans(),
    required_level=st.one_of(st.none(), st.integers(1, 3)),
    max_leases=st.integers(1, 2),
    tasks=st.integers(0, 4),
    done=st.integers(0, 2),
    gold=st.booleans(),
    gold_warmup=st.integers(0, 2),
    regular_rate=st.sampled_from([0.0, 0.5, 1.0]),
    annotator=st.booleans(),
    status=st.sampled_from([s.value for s in AnnotatorStatus]),
    skill_level=st.one_of(st.none(), st.integers(1, 3)),
    suspension=st.sampled_from(["none", "open_ended", "until_past", "until_future"]),
    retraining=st.booleans(),
    claimed=st.integers(0, 3),
    held=st.integers(0, 2),
    prefetch=st.booleans(),
    draw=st.floats(0, 0.999),
    team=st.sampled_from(["open", "member", "other"]),
    requirement=st.sampled_from(
        ["none", "at_least_met", "at_least_unmet", "lacks_met", "lacks_unmet"]
    ),
)

# A person who may work, in a project with work: every rule holds (the rest varies).
_allowed = st.builds(
    Scenario,
    project_active=st.just(True),
    required_level=st.one_of(st.none(), st.integers(1, 2)),
    max_leases=st.integers(1, 2),
    tasks=st.integers(1, 4),
    done=st.integers(0, 2),
    gold=st.booleans(),
    gold_warmup=st.just(0),
    regular_rate=st.sampled_from([0.0, 0.5, 1.0]),
    annotator=st.just(True),
    status=st.sampled_from([AnnotatorStatus.ACTIVE.value, AnnotatorStatus.PROBATION.value]),
    skill_level=st.just(3),
    suspension=st.sampled_from(["none", "until_past"]),
    retraining=st.just(False),
    claimed=st.integers(0, 3),
    held=st.just(0),
    prefetch=st.booleans(),
    draw=st.floats(0, 0.999),
    team=st.sampled_from(["open", "member"]),
    requirement=st.sampled_from(["none", "at_least_met", "lacks_met"]),
)


@st.composite
def _one_broken(draw: st.DrawFn) -> Scenario:
    """An allowed scenario with exactly one rule broken: each rule's own refusal is seen."""
    scenario = draw(_allowed)
    rule = draw(st.sampled_from(sorted(_BREAKS)))
    return replace(scenario, **_BREAKS[rule])


scenarios = st.one_of(_allowed, _one_broken(), _random)


def _expected(s: Scenario) -> str:
    """The outcome the rules give: "not_found", "not_active", "not_qualified", "resumed",
    "gold", "task" or "no_work"."""
    if not s.annotator:
        return "not_found"
    if not s.project_active:
        return "not_active"
    if s.status not in WORKING_STATUSES:
        return "not_qualified"
    if s.required_level is not None and (s.skill_level is None or s.skill_level < s.required_level):
        return "not_qualified"
    if s.team == "other" or s.requirement in {"at_least_unmet", "lacks_unmet"}:
        return "not_qualified"
    if s.suspension in {"open_ended", "until_future"} or s.retraining:
        return "not_qualified"
    held = min(s.held, s.tasks - min(s.done, s.tasks))
    if held and held >= s.max_leases + (1 if s.prefetch else 0):
        return "resumed"
    rate = s.regular_rate if s.status == AnnotatorStatus.ACTIVE else 0.2  # probation's default
    if s.gold and (s.claimed < s.gold_warmup or s.draw < rate):
        return "gold"
    open_left = s.tasks - min(s.done, s.tasks) - held
    return "task" if open_left > 0 else "no_work"


def _build(s: Scenario):
    skill = Skill.objects.create(name=f"Skill {Skill.objects.count() + 1}")
    project = make_project(
        status="active" if s.project_active else "paused",
        required_skill=skill if s.required_level is not None else None,
        required_level=s.required_level or 1,
        max_leases_per_person=s.max_leases,
        gold_warmup=s.gold_warmup,
        gold_rates={"probation": 0.2, "regular": s.regular_rate, "trusted": 0.0},
        queue_order="oldest",
    )
    count = s.tasks + (1 if s.gold else 0)
    task_ids = add_tasks(project, count) if count else []
    if s.gold:
        gold_answer_set(
            task=Task.objects.get(pk=task_ids.pop()), result={"label": "cat"}, actor=None
        )
    if s.annotator:
        user = make_user(Role.ANNOTATOR)
        AnnotatorProfile.objects.filter(user=user).update(status=s.status)
    else:
        user = make_customer_user(project.customer)
    if s.skill_level is not None:
        SkillLevel.objects.create(user=user, skill=skill, level=s.skill_level)
    if s.team != "open":
        theirs, others = make_team(), make_team()
        project_access_set(project=project, teams=[theirs], actor=None)
        TeamMembership.objects.create(user=user, team=theirs if s.team == "member" else others)
    if s.requirement != "none":
        required = Skill.objects.create(slug="required", name="Required skill")
        at_least = s.requirement.startswith("at_least")
        project_access_set(
            project=project,
            requirements=[
                RequirementSpec(
                    required,
                    SkillComparator.AT_LEAST if at_least else SkillComparator.LACKS,
                    2 if at_least else None,
                )
            ],
            actor=None,
        )
        level_held = {"at_least_met": 2, "at_least_unmet": 1, "lacks_unmet": 1}.get(s.requirement)
        if level_held is not None:
            SkillLevel.objects.create(user=user, skill=required, level=level_held)
    until = {
        "none": None,
        "open_ended": None,
        "until_past": NOW - timedelta(hours=1),
        "until_future": NOW + timedelta(hours=1),
    }[s.suspension]
    WorkerProjectState.objects.create(
        user=user,
        project=project,
        is_suspended=s.suspension != "none",
        suspended_until=until,
        needs_retraining=s.retraining,
        tasks_claimed=s.claimed,
    )
    done = task_ids[: min(s.done, len(task_ids))]
    for task_id in done:
        TaskParticipation.objects.create(task_id=task_id, user=user)
        WorkSlot.objects.filter(task_id=task_id).update(state=SlotState.DONE)
    held = []
    for task_id in task_ids[len(done) : len(done) + s.held]:
        slot = WorkSlot.objects.get(task_id=task_id)
        WorkSlot.objects.filter(pk=slot.pk).update(
            state=SlotState.LEASED, lease_expires_at=NOW + timedelta(minutes=5)
        )
        TaskParticipation.objects.create(task_id=task_id, user=user)
        held.append(
            Lease.objects.create(
                slot=slot,
                task_id=task_id,
                project_id=project.pk,
                user=user,
                claimed_at=NOW - timedelta(minutes=1),
                expires_at=NOW + timedelta(minutes=5),
            ).pk
        )
    return project, user, held, done


def _outcome(project, user, s: Scenario, held: list[int], done: list[int]) -> str:
    try:
        claim = slot_claim_next(
            project=project, user=user, now=NOW, prefetch=s.prefetch, draw=s.draw
        )
    except NoWorkAvailable as exc:  # a kind of NotFound: first
        reason = exc.extra["reason"]
        return "not_active" if reason == "project_not_active" else "no_work"
    except NotFound:
        return "not_found"
    except NotQualified:
        return "not_qualified"
    if claim.resumed:
        assert claim.lease.pk in held
        return "resumed"
    lease = claim.lease
    task = Task.objects.get(pk=lease.task_id)
    assert task.pk not in done, "a task the person already did was handed out again"
    assert Lease.objects.filter(task=task, state=LeaseState.ACTIVE).count() == 1
    return "gold" if task.is_gold else "task"


@pytest.mark.django_db
@pytest.mark.parametrize("writer", ["one_statement", "transactional"])
@examples(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(s=scenarios)
def test_a_claim_hands_out_only_what_the_rules_allow(s, writer, settings):
    if writer == "one_statement" and connection.vendor != "postgresql":
        pytest.skip("the one-statement writer exists on PostgreSQL only")
    settings.QUORUM_QUEUE_STATEMENTS = writer == "one_statement"
    with transaction.atomic():
        project, user, held, done = _build(s)
        got = _outcome(project, user, s, held, done)
        transaction.set_rollback(True)
    assert got == _expected(s), s
