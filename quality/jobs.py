"""Celery jobs of the quality rules: evaluate one person after a scored event, and the sweep.

The task names are those the jobs had in labeling: messages already queued and beat schedules
already stored keep reaching them.
"""

from __future__ import annotations

from celery import shared_task

from accounts.models import User
from labeling.models import Project
from quality.services import evaluation

__all__ = ["rules_evaluate_person", "rules_sweep"]


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
