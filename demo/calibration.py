"""Demo data for calibrated consensus: every demo project that aggregates with confusion estimates
gets a fresh estimate, so its class priors and crowd matrix (`ConsensusPriors`) exist from the
start and its Quality figures use them."""

from __future__ import annotations

from labeling.models import Project
from labeling.services.consensus import consensus_confusions_estimate, projects_needing_estimates


def demo_calibration_seed() -> list[str]:
    """Refresh the estimates of every active project that uses them; return the projects' names.

    Safe to run again: each refresh replaces the previous estimate. Run it after `demo_seed`.
    """
    names = []
    for project in Project.objects.filter(pk__in=projects_needing_estimates()).order_by("pk"):
        summary = consensus_confusions_estimate(project=project)
        if summary["labels"]:
            names.append(project.name)
    return names
