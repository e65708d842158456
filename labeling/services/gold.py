"""Gold tasks: hidden answers, mixing them into each person's stream, and scoring at once.

A gold task has no queue slots of its own. When a claim decides that a gold task is due (the first
`gold_warmup` tasks of a person in a project, then a share by standing), it creates a slot of kind
`gold` on an unseen, unretired gold task and leases it like any other; the person cannot tell the
difference. Its submission is scored against the hidden answer in the same transaction.
"""

from __future__ import annotations

import random
from datetime import datetime
from typing import Any

from django.core.cache import cache
from django.db import transaction
from django.db.models import BooleanField, Case, Exists, F, FloatField, OuterRef, Value, When
from django.db.models.fields.json import KT
from django.db.models.functions import Cast, Coalesce
from django.db.models.lookups import Exact, LessThan
from django.utils import timezone

from accounts.models import User
from core.audit import audit_record
from core.errors import Conflict
from kit.scoring import score
from labeling.models import (
    Annotation,
    GoldAnswer,
    GoldScore,
    Lease,
    Project,
    SlotKind,
    SlotState,
    Task,
    TaskParticipation,
    TaskStatus,
    WorkSlot,
)
from labeling.services.leases import lease_open
from labeling.services.results import task_result_clean
from workforce.models import Standing
from workforce.selectors import standing_expression

# Tests seed this for reproducible mixes; production draws from the OS.
sampler = random.Random()  # noqa: S311 - statistical sampling, not a secret
_CANDIDATES = 20


def _live_gold_cache_key(project_id: int) -> str:
    return f"labeling:gold-live:{project_id}"


def gold_live_count(project_id: int) -> int:
    """How many unretired gold tasks the project has (cached; changed only by the services here)."""
    key = _live_gold_cache_key(project_id)
    count: int | None = cache.get(key)
    if count is None:
        count = GoldAnswer.objects.filter(
            task__project_id=project_id, is_retired=False, task__is_gold=True
        ).count()
        cache.set(key, count, 300)
    return count


def gold_live_count_forget(project_id: int) -> None:
    transaction.on_commit(lambda: cache.delete(_live_gold_cache_key(project_id)))
    cache.delete(_live_gold_cache_key(project_id))


def gold_draw() -> float:
    """The random number a claim's gold mix is decided with (in [0, 1))."""
    return sampler.random()


def gold_due_expression(*, user_id: int, draw: float, tasks_claimed: Any, override: Any) -> Case:
    """Whether a claim should serve a gold task, as an expression on the project row: when the
    project has live gold, always during the person's warm-up (`tasks_claimed` below
    `gold_warmup`), then when `draw` falls under their gold rate (the quality rules' `override`,
    else the project's rate for their standing)."""
    live = Exists(
        GoldAnswer.objects.filter(
            task__project_id=OuterRef("pk"), task__is_gold=True, is_retired=False
        )
    )
    standing = standing_expression(user_id)
    by_standing = Case(
        *(
            When(
                Exact(standing, Value(level.value)),
                then=Cast(KT(f"gold_rates__{level.value}"), FloatField()),
            )
            for level in Standing
        ),
        default=Value(None),
        output_field=FloatField(),
    )
    rate = Coalesce(override, by_standing, Value(0.0), output_field=FloatField())
    return Case(
        When(~live, then=Value(False)),
        When(LessThan(tasks_claimed, F("gold_warmup")), then=Value(True)),
        When(LessThan(Value(draw), rate), then=Value(True)),
        default=Value(False),
        output_field=BooleanField(),
    )


def gold_slot_lease(
    *, project: Project, user: User, now: datetime, expires_at: datetime
) -> Lease | None:
    """Lease a gold task this person has not seen, on a fresh slot; None if they saw them all.

    Call inside the claim transaction, with the person's project state locked.
    """
    seen = TaskParticipation.objects.filter(task_id=OuterRef("pk"), user_id=user.pk)
    candidates = list(
        Task.objects.filter(project_id=project.pk, is_gold=True, gold_answer__is_retired=False)
        .filter(~Exists(seen))
        .order_by("pk")
        .values_list("pk", "data", "pre_annotation", "priority")[:_CANDIDATES]
    )
    if not candidates:
        return None
    task_id, data, pre_annotation, priority = sampler.choice(candidates)
    slot = WorkSlot.objects.create(
        project_id=project.pk,
        task_id=task_id,
        kind=SlotKind.GOLD,
        level=0,
        state=SlotState.LEASED,
        priority=priority,
        order_key=0,
        lease_expires_at=expires_at,
    )
    return lease_open(
        slot_id=slot.pk,
        task=Task(pk=task_id, project_id=project.pk, data=data, pre_annotation=pre_annotation),
        project=project,
        user=user,
        now=now,
        expires_at=expires_at,
    )


def gold_score_annotation(*, annotation: Annotation, project: Project, now: datetime) -> GoldScore:
    """Score a submission on a gold task against its answer; call in the submit transaction."""
    answer = GoldAnswer.objects.get(task_id=annotation.task_id)
    outcome = score(project.task_type, annotation.result, answer.result)
    return GoldScore.objects.create(
        annotation=annotation,
        task_id=annotation.task_id,
        project_id=project.pk,
        user_id=annotation.author_id,
        value=outcome.value,
        detail=outcome.detail,
        answer_version=answer.version,
        scored_at=now,
    )


def gold_feedback(*, annotation: Annotation, project: Project) -> dict[str, Any] | None:
    """What a person sees right after a gold task in training mode; None outside training mode."""
    if not project.gold_feedback:
        return None
    gold_score = GoldScore.objects.filter(annotation_id=annotation.pk).first()
    answer = GoldAnswer.objects.filter(task_id=annotation.task_id).first()
    if gold_score is None or answer is None:
        return None
    return {
        "score": round(gold_score.value, 4),
        "correct": gold_score.value >= 0.999,
        "expected": answer.result,
        "explanation": answer.explanation,
    }


@transaction.atomic
def gold_answer_set(
    *, task: Task, result: Any, explanation: str = "", actor: User | None
) -> GoldAnswer:
    """Make `task` gold with this answer, or fix the answer of a gold task and rescore its scores.

    A task that becomes gold leaves the queue: its open slots are cancelled and it no longer
    counts towards the project's progress. A task already final cannot become gold.
    """
    task = Task.objects.select_for_update().select_related("project").get(pk=task.pk)
    project = task.project
    clean = task_result_clean(project, task, result)
    answer = GoldAnswer.objects.select_for_update().filter(task_id=task.pk).first()
    now = timezone.now()
    if answer is None:
        if task.status != TaskStatus.OPEN or task.annotations_count:
            raise Conflict(
                "Only a task nobody has worked on yet can become gold.",
                extra={"task_id": task.pk, "status": task.status},
            )
        answer = GoldAnswer.objects.create(
            task=task, result=clean, explanation=explanation, updated_by=actor, updated_at=now
        )
        Task.objects.filter(pk=task.pk).update(is_gold=True)
        WorkSlot.objects.filter(task_id=task.pk, state=SlotState.OPEN).update(
            state=SlotState.CANCELLED
        )
        Project.objects.filter(pk=project.pk).update(tasks_total=F("tasks_total") - 1)
        audit_record(
            actor=actor, action="gold.created", target=task, after={"result": clean, "version": 1}
        )
        gold_live_count_forget(project.pk)
        return answer
    before = {"result": answer.result, "version": answer.version}
    answer.result, answer.explanation = clean, explanation
    answer.version += 1
    answer.updated_by, answer.updated_at = actor, now
    answer.save(update_fields=["result", "explanation", "version", "updated_by", "updated_at"])
    rescored = gold_rescore_task(task=task, project=project, answer=answer)
    audit_record(
        actor=actor,
        action="gold.fixed",
        target=task,
        before=before,
        after={"result": clean, "version": answer.version, "rescored": rescored},
    )
    return answer


def gold_rescore_task(*, task: Task, project: Project, answer: GoldAnswer) -> int:
    """Score every annotation of a gold task again against its (fixed) answer; return how many."""
    scores = list(GoldScore.objects.filter(task_id=task.pk).select_related("annotation"))
    for gold_score in scores:
        outcome = score(project.task_type, gold_score.annotation.result, answer.result)
        gold_score.value, gold_score.detail = outcome.value, outcome.detail
        gold_score.answer_version = answer.version
    GoldScore.objects.bulk_update(scores, ["value", "detail", "answer_version"])
    return len(scores)


@transaction.atomic
def gold_retire(*, task: Task, actor: User | None, retired: bool = True) -> GoldAnswer:
    """Stop (or, with retired=False, resume) serving a gold task; its past scores stay."""
    answer = GoldAnswer.objects.select_for_update().filter(task_id=task.pk).first()
    if answer is None:
        raise Conflict("This task is not gold.", extra={"task_id": task.pk})
    if answer.is_retired != retired:
        answer.is_retired = retired
        answer.updated_by, answer.updated_at = actor, timezone.now()
        answer.save(update_fields=["is_retired", "updated_by", "updated_at"])
        audit_record(
            actor=actor,
            action="gold.retired" if retired else "gold.restored",
            target=task,
            before={"is_retired": not retired},
            after={"is_retired": retired},
        )
        gold_live_count_forget(task.project_id)
    return answer
