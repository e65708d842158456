from __future__ import annotations

from typing import Any

from celery import shared_task

__all__ = ["consensus_confusions_estimate", "consensus_estimates_due"]


@shared_task(name="labeling.tasks.consensus_confusions_estimate", ignore_result=True)
def consensus_confusions_estimate(project_id: int) -> dict[str, Any] | None:
    """Refresh the per-person confusion estimates of one consensus project."""
    from labeling.models import Project
    from labeling.services.consensus import consensus_confusions_estimate as estimate

    project = Project.objects.filter(pk=project_id).first()
    return estimate(project=project) if project is not None else None


@shared_task(name="labeling.tasks.consensus_estimates_due", ignore_result=True)
def consensus_estimates_due() -> int:
    """Queue a refresh for every project whose aggregation uses the estimates (from beat)."""
    from labeling.services.consensus import projects_needing_estimates

    project_ids = projects_needing_estimates()
    for project_id in project_ids:
        consensus_confusions_estimate.delay(project_id)
    return len(project_ids)
