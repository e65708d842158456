"""Celery jobs of quality: the rules (one person after a scored event, and the sweep), probation
(one person after a scored item, and the sweep), the weekly tier candidates, and the hourly
rollups of performance with each project's stored agreement.

The rules' task names are those the jobs had in labeling: messages already queued and beat schedules
already stored keep reaching them.
"""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from accounts.models import User
from labeling.models import Project
from quality.performance import rollups
from quality.services import agreement, evaluation, standing

__all__ = [
    "performance_rollups_catch_up",
    "probation_evaluate_person",
    "probation_sweep",
    "project_agreements_refresh",
    "rules_evaluate_person",
    "rules_sweep",
    "tier_candidates_compute_weekly",
]


@shared_task(name="labeling.tasks.rules_evaluate_person", ignore_result=True)
def rules_evaluate_person(user_id: int, project_id: int | None) -> int:
    """Evaluate the rules of the project and the global ones for one person; return new actions.

    Safe to run twice: a rule whose action is already in force on the person does not fire.
    """
    user = User.objects.filter(pk=user_id).first()
    if user is None:
        return 0
    project = Project.objects.filter(pk=project_id).first() if project_id is not None else None
    return len(evaluation.rules_evaluate(user=user, project=project))


@shared_task(name="labeling.tasks.rules_sweep", ignore_result=True)
def rules_sweep() -> int:
    """End timed actions that ran out and evaluate every rule for recently active people (beat)."""
    outcome = evaluation.rules_sweep()
    return outcome.expired + len(outcome.actions)


@shared_task(name="quality.tasks.probation_evaluate_person", ignore_result=True)
def probation_evaluate_person(user_id: int, project_id: int | None = None) -> bool:
    """Decide a person's probation from their scored record; return whether a decision was taken.

    Safe to run twice: someone no longer on probation, or already sent back to training on this
    evidence, is left alone.
    """
    user = User.objects.filter(pk=user_id).first()
    if user is None:
        return False
    return standing.probation_evaluate(user=user, project_id=project_id) is not None


@shared_task(name="quality.tasks.probation_sweep", ignore_result=True)
def probation_sweep() -> int:
    """Decide the probation of everyone on it (beat): catches what no event triggered."""
    return standing.probation_sweep()


@shared_task(name="quality.tasks.tier_candidates_compute_weekly", ignore_result=True)
def tier_candidates_compute_weekly() -> int:
    """Compute this week's tier verdicts and candidates (beat, weekly); return the candidates.

    Safe to run twice in a week: the week's readings are replaced, not added to.
    """
    return len(standing.tier_candidates_compute(now=timezone.now()).candidates)


@shared_task(name="quality.tasks.performance_rollups_catch_up", ignore_result=True)
def performance_rollups_catch_up() -> int:
    """Bring the hourly rollups up to date (beat); return the hours recomputed.

    Safe to run twice: a recomputed hour is replaced by what the raw data says.
    """
    return rollups.rollups_catch_up().hours


@shared_task(name="quality.tasks.project_agreements_refresh", ignore_result=True)
def project_agreements_refresh() -> int:
    """Store the agreement of projects with new work (beat); return how many were computed."""
    return agreement.project_agreements_refresh()
