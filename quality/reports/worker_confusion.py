"""Each person's observed confusion matrix in a single-label project, for their managers.

Rows are the reference label, columns the label the person gave; cells are counts. The reference
is either the task's final label (`final`: completed, non-gold tasks that ended with a label; the
person's own vote is part of it) or the gold answer (`gold`: their gold tasks). Each row carries
its accuracy (the diagonal over the row's count) with a 95% Wilson interval (`kit.intervals`, the
one interval method), and so does the whole matrix. Labels outside the project's current label set
(renamed since) are counted in `skipped`, not in the matrix. Two queries, whatever the number of
people or tasks; corrections written by reviewers are not the person's work and are left out.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet

from kit.intervals import wilson_interval
from labeling.models import Annotation, Project, TaskStatus, TaskType
from labeling.services.completion import COUNTED_STATUSES

REFERENCE_FINAL = "final"
REFERENCE_GOLD = "gold"
REFERENCES = (REFERENCE_FINAL, REFERENCE_GOLD)


@dataclass(frozen=True)
class Share:
    """`right` of `total`, its share and the 95% Wilson interval (None when total is 0)."""

    right: int
    total: int

    @property
    def accuracy(self) -> float | None:
        return self.right / self.total if self.total else None

    @property
    def low(self) -> float | None:
        interval = wilson_interval(self.right, self.total)
        return interval.low if interval else None

    @property
    def high(self) -> float | None:
        interval = wilson_interval(self.right, self.total)
        return interval.high if interval else None


@dataclass(frozen=True)
class ConfusionRow:
    reference: str
    counts: list[int]
    share: Share


@dataclass(frozen=True)
class PersonConfusion:
    user_id: int
    classes: list[str]
    rows: list[ConfusionRow]
    overall: Share
    skipped: int


def worker_confusion_applies(project: Project) -> bool:
    return project.task_type == TaskType.SINGLE_LABEL


def worker_confusions(
    *,
    project: Project,
    user_ids: QuerySet[Any] | Iterable[int],
    reference: str = REFERENCE_FINAL,
) -> list[PersonConfusion]:
    """The confusion matrix of each person among `user_ids` (a queryset of ids keeps the scope
    in the database) who has labels with a `reference` in `project`, ordered by user id.

    Raises ValueError for an unknown `reference`; a project that is not single-label has none.
    """
    if reference not in REFERENCES:
        raise ValueError(f"reference must be one of {', '.join(REFERENCES)}")
    if not worker_confusion_applies(project):
        return []
    scope = user_ids if isinstance(user_ids, QuerySet) else list(user_ids)
    annotations = Annotation.objects.filter(
        project_id=project.pk,
        author_id__in=scope,
        status__in=COUNTED_STATUSES,
        corrects__isnull=True,
    )
    if reference == REFERENCE_GOLD:
        rows = annotations.filter(task__is_gold=True, task__gold_answer__isnull=False).values_list(
            "author_id", "result", "task__gold_answer__result"
        )
    else:
        rows = annotations.filter(
            task__is_gold=False, task__status=TaskStatus.COMPLETED
        ).values_list("author_id", "result", "task__result")
    classes = [label["name"] for label in project.labels]
    index = {name: i for i, name in enumerate(classes)}
    counts: dict[int, list[list[int]]] = {}
    skipped: dict[int, int] = {}
    for author_id, given, expected in rows.order_by():
        truth = expected.get("label") if isinstance(expected, dict) else None
        if truth is None:
            continue  # a tie left unlabelled: no reference
        label = given.get("label") if isinstance(given, dict) else None
        matrix = counts.setdefault(author_id, [[0] * len(classes) for _ in classes])
        if truth not in index or label not in index:
            skipped[author_id] = skipped.get(author_id, 0) + 1
            continue
        matrix[index[truth]][index[label]] += 1
    people = []
    for user_id in sorted(counts):
        matrix = counts[user_id]
        rows_out = [
            ConfusionRow(name, matrix[i], Share(matrix[i][i], sum(matrix[i])))
            for i, name in enumerate(classes)
        ]
        right = sum(matrix[i][i] for i in range(len(classes)))
        total = sum(sum(row) for row in matrix)
        people.append(
            PersonConfusion(
                user_id, classes, rows_out, Share(right, total), skipped.get(user_id, 0)
            )
        )
    return people


CSV_HEADER = [
    "user_id",
    "reference_label",
    "given_label",
    "count",
    "row_total",
    "row_accuracy",
    "row_low_95",
    "row_high_95",
]


def _figure(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"


def worker_confusions_csv(people: Iterable[PersonConfusion]) -> str:
    """One CSV line per person, reference label and given label, with the row's accuracy and
    its 95% interval repeated on each line of the row (empty when the row has no labels)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for person in people:
        for row in person.rows:
            for given, count in zip(person.classes, row.counts, strict=True):
                writer.writerow(
                    [
                        person.user_id,
                        row.reference,
                        given,
                        count,
                        row.share.total,
                        _figure(row.share.accuracy),
                        _figure(row.share.low),
                        _figure(row.share.high),
                    ]
                )
    return out.getvalue()
