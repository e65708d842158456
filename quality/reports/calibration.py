"""Calibration of a consensus project's confidence, measured on its gold tasks.

What is measured: gold tasks are never aggregated (each gold annotation is scored against the
answer), so each gold task is replayed as if it were an ordinary task of the project. Its counted
annotations, in submission order, are fed to the project's own aggregation
(`labeling.services.completion.single_label_outcome`, with the authors' current confusion
estimates and class priors) from `overlap` labels on, one more at a time while the project would
ask for one more (dynamic overlap unsure, a tie to escalate), up to `max_overlap`. Where it stops
with a label, that label and its confidence are what the project would have delivered; it is
right when it equals the gold answer. ECE and the reliability bins are computed over those
(`kit.calibration`). Not measured: gold tasks with too few annotations for the replay to stop
(`too_few_labels`) and those the project would send to review (unsure at the maximum, or a tie
under the review or escalate rule) or leave unlabelled (`undecided`).

Caveat: the estimates were fitted on the project's labels with gold answers as seeds, so the
figure can be slightly optimistic for people whose gold weighs much in their estimate.
Single-label consensus projects only; under majority vote the confidence is a vote share, and
its calibration is shown under that name.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from kit.calibration import (
    DEFAULT_BINS,
    ReliabilityBin,
    expected_calibration_error,
    reliability,
)
from kit.consensus import Decision
from labeling.models import Annotation, GoldAnswer, Pipeline, Project, TaskType
from labeling.services.completion import (
    COUNTED_STATUSES,
    ConsensusOutcome,
    confidence_method_of,
    consensus_wants_more,
    single_label_outcome,
    tie_goes_to_review,
    uses_posterior,
)
from labeling.services.consensus import ProjectEstimates, project_estimates_for

# The newest gold tasks measured (the replay is in Python: a bounded, fixed number of queries).
GOLD_CALIBRATION_TASKS_MAX = 2000


# ECE above which the Quality page warns: 2 points, the goal issue 16 sets for every project.
ECE_WARNING = 0.02


@dataclass(frozen=True)
class GoldCalibration:
    """How well the project's stored confidence matches how often its labels are right on gold."""

    applies: bool
    confidence_method: str | None
    gold_tasks: int
    measured: int
    right: int
    too_few_labels: int
    undecided: int
    ece: float | None
    warning_threshold: float
    bins: list[ReliabilityBin]

    @property
    def accuracy(self) -> float | None:
        return self.right / self.measured if self.measured else None

    @property
    def mean_confidence(self) -> float | None:
        counted = [b for b in self.bins if b.count and b.mean_confidence is not None]
        total = sum(b.count for b in counted)
        if not total:
            return None
        return sum(b.count * (b.mean_confidence or 0.0) for b in counted) / total

    @property
    def is_warning(self) -> bool:
        return self.ece is not None and self.ece > self.warning_threshold

    def chart_data(self) -> dict[str, Any]:
        """The reliability diagram's data for the page's chart (plain JSON)."""
        return {
            "bins": [
                {
                    "low": b.low,
                    "high": b.high,
                    "count": b.count,
                    "mean_confidence": b.mean_confidence,
                    "accuracy": b.accuracy,
                }
                for b in self.bins
            ],
            "confidence_method": self.confidence_method,
        }


def calibration_applies(project: Project) -> bool:
    return project.pipeline == Pipeline.CONSENSUS and project.task_type == TaskType.SINGLE_LABEL


def consensus_replay(
    *,
    project: Project,
    labels: list[tuple[int, Any]],
    estimates: ProjectEstimates | None,
) -> tuple[ConsensusOutcome, Decision] | None:
    """What the project would have decided for a task labelled `labels` in this order: the
    outcome where it stops (from `overlap` labels on, one more while it would ask for one);
    None when the labels run out before it stops."""
    n = project.overlap
    while n <= len(labels):
        outcome, decision = single_label_outcome(
            project=project, labels=labels[:n], estimates=estimates
        )
        if not consensus_wants_more(
            project=project, outcome=outcome, decision=decision, n_labels=n
        ):
            return outcome, decision
        n += 1
    return None


def gold_calibration(
    *,
    project: Project,
    bins: int = DEFAULT_BINS,
    tasks_max: int = GOLD_CALIBRATION_TASKS_MAX,
) -> GoldCalibration:
    """Measure the project's confidence on its newest `tasks_max` gold tasks (see the module's
    docstring for exactly what). Four queries at most, whatever the number of tasks or people."""
    threshold = ECE_WARNING
    if not calibration_applies(project):
        return GoldCalibration(False, None, 0, 0, 0, 0, 0, None, threshold, [])
    answers = dict(
        GoldAnswer.objects.filter(task__project_id=project.pk)
        .order_by("-task_id")
        .values_list("task_id", "result")[:tasks_max]
    )
    votes: dict[int, list[tuple[int, Any]]] = defaultdict(list)
    for task_id, author_id, result in (
        Annotation.objects.filter(
            task_id__in=list(answers), status__in=COUNTED_STATUSES, corrects__isnull=True
        )
        .order_by("task_id", "pk")
        .values_list("task_id", "author_id", "result")
    ):
        if isinstance(result, dict) and result.get("label") is not None:
            votes[task_id].append((author_id, result["label"]))
    estimates = (
        project_estimates_for(
            project=project,
            user_ids={author for labels in votes.values() for author, _ in labels},
        )
        if uses_posterior(project)
        else None
    )
    confidences: list[float] = []
    correct: list[bool] = []
    too_few = undecided = 0
    for task_id in sorted(answers):
        replayed = consensus_replay(project=project, labels=votes[task_id], estimates=estimates)
        if replayed is None:
            too_few += 1
            continue
        outcome, decision = replayed
        if (
            decision != Decision.FINAL
            or outcome.is_tie
            or tie_goes_to_review(project=project, outcome=outcome)
            or outcome.confidence is None
        ):
            undecided += 1
            continue
        confidences.append(float(outcome.confidence))
        expected = answers[task_id]
        label = (outcome.result or {}).get("label")
        correct.append(isinstance(expected, dict) and label == expected.get("label"))
    return GoldCalibration(
        applies=True,
        confidence_method=confidence_method_of(project),
        gold_tasks=len(answers),
        measured=len(confidences),
        right=sum(correct),
        too_few_labels=too_few,
        undecided=undecided,
        ece=expected_calibration_error(confidences, correct, bins=bins) if confidences else None,
        warning_threshold=threshold,
        bins=reliability(confidences, correct, bins=bins),
    )
