from __future__ import annotations

from typing import Any

from celery import shared_task

__all__ = ["consensus_confusions_estimate", "consensus_estimates_due", "consensus_reaggregate"]


@shared_task(name="labeling.tasks.consensus_confusions_estimate", ignore_result=True)
def consensus_confusions_estimate(project_id: int) -> dict[str, Any] | None:
    """Refresh the per-person confusion estimates of one consensus project, then re-aggregate
    the tasks whose outcome they change (in review and recent ones; every final one too when the
    project's `reaggregate_final` says so)."""
    from labeling.models import Project
    from labeling.services.consensus import consensus_confusions_estimate as estimate
    from labeling.services.reaggregation import project_reaggregate

    project = Project.objects.filter(pk=project_id).first()
    if project is None:
        return None
    summary = estimate(project=project)
    reaggregated = project_reaggregate(project=project)
    return {**summary, "reaggregated": reaggregated.changed}


@shared_task(name="labeling.tasks.consensus_estimates_due", ignore_result=True)
def consensus_estimates_due() -> int:
    """Queue a refresh for every project whose aggregation uses the estimates (from beat)."""
    from labeling.services.consensus import projects_needing_estimates

    project_ids = projects_needing_estimates()
    for project_id in project_ids:
        consensus_confusions_estimate.delay(project_id)
    return len(project_ids)


@shared_task(name="labeling.tasks.consensus_reaggregate", ignore_result=True)
def consensus_reaggregate(
    project_id: int, include_final: bool, actor_id: int | None = None
) -> int | None:
    """Re-aggregate one project's tasks under its current estimates (a manager's request);
    return the tasks changed."""
    from accounts.models import User
    from labeling.models import Project
    from labeling.services.reaggregation import project_reaggregate

    project = Project.objects.filter(pk=project_id).first()
    if project is None:
        return None
    actor = User.objects.filter(pk=actor_id).first() if actor_id is not None else None
    return project_reaggregate(project=project, include_final=include_final, actor=actor).changed
