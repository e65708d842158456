"""Demo data for re-aggregation: the demo's consensus projects have tasks finished under older
estimates; re-aggregating them under the current ones records the changes, so the
re-aggregations list (`/api/v1/projects/{id}/reaggregations/`) and the `task.updated` webhooks
have something to show."""

from __future__ import annotations

from labeling.models import Project
from labeling.services.consensus import projects_needing_estimates
from labeling.services.reaggregation import project_reaggregate


def demo_reaggregation_seed() -> dict[str, int]:
    """Re-aggregate every final task of each project that uses the estimates; return the changes
    per project name.

    Run it after `demo_calibration_seed` (which stores the estimates). Safe to run again: with the
    same estimates nothing changes a second time.
    """
    changed: dict[str, int] = {}
    for project in Project.objects.filter(pk__in=projects_needing_estimates()).order_by("pk"):
        summary = project_reaggregate(project=project, include_final=True)
        if summary.estimates_at is not None:
            changed[project.name] = summary.changed
    return changed
