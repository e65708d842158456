"""What happens to work, announced for the apps to the right of labeling (quality, payments).

labeling never imports those apps: it sends these signals inside the transaction that made the
change, and the receivers (connected in their AppConfig.ready) run in that same transaction, so
what they write commits or rolls back with the work. A receiver that starts something slow puts
it on `transaction.on_commit`. Receivers get keyword arguments only (ids and facts, no models), so
a handler never depends on what labeling happened to have loaded.

- `work_submitted`: a person handed in work: an annotation (kind "annotate", "rework" or "gold")
  or a review verdict (kind "review"). Arguments: user_id, project_id, task_id, annotation_id
  (None for a review that corrected nothing), review_id and review_level (reviews only), kind,
  active_seconds (server-measured), submitted_at.
- `work_final`: a task became final (its result is what the customer gets).
  Arguments: project_id, task_id, completed_at.
- `work_scored`: a person's work was judged: a gold answer scored, a review verdict given on it,
  or its agreement with a final consensus result measured.
  Arguments: user_id (the author), project_id, task_id, annotation_id, source ("gold", "review"
  or "agreement"), value (the score in 0..1, or None for a review verdict), verdict (the review
  verdict, or None), review_id (the review that gave the verdict, or None).
- `work_reversed`: work stopped counting after it was submitted (a suspended person's unreviewed
  consensus work was discounted). Arguments: user_id, project_id (None: every project),
  annotation_ids, task_ids, reason ("discounted"), rule_action_id (the quality rule action whose
  evidence discarded the work, or None: labeling only carries the id, payments links it to the
  pay it holds).
- `review_overruled`: a higher review level overruled a lower level's verdict (corrected or
  rejected work that the lower level had passed): the lower reviewer's verdict was wrong.
  Arguments: reviewer_id, project_id, task_id, review_id (the overruled review), level (its
  level), by_review_id (the higher level's review), verdict (the higher level's verdict).
- `work_updated`: a task's label or confidence changed after it was aggregated, because the
  estimates refreshed (re-aggregation). The work behind it stays paid: nothing is reversed.
  Arguments: project_id, task_id, reaggregation_id, task_status, before_label, after_label,
  before_confidence, after_confidence, estimates_at, changed_at.
- `check_answered`: a person answered one item of a training module or qualification test (a
  skill check's attempt; labeling.services.checks). Not production work: it is not a
  `work_submitted`, so nothing that counts or pays production work sees it. The answer is scored
  and final at once. Arguments: user_id, project_id (the check's project), check_kind
  ("training" or "test"), task_id (the item), answer_id (the answer: one per person, attempt and
  item), active_seconds (server-measured: from the previous sign of the attempt, its start or
  the person's previous answer, to this answer, at most the project's idle cap), answered_at.
- `project_created`: a project was created. Arguments: project_id, actor_id (None: by the system).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from django.dispatch import Signal

SCORED_BY_GOLD = "gold"
SCORED_BY_REVIEW = "review"
SCORED_BY_AGREEMENT = "agreement"
REVERSED_DISCOUNTED = "discounted"

work_submitted = Signal()
work_final = Signal()
work_scored = Signal()
work_reversed = Signal()
work_updated = Signal()
review_overruled = Signal()
project_created = Signal()
check_answered = Signal()


def work_submitted_send(
    *,
    user_id: int,
    project_id: int,
    task_id: int,
    annotation_id: int | None,
    kind: str,
    active_seconds: int,
    submitted_at: datetime,
    review_id: int | None = None,
    review_level: int | None = None,
    completes_task: bool = False,
) -> None:
    """Announce handed-in work (call inside the transaction that stored it). `completes_task`:
    this submission made the task final, and its `work_final` follows in the same transaction
    with the same moment (False when the caller does not know it yet)."""
    work_submitted.send(
        sender="labeling",
        user_id=user_id,
        project_id=project_id,
        task_id=task_id,
        annotation_id=annotation_id,
        review_id=review_id,
        review_level=review_level,
        kind=kind,
        active_seconds=active_seconds,
        submitted_at=submitted_at,
        completes_task=completes_task,
    )


def work_final_send(*, project_id: int, task_id: int, completed_at: datetime | None) -> None:
    """Announce that a task became final (call inside the transaction that made it final)."""
    work_final.send(
        sender="labeling", project_id=project_id, task_id=task_id, completed_at=completed_at
    )


def work_scored_send(
    *,
    user_id: int,
    project_id: int,
    task_id: int,
    annotation_id: int,
    source: str,
    value: float | None = None,
    verdict: str | None = None,
    review_id: int | None = None,
) -> None:
    """Announce that a person's work was judged (call inside the transaction that judged it)."""
    work_scored.send(
        sender="labeling",
        user_id=user_id,
        project_id=project_id,
        task_id=task_id,
        annotation_id=annotation_id,
        source=source,
        value=value,
        verdict=verdict,
        review_id=review_id,
    )


def work_reversed_send(
    *,
    user_id: int,
    project_id: int | None,
    annotation_ids: Sequence[int],
    task_ids: Sequence[int],
    reason: str,
    rule_action_id: int | None = None,
) -> None:
    """Announce that submitted work stopped counting (call inside the transaction that did it)."""
    work_reversed.send(
        sender="labeling",
        user_id=user_id,
        project_id=project_id,
        annotation_ids=list(annotation_ids),
        task_ids=list(task_ids),
        reason=reason,
        rule_action_id=rule_action_id,
    )


def review_overruled_send(
    *,
    reviewer_id: int,
    project_id: int,
    task_id: int,
    review_id: int,
    level: int,
    by_review_id: int,
    verdict: str,
) -> None:
    """Announce that a higher level overruled a lower review (call inside the transaction that
    recorded the higher verdict)."""
    review_overruled.send(
        sender="labeling",
        reviewer_id=reviewer_id,
        project_id=project_id,
        task_id=task_id,
        review_id=review_id,
        level=level,
        by_review_id=by_review_id,
        verdict=verdict,
    )


def work_updated_send(
    *,
    project_id: int,
    task_id: int,
    reaggregation_id: int,
    task_status: str,
    before_label: str | None,
    after_label: str | None,
    before_confidence: float | None,
    after_confidence: float | None,
    estimates_at: datetime,
    changed_at: datetime,
) -> None:
    """Announce that re-aggregation changed a task's label or confidence (call inside the
    transaction that changed it)."""
    work_updated.send(
        sender="labeling",
        project_id=project_id,
        task_id=task_id,
        reaggregation_id=reaggregation_id,
        task_status=task_status,
        before_label=before_label,
        after_label=after_label,
        before_confidence=before_confidence,
        after_confidence=after_confidence,
        estimates_at=estimates_at,
        changed_at=changed_at,
    )


def project_created_send(*, project_id: int, actor_id: int | None) -> None:
    """Announce a new project (call inside the transaction that created it)."""
    project_created.send(sender="labeling", project_id=project_id, actor_id=actor_id)


def check_answered_send(
    *,
    user_id: int,
    project_id: int,
    check_kind: str,
    task_id: int,
    answer_id: int,
    active_seconds: int,
    answered_at: datetime,
) -> None:
    """Announce an answered item of a skill check (call inside the transaction that stored it)."""
    check_answered.send(
        sender="labeling",
        user_id=user_id,
        project_id=project_id,
        check_kind=check_kind,
        task_id=task_id,
        answer_id=answer_id,
        active_seconds=active_seconds,
        answered_at=answered_at,
    )
