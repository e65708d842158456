"""Serving skill checks: drawing an attempt's items, serving them one by one, scoring answers.

A training module or a test keeps its items as tasks with hidden answers (GoldAnswer) in a
project whose purpose is the check's kind (Project.skill_check). The queue never serves them
(`labeling.policy.project_takes_work`): a person repeats a module on the same items, which the
queue's once-per-task participation forbids. Answers are scored by the gold scorer
(`kit.scoring.score`) at once; workforce records the attempt and its outcome
(`workforce.services.checks`), and each answer is announced (`labeling.events.check_answered`)
with the active time the server measured, so payments may pay training and test time.

The time limit is the server's: an answer or a request for the next item after the deadline is
refused and closes the attempt as timed out (unanswered items score 0); a periodic sweep
(`check_attempts_time_out`) closes the attempts nobody came back to.
"""

from __future__ import annotations

import random
import secrets
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Max, Sum

from accounts.models import User
from core.errors import Conflict, NotFound, ValidationFailed
from kit.scoring import score
from labeling.events import check_answered_send
from labeling.models import CheckAnswer, GoldAnswer, Project, ProjectStatus, Task, TaskType
from labeling.selectors import instructions_current
from labeling.services.results import task_result_clean
from workforce.models import AttemptState, CheckAttempt, CheckKind, SkillCheck
from workforce.services.checks import attempt_abandon, attempt_finish, attempt_start


def _new_rng() -> random.Random:
    return random.Random(secrets.randbits(64))  # noqa: S311 - a draw of items, not a secret


class AttemptTimedOut(Conflict):
    code = "attempt_timed_out"
    default_message = "The time for this attempt ran out; it is over and counts as an attempt."


# --- Drawing (pure) ---------------------------------------------------------------------------


def _label_of(expected: Any) -> str | None:
    return expected.get("label") if isinstance(expected, dict) else None


def _quotas(shares: dict[str, int], count: int) -> dict[str, int]:
    """Split `count` items over labels in proportion to `shares` (largest remainders)."""
    total = sum(shares.values())
    exact = {label: count * n / total for label, n in shares.items()}
    quotas = {label: min(int(value), shares[label]) for label, value in exact.items()}
    by_remainder = sorted(shares, key=lambda label: (-(exact[label] - int(exact[label])), label))
    while sum(quotas.values()) < count:
        for label in by_remainder:
            if sum(quotas.values()) < count and quotas[label] < shares[label]:
                quotas[label] += 1
    return quotas


def _pick(ids: Sequence[int], seen: set[int], count: int, rng: random.Random) -> list[int]:
    """`count` of `ids`, the unseen first (at random), then seen ones (at random)."""
    unseen = [i for i in ids if i not in seen]
    again = [i for i in ids if i in seen]
    rng.shuffle(unseen)
    rng.shuffle(again)
    return (unseen + again)[:count]


def items_draw(
    *,
    bank: dict[int, Any],
    seen: set[int],
    count: int | None,
    stratify: bool,
    task_type: str,
    rng: random.Random,
) -> list[int]:
    """Draw an attempt's items from `bank` ({task id: expected result}), shuffled.

    Items the person saw in earlier attempts (`seen`) are drawn only once the unseen run out.
    With `stratify` on a single-label bank, each expected label gets its share of the bank's
    items (largest remainders); the seen-last rule then holds within each label. Other task
    types have no single label per item, so their draw is not stratified.
    """
    ids = sorted(bank)
    count = len(ids) if count is None else min(count, len(ids))
    if not stratify or task_type != TaskType.SINGLE_LABEL:
        drawn = _pick(ids, seen, count, rng)
    else:
        groups: dict[str, list[int]] = defaultdict(list)
        for task_id in ids:
            groups[str(_label_of(bank[task_id]))].append(task_id)
        quotas = _quotas({label: len(g) for label, g in groups.items()}, count)
        drawn = [
            i for label, g in sorted(groups.items()) for i in _pick(g, seen, quotas[label], rng)
        ]
    rng.shuffle(drawn)
    return drawn


# --- Attempts ---------------------------------------------------------------------------------


def check_project(check: SkillCheck) -> Project:
    """The active project holding `check`'s items; NotFound while it has none."""
    project = (
        Project.objects.filter(skill_check_id=check.pk, purpose=check.kind)
        .filter(status=ProjectStatus.ACTIVE)
        .first()
    )
    if project is None:
        raise NotFound("This check has no items yet; ask a manager to publish them.")
    return project


def _bank(project: Project) -> dict[int, Any]:
    return dict(
        GoldAnswer.objects.filter(task__project_id=project.pk, is_retired=False).values_list(
            "task_id", "result"
        )
    )


def _seen(user: User, check: SkillCheck) -> set[int]:
    rows = CheckAttempt.objects.filter(user_id=user.pk, check_ref_id=check.pk).values_list(
        "item_ids", flat=True
    )
    return {int(i) for ids in rows for i in ids}


def check_attempt_begin(
    *, user: User, check: SkillCheck, now: datetime, rng: random.Random | None = None
) -> CheckAttempt:
    """Start the person's next attempt at `check` (or return the one they have open).

    Draws the items (see `items_draw`) and opens the attempt through workforce's
    `attempt_start`, which enforces attempts, cooldown and who may take checks (Conflict,
    PermissionDenied). An open attempt past its deadline is closed as timed out first.
    """
    check_attempts_time_out(now=now, user=user)
    project = check_project(check)
    bank = _bank(project)
    drawn = items_draw(
        bank=bank,
        seen=_seen(user, check),
        count=check.items_per_attempt,
        stratify=check.stratify_by_label,
        task_type=project.task_type,
        rng=rng or _new_rng(),
    )
    return attempt_start(user=user, check=check, drawn_item_ids=drawn, now=now)


def _expired(attempt: CheckAttempt, now: datetime) -> bool:
    return attempt.deadline is not None and now >= attempt.deadline


def attempt_score(attempt: CheckAttempt) -> float:
    """The attempt's score: the mean over its drawn items, unanswered ones scoring 0."""
    if not attempt.item_ids:
        return 0.0
    total = CheckAnswer.objects.filter(attempt_id=attempt.pk).aggregate(s=Sum("score"))["s"]
    return min(1.0, (total or 0.0) / len(attempt.item_ids))


def _refuse_closed(attempt: CheckAttempt) -> None:
    if attempt.state != AttemptState.OPEN:
        raise Conflict(
            f"This attempt is over ({attempt.get_state_display().lower()}).",
            code="attempt_not_open",
            extra={"state": attempt.state},
        )


def _time_out(attempt: CheckAttempt, now: datetime) -> CheckAttempt:
    return attempt_finish(attempt=attempt, score=attempt_score(attempt), now=now, timed_out=True)


def _refuse_late(attempt: CheckAttempt, now: datetime) -> None:
    """After the deadline: close the attempt as timed out (kept) and refuse the request."""
    if _expired(attempt, now):
        _time_out(attempt, now)
        raise AttemptTimedOut(extra={"deadline": attempt.deadline.isoformat()})  # type: ignore[union-attr]  # expired: set


@dataclass(frozen=True)
class CheckItem:
    """The next item of an attempt as the person sees it: the task's data, never its answer."""

    task: Task
    position: int
    total: int
    instructions: dict[str, Any] | None


def check_item_next(*, attempt: CheckAttempt, now: datetime) -> CheckItem | None:
    """The attempt's next unanswered item; None when every item is answered.

    Raises Conflict when the attempt is over and AttemptTimedOut after its deadline.
    """
    _refuse_closed(attempt)
    _refuse_late(attempt, now)
    answered = set(
        CheckAnswer.objects.filter(attempt_id=attempt.pk).values_list("task_id", flat=True)
    )
    position = next(
        (n for n, task_id in enumerate(attempt.item_ids) if task_id not in answered), None
    )
    if position is None:
        return None
    task = Task.objects.only("pk", "data", "project_id").get(pk=attempt.item_ids[position])
    project = Project.objects.get(pk=task.project_id)
    return CheckItem(
        task=task,
        position=position + 1,
        total=len(attempt.item_ids),
        instructions=instructions_current(project),
    )


@dataclass(frozen=True)
class AnswerOutcome:
    """What an answer returns. `feedback` (correct?, score, expected answer, explanation) only in
    training; a test says nothing about correctness."""

    attempt: CheckAttempt
    answered: int
    feedback: dict[str, Any] | None


def check_item_answer(
    *,
    attempt: CheckAttempt,
    task_id: int,
    result: Any,
    now: datetime,
) -> AnswerOutcome:
    """Store and score the person's answer to one item of their open attempt, with the time
    spent on it as the server measures it (`answer_active_seconds`), and announce it
    (`check_answered`, in the same transaction).

    Raises ValidationFailed for an item not in the attempt or a result the label schema refuses,
    Conflict for an item answered before or an attempt that is over, AttemptTimedOut after the
    deadline (the attempt is then closed as timed out). The last answer closes the attempt.
    """
    _refuse_closed(attempt)
    _refuse_late(attempt, now)
    outcome = _answer(attempt=attempt, task_id=task_id, result=result, now=now)
    if outcome is None:  # the deadline passed while the answer waited for the lock
        _refuse_late(attempt, now)
        raise AttemptTimedOut()
    return outcome


def answer_active_seconds(*, attempt: CheckAttempt, project: Project, now: datetime) -> int:
    """The active time of the answer given at `now`: from the attempt's last sign of work (its
    start, or the person's previous answer, after which the page asks for the next item) to
    `now`, at most the project's idle cap, as a lease's active time is (time nobody was seen
    working is not credited). The page's own clock is not asked."""
    previous = CheckAnswer.objects.filter(attempt_id=attempt.pk).aggregate(at=Max("answered_at"))[
        "at"
    ]
    since = max(attempt.started_at, previous) if previous is not None else attempt.started_at
    gap = max(0.0, (now - since).total_seconds())
    return int(min(gap, project.idle_cap_seconds))


@transaction.atomic
def _answer(
    *, attempt: CheckAttempt, task_id: int, result: Any, now: datetime
) -> AnswerOutcome | None:
    locked = CheckAttempt.objects.select_for_update().select_related("check_ref").get(pk=attempt.pk)
    _refuse_closed(locked)
    if _expired(locked, now):
        return None
    if task_id not in locked.item_ids:
        raise ValidationFailed(
            "task_id: this item is not part of your attempt.",
            fields={"task_id": ["Not an item of this attempt."]},
        )
    if CheckAnswer.objects.filter(attempt_id=locked.pk, task_id=task_id).exists():
        raise Conflict("You have already answered this item.", code="item_answered")
    task = Task.objects.select_related("project").get(pk=task_id)
    clean = task_result_clean(task.project, task, result)
    key = GoldAnswer.objects.get(task_id=task_id)
    outcome = score(task.project.task_type, clean, key.result)
    active_seconds = answer_active_seconds(attempt=locked, project=task.project, now=now)
    answer = CheckAnswer.objects.create(
        attempt=locked,
        task_id=task_id,
        result=clean,
        score=outcome.value,
        detail=outcome.detail,
        answered_at=now,
        active_seconds=active_seconds,
    )
    check_answered_send(
        user_id=locked.user_id,
        project_id=task.project_id,
        check_kind=locked.check_ref.kind,
        task_id=task_id,
        answer_id=answer.pk,
        active_seconds=active_seconds,
        answered_at=now,
    )
    answered = CheckAnswer.objects.filter(attempt_id=locked.pk).count()
    if answered >= len(locked.item_ids):
        locked = attempt_finish(attempt=locked, score=attempt_score(locked), now=now)
    feedback = None
    if locked.check_ref.kind == CheckKind.TRAINING:
        feedback = {
            "score": round(outcome.value, 4),
            "correct": outcome.value >= 0.999,
            "expected": key.result,
            "explanation": key.explanation,
        }
    return AnswerOutcome(attempt=locked, answered=answered, feedback=feedback)


def check_attempt_abandon(*, attempt: CheckAttempt, now: datetime) -> CheckAttempt:
    """Give up the person's open attempt; it counts, scored over the drawn items. After the
    deadline it is closed as timed out instead."""
    _refuse_closed(attempt)
    if _expired(attempt, now):
        return _time_out(attempt, now)
    return attempt_abandon(attempt=attempt, score=attempt_score(attempt), now=now)


def check_attempts_time_out(*, now: datetime, user: User | None = None) -> int:
    """Close every open attempt past its deadline as timed out (of `user` only, if given);
    return how many. Safe to run twice: a closed attempt is left alone."""
    due = CheckAttempt.objects.filter(state=AttemptState.OPEN, deadline__lte=now)
    if user is not None:
        due = due.filter(user_id=user.pk)
    closed = 0
    for attempt in due.order_by("pk"):
        if _time_out(attempt, now).state == AttemptState.TIMED_OUT:
            closed += 1
    return closed
