"""Test data of the quality tests, and what they read back.

A person's scored record for the rules is written straight into the tables the rules read: the
gold and review services of other parts are exercised by their own tests; here a record of scores
is what matters, so it is made in bulk, quickly, with the shape those services write.

The projects of the reports are made through the services. The consensus project of
`seed_consensus`: three annotators A, B, C label four tasks (batch 1), then A and B label a fifth
(batch 2); C never sees it.

    task  A     B     C      final
    T0    cat   cat   cat    cat
    T1    cat   cat   dog    cat
    T2    dog   dog   dog    dog
    T3    cat   dog   bird   (a tie: final, without a label)
    T4    dog   bird  -      (open: two of three)
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from accounts.models import Role
from core.models import AuditEvent
from labeling.models import (
    Annotation,
    AnnotationStatus,
    GoldScore,
    ImportJob,
    Lease,
    Project,
    Review,
    Task,
    WorkerProjectState,
    WorkSlot,
)
from labeling.services.claim import slot_claim_next
from labeling.services.gold import gold_answer_set
from labeling.services.review import review_claim_next, review_submit
from labeling.services.submit import lease_skip, lease_submit
from quality.models import QualityRule
from quality.selectors import can_manage_quality
from quality.services.evaluation import rules_evaluate
from quality.services.rules import rule_create
from tests.factories import make_team, make_user
from tests.labeling.factories import ALWAYS, add_tasks, make_project, make_worker
from workforce.models import AnnotatorProfile, Team
from workforce.selectors.teams import sees_every_team
from workforce.services.teams import team_member_add

_seq = itertools.count(1)
GOLD_SPAM = [0.0] * 12  # a spammer's gold record: every answer wrong
GOLD_GOOD = [1.0] * 11 + [0.0]  # a good worker's: one slip
NEVER = {"probation": 0.0, "regular": 0.0, "trusted": 0.0}
TABLE = {
    "A": ["cat", "cat", "dog", "cat", "dog"],
    "B": ["cat", "cat", "dog", "dog", "bird"],
    "C": ["cat", "dog", "dog", "bird"],
}
RULE_FORM = {
    "project": "",
    "name": "Low gold accuracy",
    "description": "",
    "metric": "gold_accuracy",
    "window_kind": "items",
    "window_size": "20",
    "min_sample": "10",
    "comparator": "lt",
    "threshold": "0.6",
    "fast_answer_seconds": "",
    "action": "suspend_everywhere",
    "gold_rate": "",
    "duration_hours": "",
    "is_active": "on",
}


def make_manager():
    """A manager with a team of their own: a manager sees the quality records only of the people
    of their teams, so a test whose manager must reach a person puts them in it (`managed`)."""
    manager = make_user(Role.MANAGER, mfa=True)
    make_team(managers=[manager])
    return manager


def managed(manager, *people):
    """Put `people` (in no team yet) in the first team `manager` manages."""
    team = Team.objects.filter(manager_assignments__user=manager).order_by("pk").first()
    for person in people:
        team_member_add(team=team, user=person, actor=None)


def gold_record(
    project: Project,
    person: Any,
    values: list[float],
    *,
    seconds: int = 20,
    now: datetime | None = None,
) -> list[int]:
    """Give `person` one scored gold answer per value (the last value is the newest); return the
    annotation ids, oldest first."""
    now = now or timezone.now()
    n = len(values)
    tasks = Task.objects.bulk_create(
        [Task(project=project, data={"text": f"Gold {next(_seq)}"}, is_gold=True) for _ in values]
    )
    at = [now - timedelta(minutes=n - i) for i in range(n)]
    annotations = Annotation.objects.bulk_create(
        [
            Annotation(
                task=task,
                project=project,
                author=person,
                result={"label": "cat"},
                status=AnnotationStatus.ACCEPTED,
                active_seconds=seconds,
                submitted_at=at[i],
            )
            for i, task in enumerate(tasks)
        ]
    )
    GoldScore.objects.bulk_create(
        [
            GoldScore(
                annotation=annotation,
                task=annotation.task,
                project=project,
                user=person,
                value=value,
                answer_version=1,
                scored_at=at[i],
            )
            for i, (annotation, value) in enumerate(zip(annotations, values, strict=True))
        ]
    )
    return [annotation.pk for annotation in annotations]


def review_record(project: Project, author: Any, verdicts: list[str]) -> list[int]:
    """Reviews of `author`'s work, the last verdict the newest; return the review ids."""
    reviewer = make_user(Role.REVIEWER, level=1)
    now = timezone.now()
    ids = []
    for i, verdict in enumerate(verdicts):
        task = Task.objects.create(project=project, data={"text": f"Reviewed {next(_seq)}"})
        work = Annotation.objects.create(
            task=task, project=project, author=author, result={"label": "cat"}
        )
        review = Review.objects.create(
            task=task,
            project=project,
            annotation=work,
            author=author,
            reviewer=reviewer,
            level=1,
            verdict=verdict,
            reason="other" if verdict == "reject" else "",
            created_at=now - timedelta(minutes=len(verdicts) - i),
        )
        ids.append(review.pk)
    return ids


def spam_rule(manager: Any, project: Project | None = None, **changes: Any) -> QualityRule:
    """A rule that catches a spammer: gold accuracy below 0.6 over the last 20, at least 10 seen."""
    values: dict[str, Any] = {
        "name": f"Low gold accuracy {next(_seq)}",
        "metric": "gold_accuracy",
        "window_kind": "items",
        "window_size": 20,
        "min_sample": 10,
        "comparator": "lt",
        "threshold": 0.6,
        "action": "suspend_everywhere",
        "project": project,
    }
    values.update(changes)
    if values["project"] is None and can_manage_quality(manager) and not sees_every_team(manager):
        # A rule for every project acts on every team's people: only administrators set one.
        manager = make_user(Role.ADMIN, mfa=True)
    return rule_create(actor=manager, **values)


def managed_worker(manager, **kwargs):
    """A worker (see `make_worker`) in `manager`'s team."""
    person = make_worker(**kwargs)
    managed(manager, person)
    return person


def hit(manager, project, person, **rule):
    """Make `person` (put in `manager`'s team) a spammer caught by a rule; return the action."""
    managed(manager, person)
    spam_rule(manager, **rule)
    gold_record(project, person, GOLD_SPAM)
    [action] = rules_evaluate(user=person, project=project)
    return action


@dataclass
class Seeded:
    project: Project
    people: dict
    tasks: list
    batches: list


def label_each(project, worker, label_of, *, seconds_of=None, start=None):
    """Let `worker` claim and label `len(label_of)` tasks; the queue picks the order, so the
    label (and, with `seconds_of`, the active time spent) is looked up by task."""
    now = start or timezone.now()
    for _ in range(len(label_of)):
        lease = slot_claim_next(project=project, user=worker, now=now).lease
        now += timedelta(seconds=(seconds_of or {}).get(lease.task_id, 0))
        lease_submit(
            lease_id=lease.pk, user=worker, result={"label": label_of[lease.task_id]}, now=now
        )
    return now


def seed_consensus(customer=None, **settings):
    settings = {
        "pipeline": "consensus",
        "overlap": 3,
        "max_overlap": 3,
        "gold_warmup": 0,
    } | settings
    project = make_project(customer, **settings)
    tasks = add_tasks(project, 4)
    people = {name: make_worker() for name in "ABC"}
    for name, worker in people.items():
        label_each(project, worker, dict(zip(tasks, TABLE[name][:4], strict=True)))
    tasks = add_tasks(project, 1)
    for name in "AB":
        label_each(project, people[name], {tasks[4]: TABLE[name][4]})
    batches = list(ImportJob.objects.filter(project=project).order_by("pk"))
    return Seeded(project, people, tasks, batches)


def seed_reviewed(customer=None):
    """A standard project with two review levels and two gold tasks (answers cat and dog).

    W answers both gold tasks "cat" (10 s each), then labels T2 cat (40 s) and T3 dog (20 s).
    R1 approves both at level 1; R2 approves T2 and corrects T3 to bird at level 2.
    V takes a task and skips it.
    """
    project = make_project(
        customer,
        review_levels=[{"rates": ALWAYS}, {"rates": ALWAYS}],
        gold_warmup=2,
        gold_rates=NEVER,
    )
    tasks = add_tasks(project, 4)
    gold_answer_set(task=project.tasks.get(pk=tasks[0]), result={"label": "cat"}, actor=None)
    gold_answer_set(task=project.tasks.get(pk=tasks[1]), result={"label": "dog"}, actor=None)
    worker, skipper = make_worker(), make_worker()
    first, second = make_user(Role.REVIEWER, level=1), make_user(Role.REVIEWER, level=2)
    label_each(
        project,
        worker,
        {tasks[0]: "cat", tasks[1]: "cat", tasks[2]: "cat", tasks[3]: "dog"},
        seconds_of={tasks[0]: 10, tasks[1]: 10, tasks[2]: 40, tasks[3]: 20},
    )
    for _ in range(2):
        lease = review_claim_next(project=project, user=first).lease
        review_submit(lease_id=lease.pk, user=first, verdict="approve")
    for _ in range(2):
        lease = review_claim_next(project=project, user=second).lease
        if lease.task_id == tasks[2]:
            review_submit(lease_id=lease.pk, user=second, verdict="approve")
        else:
            review_submit(
                lease_id=lease.pk, user=second, verdict="correct", result={"label": "bird"}
            )
    lease = slot_claim_next(project=project, user=skipper).lease
    lease_skip(lease_id=lease.pk, user=skipper)
    people = {"W": worker, "V": skipper, "R1": first, "R2": second}
    return Seeded(project, people, tasks, [])


def status_of(person):
    return AnnotatorProfile.objects.get(user=person).status


def state_of(person, project):
    return WorkerProjectState.objects.get(user=person, project=project)


def audit_actions():
    return list(AuditEvent.objects.order_by("pk").values_list("action", flat=True))


# --- Raw work at given times, for the performance rollups ---------------------------------------
# Rows are written in the shape labeling's services write them, at the times a test names, so a
# test controls every hour a count lands in.


def work_submit(
    project: Project,
    person: Any,
    *,
    at: datetime,
    seconds: int = 30,
    task: Task | None = None,
    revision: int = 1,
    status: str = AnnotationStatus.SUBMITTED,
    agreement: float | None = None,
    lease_state: str = "submitted",
) -> Annotation:
    """`person` hands in work on `task` (a new one by default) at `at` after `seconds` of active
    time, through a lease that ends then."""
    task = task or Task.objects.create(project=project, data={"text": f"Work {next(_seq)}"})
    lease = work_lease(project, person, task=task, at=at, seconds=seconds, state=lease_state)
    return Annotation.objects.create(
        task=task,
        project=project,
        author=person,
        lease=lease,
        revision=revision,
        result={"label": "cat"},
        status=status,
        active_seconds=seconds,
        submitted_at=at,
        agreement=agreement,
    )


def work_lease(
    project: Project,
    person: Any,
    *,
    at: datetime,
    seconds: int,
    state: str,
    task: Task | None = None,
    kind: str = "annotate",
) -> Lease:
    """A lease of `person` on `task` that ended at `at` in `state` with `seconds` active."""
    task = task or Task.objects.create(project=project, data={"text": f"Leased {next(_seq)}"})
    slot = WorkSlot.objects.create(
        project=project, task=task, kind=kind, state="done", order_key=next(_seq)
    )
    return Lease.objects.create(
        slot=slot,
        task=task,
        project=project,
        user=person,
        state=state,
        claimed_at=at - timedelta(seconds=seconds),
        expires_at=at,
        last_seen_at=at,
        active_seconds=seconds,
        ended_at=at,
    )


def work_review(work: Annotation, verdict: str, *, at: datetime, reviewer: Any) -> Review:
    """`reviewer`'s verdict on `work` at `at`."""
    return Review.objects.create(
        task=work.task,
        project_id=work.project_id,
        annotation=work,
        author_id=work.author_id,
        reviewer=reviewer,
        level=1,
        verdict=verdict,
        reason="other" if verdict == "reject" else "",
        created_at=at,
    )


def work_gold(
    project: Project, person: Any, value: float, *, at: datetime, seconds: int = 30
) -> GoldScore:
    """A gold answer of `person` handed in and scored `value` at `at`."""
    task = Task.objects.create(project=project, data={"text": f"Gold {next(_seq)}"}, is_gold=True)
    work = work_submit(
        project, person, at=at, task=task, seconds=seconds, status=AnnotationStatus.ACCEPTED
    )
    return GoldScore.objects.create(
        annotation=work,
        task=task,
        project=project,
        user=person,
        value=value,
        answer_version=1,
        scored_at=at,
    )


def task_finalise(
    task: Task, *, at: datetime, work: Annotation | None = None, agreement: float | None = None
) -> None:
    """The task became final at `at`, `work` with its `agreement` with the result (measured as
    the task becomes final). A task already final stays as it was, as in labeling: a final task
    is never made final again, so its completion time (the hour the rollups count it in) and the
    agreement of its work do not move."""
    if (
        not Task.objects.filter(pk=task.pk)
        .exclude(status="completed")
        .update(status="completed", completed_at=at)
    ):
        return
    if work is not None:
        Annotation.objects.filter(pk=work.pk).update(agreement=agreement)
