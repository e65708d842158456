"""Test data for quality rules: a person's scored record, written straight into the tables the rules read.

The gold and review services of other parts are exercised by their own tests; here a record of
scores is what matters, so it is made in bulk, quickly, with the shape those services write.
"""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from accounts.models import Role
from labeling.models import (
    Annotation,
    AnnotationStatus,
    GoldScore,
    Project,
    Review,
    Task,
)
from quality.models import (
    QualityRule,
)
from quality.services import rule_create
from tests.factories import make_user

_seq = itertools.count(1)
GOLD_SPAM = [0.0] * 12  # a spammer's gold record: every answer wrong


def make_manager():
    return make_user(Role.MANAGER, mfa=True)


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
    return rule_create(actor=manager, **values)
