"""What happens after a submission, per pipeline: when a task becomes final and with which label.

Standard: one accepted annotation makes the task ready for review; until the review hierarchy
exists, ready means final. Consensus: when the overlap is reached, the annotations are aggregated
by the project's method; a tie follows the project's tie rule (one more annotator, review, or
left unlabelled and reported as a tie). Collection: each submission is its own result; the task
is done when it has collected `overlap` of them. Better aggregation and dynamic overlap plug in at
`CONSENSUS_AGGREGATE` and `consensus_needs_more`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np

from kit.aggregation import Aggregate, aggregate
from kit.consensus import (
    DEFAULT_ACCURACY,
    Decision,
    Posterior,
    box_clusters,
    overlap_decision,
    task_posterior,
    token_vote,
    weighted_vote,
)
from kit.scoring import score
from labeling.events import SCORED_BY_AGREEMENT, SCORED_BY_GOLD, work_scored_send
from labeling.models import (
    AggregationMethod,
    Annotation,
    AnnotationStatus,
    Pipeline,
    Project,
    QueueOrder,
    SlotKind,
    SlotState,
    Task,
    TaskStatus,
    TaskType,
    WorkSlot,
)
from labeling.models.projects import TieRule
from labeling.queue_order import uncertain_first_key
from labeling.services.consensus import ProjectEstimates, project_estimates_for
from labeling.services.gold import gold_score_annotation
from labeling.services.review import review_route_aggregate, review_route_work
from labeling.services.task_state import annotate_slot_add, task_final_values

CONSENSUS_AGGREGATE: Callable[[str, Sequence[dict[str, Any]]], Aggregate] = aggregate


@dataclass(frozen=True)
class ConsensusOutcome:
    result: dict[str, Any] | None
    agreement: float
    is_tie: bool
    confidence: float | None


def consensus_needs_more(*, project: Project, task: Task, outcome: ConsensusOutcome) -> bool:
    """Whether a consensus task should get another annotation before it is final (fixed overlap: never)."""
    return False


@dataclass(frozen=True)
class PlainSubmission:
    """What an ordinary annotation does to its task when no pipeline step is needed, by count.

    `final_at`: the task is final once it has this many annotations (None: never by count);
    `final_result`: its result is then the annotation's (else it has none, as in collection);
    `steps_at`: from this many annotations on, the pipeline's own step decides (aggregation).
    """

    status: str
    final_at: int | None
    final_result: bool
    steps_at: int | None


def plain_submission(*, pipeline: str, review_levels: Any, overlap: int) -> PlainSubmission | None:
    """The rule for ordinary annotate work by pipeline; None when every submission takes a
    pipeline step (standard work sampled for review). Both writers of a submission apply it:
    `task_after_submission` here, and the one-statement submit of `labeling.services.submit`."""
    if pipeline == Pipeline.STANDARD:
        if review_levels:
            return None
        return PlainSubmission(AnnotationStatus.ACCEPTED, 1, True, None)
    if pipeline == Pipeline.COLLECTION:
        return PlainSubmission(AnnotationStatus.ACCEPTED, overlap, False, None)
    return PlainSubmission(AnnotationStatus.SUBMITTED, None, False, overlap)


def initial_annotation_status(project: Project, kind: str = SlotKind.ANNOTATE) -> str:
    """Work that still faces a vote or a review waits as submitted; the rest is accepted at once."""
    if kind == SlotKind.GOLD:
        return AnnotationStatus.ACCEPTED
    if project.pipeline == Pipeline.CONSENSUS:
        return AnnotationStatus.SUBMITTED
    if project.pipeline == Pipeline.STANDARD and (project.review_levels or kind == SlotKind.REWORK):
        return AnnotationStatus.SUBMITTED
    return AnnotationStatus.ACCEPTED


def task_after_submission(
    *,
    task: Task,
    project: Project,
    annotation: Annotation,
    now: datetime,
    kind: str = SlotKind.ANNOTATE,
) -> dict[str, Any] | None:
    """Decide, inside the submit transaction (task row locked), what happens to `task` next.

    `task.annotations_count` already counts this submission. Return the task's new values
    (final ones: status, completed_at, result, agreement, is_tie, confidence; or the move into
    review) for the caller to write in the same UPDATE that counts the annotation, or None while
    the task waits for more work. A gold task is scored at once and never becomes final.
    """
    plain = (
        plain_submission(
            pipeline=project.pipeline, review_levels=project.review_levels, overlap=project.overlap
        )
        if kind == SlotKind.ANNOTATE
        else None
    )
    if plain is not None and (plain.steps_at is None or task.annotations_count < plain.steps_at):
        if plain.final_at is not None and task.annotations_count >= plain.final_at:
            return task_final_values(now, result=annotation.result if plain.final_result else None)
        return None
    if kind == SlotKind.GOLD:
        scored = gold_score_annotation(annotation=annotation, project=project, now=now)
        work_scored_send(
            user_id=annotation.author_id,
            project_id=project.pk,
            task_id=task.pk,
            annotation_id=annotation.pk,
            source=SCORED_BY_GOLD,
            value=scored.value,
        )
        return None
    if project.pipeline == Pipeline.STANDARD:
        return review_route_work(
            task=task,
            project=project,
            annotation=annotation,
            now=now,
            is_rework=kind == SlotKind.REWORK,
        )
    if project.pipeline == Pipeline.COLLECTION:
        return (
            task_final_values(now, result=None)
            if task.annotations_count >= project.overlap
            else None
        )
    return consensus_after_submission(task=task, project=project, now=now)


def consensus_after_submission(
    *, task: Task, project: Project, now: datetime
) -> dict[str, Any] | None:
    """Aggregate a consensus task once it has its minimum overlap: finish it, ask for one more
    annotation (dynamic overlap), or send it to review (unresolved at the maximum, or a tie)."""
    if task.annotations_count < project.overlap:
        return None
    if _annotate_slots_outstanding(task):
        return None  # someone is still on it (e.g. a slot added for discounted work)
    annotations = list(
        Annotation.objects.filter(
            task_id=task.pk, status__in=COUNTED_STATUSES, corrects__isnull=True
        ).order_by("pk")
    )
    if len(annotations) < project.overlap:
        annotate_slot_add(task=task, project=project)
        return None
    outcome, decision = consensus_outcome(project=project, annotations=annotations)
    if consensus_needs_more(project=project, task=task, outcome=outcome) or consensus_wants_more(
        project=project, outcome=outcome, decision=decision, n_labels=len(annotations)
    ):
        annotate_slot_add(
            task=task, project=project, order_key=more_work_order_key(project, outcome, now)
        )
        return None
    annotations_agreement_store(project=project, annotations=annotations, final=outcome.result)
    values: dict[str, Any] = {
        "result": outcome.result,
        "agreement": outcome.agreement,
        "is_tie": outcome.is_tie,
        "confidence": outcome.confidence,
    }
    unresolved = decision != Decision.FINAL or tie_goes_to_review(project=project, outcome=outcome)
    if review_route_aggregate(
        task=task, project=project, annotations=annotations, unresolved=unresolved
    ):
        return {**values, "status": TaskStatus.IN_REVIEW, "review_level": 0}
    Annotation.objects.filter(pk__in=[a.pk for a in annotations]).update(
        status=AnnotationStatus.ACCEPTED
    )
    return task_final_values(
        now,
        result=outcome.result,
        agreement=outcome.agreement,
        is_tie=outcome.is_tie,
        confidence=outcome.confidence,
    )


def consensus_wants_more(
    *, project: Project, outcome: ConsensusOutcome, decision: Decision, n_labels: int
) -> bool:
    """Whether a task aggregated from `n_labels` annotations asks for one more annotator: while
    under `max_overlap`, when dynamic overlap is unsure or a tie is to be escalated."""
    if n_labels >= project.max_overlap:
        return False
    return decision == Decision.MORE or (outcome.is_tie and project.tie_rule == TieRule.ESCALATE)


def more_work_order_key(project: Project, outcome: ConsensusOutcome, now: datetime) -> int | None:
    """The order key of the slot a task gets when it asks for one more annotator: in an
    uncertain-first project, from the posterior just computed (the least certain first, with the
    fairness cap of `uncertain_first_key`); None (the queue order's own key) in any other."""
    if project.queue_order != QueueOrder.UNCERTAIN_FIRST or outcome.confidence is None:
        return None
    return uncertain_first_key(confidence=outcome.confidence, classes=len(project.labels), now=now)


def tie_goes_to_review(*, project: Project, outcome: ConsensusOutcome) -> bool:
    """Whether a tied outcome that can take no more annotators goes to review, by the project's
    tie rule: escalate (one more annotator while under the maximum overlap, then review) and
    review send it there; only leave_unlabelled lets a task end without a label, as a tie."""
    return outcome.is_tie and project.tie_rule != TieRule.LEAVE_UNLABELLED


# What a task's stored `confidence` is, by how the project aggregates (exports name it).
CONFIDENCE_POSTERIOR = "posterior"
CONFIDENCE_VOTE_SHARE = "vote_share"
CONFIDENCE_TOKEN_VOTE_SHARE = "token_vote_share"  # noqa: S105 - a method, not a secret
CONFIDENCE_BOX_VOTE_SHARE = "box_vote_share"


def confidence_method_of(project: Project) -> str | None:
    """Name what `consensus_outcome` stores as a task's confidence in this project: a calibrated
    posterior probability, or a share of votes (not a probability); None outside consensus."""
    if project.pipeline != Pipeline.CONSENSUS:
        return None
    if project.task_type == TaskType.SINGLE_LABEL and (
        project.aggregation_method != AggregationMethod.MAJORITY or project.confidence_threshold
    ):
        return CONFIDENCE_POSTERIOR
    if project.task_type == TaskType.NER:
        return CONFIDENCE_TOKEN_VOTE_SHARE
    if project.task_type == TaskType.BBOX:
        return CONFIDENCE_BOX_VOTE_SHARE
    return CONFIDENCE_VOTE_SHARE


def consensus_outcome(
    *, project: Project, annotations: Sequence[Annotation]
) -> tuple[ConsensusOutcome, Decision]:
    """Aggregate one task's annotations by the project's method; say whether it is settled.

    Single-label with weighted vote, Dawid-Skene or a confidence threshold: a posterior from the
    authors' current confusion estimates (see `consensus_confusions_estimate`). Otherwise majority
    vote for labels, token vote for spans, IoU clustering for boxes. Without a threshold every
    outcome is final (fixed overlap).
    """
    results = [a.result for a in annotations]
    if project.task_type == TaskType.SINGLE_LABEL:
        labels = [(a.author_id, a.result["label"]) for a in annotations]
        estimates = (
            project_estimates_for(project=project, user_ids=[a.author_id for a in annotations])
            if uses_posterior(project)
            else None
        )
        return single_label_outcome(project=project, labels=labels, estimates=estimates)
    if project.task_type == TaskType.NER:
        text = Task.objects.filter(pk=annotations[0].task_id).values_list("data", flat=True).first()
        spans, confidence = token_vote(str((text or {}).get("text", "")), results)
        majority = CONSENSUS_AGGREGATE(project.task_type, results)
        return ConsensusOutcome(
            spans, majority.agreement, False, round(confidence, 6)
        ), Decision.FINAL
    if project.task_type == TaskType.BBOX:
        boxes, confidence = box_clusters(results)
        majority = CONSENSUS_AGGREGATE(project.task_type, results)
        return ConsensusOutcome(
            boxes, majority.agreement, False, round(confidence, 6)
        ), Decision.FINAL
    majority = CONSENSUS_AGGREGATE(project.task_type, results)
    return (
        ConsensusOutcome(majority.result, majority.agreement, majority.is_tie, majority.agreement),
        Decision.FINAL,
    )


def uses_posterior(project: Project) -> bool:
    """Whether the project's single-label outcome is a posterior from the confusion estimates
    (weighted vote, Dawid-Skene, or dynamic overlap), rather than a majority vote."""
    return project.task_type == TaskType.SINGLE_LABEL and (
        project.aggregation_method != AggregationMethod.MAJORITY
        or bool(project.confidence_threshold)
    )


def single_label_outcome(
    *,
    project: Project,
    labels: Sequence[tuple[int, str]],
    estimates: ProjectEstimates | None,
) -> tuple[ConsensusOutcome, Decision]:
    """Aggregate one single-label task's (author id, label) votes as the project does, and say
    whether it is settled. Pure given `estimates` (`project_estimates_for` of the authors; None
    for majority vote): the submission path and the calibration measured on gold both use it."""
    if not labels:
        raise ValueError("A consensus outcome needs at least one label.")
    if estimates is None or not uses_posterior(project):
        majority = CONSENSUS_AGGREGATE(project.task_type, [{"label": lab} for _, lab in labels])
        return (
            ConsensusOutcome(
                majority.result, majority.agreement, majority.is_tie, majority.agreement
            ),
            Decision.FINAL,
        )
    posterior = _posterior(project, labels, estimates)
    if posterior.is_tie:
        tied = sorted(
            c for c, p in posterior.probabilities.items() if p >= posterior.confidence - 1e-9
        )
        result: dict[str, Any] = {"label": None, "tied": tied}
    else:
        result = {"label": posterior.label}
    agreeing = sum(1 for _, lab in labels if lab == posterior.label)
    outcome = ConsensusOutcome(
        result, agreeing / len(labels), posterior.is_tie, round(posterior.confidence, 6)
    )
    if not project.confidence_threshold:
        return outcome, Decision.FINAL
    return outcome, overlap_decision(
        posterior,
        n_labels=len(labels),
        min_overlap=project.overlap,
        max_overlap=project.max_overlap,
        threshold=project.confidence_threshold,
    )


def _posterior(
    project: Project, labels: Sequence[tuple[int, str]], estimates: ProjectEstimates
) -> Posterior:
    """The task's posterior under the project's last estimate: its class priors, each author's
    matrix, and the crowd's matrix (or, for weighted vote, its accuracy) for authors without one."""
    classes = [label["name"] for label in project.labels]
    if project.aggregation_method == AggregationMethod.WEIGHTED:
        default_accuracy = (
            float(estimates.priors @ np.diagonal(estimates.crowd))
            if estimates.crowd is not None
            else DEFAULT_ACCURACY
        )
        return weighted_vote(
            list(labels),
            estimates.accuracies,
            classes,
            default_accuracy=default_accuracy,
            priors=estimates.priors,
        )
    return task_posterior(
        list(labels),
        estimates.confusions,
        estimates.priors,
        classes,
        default_confusion=estimates.crowd,
    )


def _annotate_slots_outstanding(task: Task) -> bool:
    return WorkSlot.objects.filter(
        task_id=task.pk,
        kind=SlotKind.ANNOTATE,
        state__in=[SlotState.OPEN, SlotState.LEASED],
    ).exists()


# Work that counts towards a consensus vote: not rejected, not discounted.
COUNTED_STATUSES = (AnnotationStatus.SUBMITTED, AnnotationStatus.ACCEPTED)


def annotations_agreement_store(
    *, project: Project, annotations: Sequence[Annotation], final: dict[str, Any] | None
) -> None:
    """Remember how well each annotation matches the final result (the agreement metrics' input);
    each measured annotation is announced as `work_scored` (source "agreement")."""
    for annotation in annotations:
        if final is None or final.get("label", "") is None:
            annotation.agreement = None
        else:
            annotation.agreement = score(project.task_type, annotation.result, final).value
    Annotation.objects.bulk_update(list(annotations), ["agreement"])
    for annotation in sorted(annotations, key=lambda a: a.pk):
        if annotation.agreement is not None:
            work_scored_send(
                user_id=annotation.author_id,
                project_id=project.pk,
                task_id=annotation.task_id,
                annotation_id=annotation.pk,
                source=SCORED_BY_AGREEMENT,
                value=annotation.agreement,
            )
