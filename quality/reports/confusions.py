"""The per-person confusion estimates of a project (labeling's consensus estimates), as shown."""

from __future__ import annotations

from django.db.models import QuerySet

from labeling.models import (
    Pipeline,
    Project,
    TaskType,
    WorkerConfusion,
)

CONFUSIONS_MAX = 200


def confusions_apply(project: Project) -> bool:
    """Whether per-person confusion estimates mean anything here: single-label consensus."""
    return project.pipeline == Pipeline.CONSENSUS and project.task_type == TaskType.SINGLE_LABEL


def confusions_of(project: Project) -> QuerySet[WorkerConfusion]:
    """The project's confusion estimates, most labels first."""
    return WorkerConfusion.objects.filter(project_id=project.pk).order_by("-labels_seen", "user_id")
