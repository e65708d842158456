"""A manager sends a person of their teams back to training, with a reason.

The same rule as probation's floor (`quality.services.standing.person_send_back_to_training`):
a "require retraining" action of a built-in rule, listed with the person's rule actions,
appealable and liftable like any other; the claim refuses them work in the project (or in every
project they have a standing in) until a manager lifts it or an appeal is upheld. The decision
is also recorded as a standing decision applied by the manager (their journey's history).
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from core.errors import Conflict, NotFound, ValidationFailed
from labeling.models import WorkerProjectState
from labeling.policy import projects_managed_by
from quality.models import QualityRule, RuleAction
from quality.selectors import in_quality_scope, require_quality_manager
from quality.services.standing import builtin_retraining_rule, person_send_back_to_training
from workforce.models import AnnotatorProfile, StandingDecisionKind
from workforce.services.tiers import standing_decision_record

# The built-in rule whose actions are managers' decisions. Inactive, and its condition
# (accuracy below 0) can never hold, so no sweep ever takes it by itself.
MANAGER_RULE_NAME = "Sent back to training by a manager"
RETRAIN_REASON_MAX = 300


def _invalid(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(f"{field}: {message}", fields={field: [message]})


def manager_retraining_rule() -> QualityRule:
    """The built-in rule of managers' retraining decisions (made on first use)."""
    return builtin_retraining_rule(
        name=MANAGER_RULE_NAME,
        description=(
            "Built in: a manager sent the person back to training, with a reason. Never "
            "evaluated by the rule sweep."
        ),
        window_size=1,
        threshold=0.0,
    )


@transaction.atomic
def person_retrain(
    *,
    manager: User,
    user: User,
    project_id: int | None,
    reason: str,
    now: datetime | None = None,
) -> RuleAction:
    """Send `user` back to training in `project_id` (None: every project they have a standing
    in) for `reason`, which they are told; return the rule action taken.

    Raises PermissionDenied (not a manager), NotFound (not one of the manager's people, or
    themself), ValidationFailed naming `project` (not one of the manager's projects; "every
    project" for someone with no standing anywhere) or `reason` (missing, too long), Conflict
    `already_retraining` (a manager's retraining of them is in force: lift it first). Locks the
    person's annotator profile, then their standing in the projects (probation's order).
    """
    require_quality_manager(manager)
    if user.pk == manager.pk or not in_quality_scope(manager, person_id=user.pk):
        raise NotFound("There is no such person in your teams.")
    reason = (reason or "").strip()
    if not reason:
        raise _invalid("reason", "Say why: the person is told.")
    if len(reason) > RETRAIN_REASON_MAX:
        raise _invalid("reason", f"At most {RETRAIN_REASON_MAX} characters.")
    if project_id is not None:
        if not projects_managed_by(manager).filter(pk=project_id).exists():
            raise _invalid("project", "Choose one of your projects.")
    elif not WorkerProjectState.objects.filter(user_id=user.pk).exists():
        raise _invalid("project", "They have worked in no project yet: choose one.")
    # One decision about a person at a time, as probation's (its lock, then the states'): a
    # second manager waits here and then finds the first's action in force.
    if AnnotatorProfile.objects.select_for_update().filter(user_id=user.pk).first() is None:
        User.objects.select_for_update().filter(pk=user.pk).first()
    now = now or timezone.now()
    evidence = {"manager": {"id": manager.pk, "reason": reason, "project": project_id}}
    action = person_send_back_to_training(
        user=user,
        rule=manager_retraining_rule(),
        evidence=evidence,
        metric_value=0.0,
        sample_size=0,
        project_id=project_id,
        actor=manager,
        note=f"Your manager says: {reason}",
        now=now,
    )
    if action is None:
        raise Conflict(
            "A manager has already sent them back to training; lift that action first to "
            "change it.",
            code="already_retraining",
        )
    standing_decision_record(
        user=user,
        kind=StandingDecisionKind.RETRAINING,
        evidence={**evidence["manager"], "rule_action": action.pk},
        applied_by=manager,
        now=now,
    )
    return action
