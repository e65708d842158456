"""The rules of who may take which work, written once as conditions (see `labeling.services.claim`).

A claim leases a slot only when every one of `CLAIM_CONDITIONS` holds. Each is a query
expression on the row of the project, as the access policy lets the person reach it
(`labeling.policy.projects_open_to_worker`, or `projects_open_to_reviewer` for review work: a
project the policy hides has no row, and the claim answers "not found"), and each is written
next to the rule it implements:

- `c_active`: the project takes work (`labeling.policy.project_takes_work`);
- `c_working`, `c_qualified`: an annotator in a working status who holds the project's skill at
  its level (`workforce.selectors`);
- `c_team`: a project limited to teams admits only their members, for annotation and review
  (`workforce.selectors.teams.team_admits`, through `labeling.policy.project_admits_team_of`);
- `c_requirements`: the person meets the project's further skill requirements, "at least level
  N" or "lacks the skill" (`workforce.selectors.teams.skill_requirement_met`, through
  `labeling.policy.project_requirements_met`);
- `c_not_suspended`, `c_not_retraining`: no quality-rule restriction in the project
  (`labeling.services.standing`);
- `c_under_limit`: fewer live leases in the project than it allows (here; a person at the limit
  gets a held lease back instead);
- `c_no_gold_due`: the gold mix does not call for a gold task now (`labeling.services.gold`; when
  it does, the gold claim serves one).

`claim_context` builds them into one query that both writers of a claim evaluate;
`claim_refusal` and `no_work_reason` word the outcome (read only).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import (
    BooleanField,
    Count,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.expressions import Case
from django.db.models.functions import Coalesce

from accounts.models import User
from core.errors import NotFound
from labeling import policy
from labeling.errors import NotQualified, NoWorkAvailable
from labeling.models import (
    Lease,
    LeaseState,
    Project,
    ProjectRequirement,
    ProjectStatus,
    SlotKind,
    SlotState,
    TaskParticipation,
    WorkerProjectState,
    WorkSlot,
)
from labeling.services.gold import gold_due_expression
from labeling.services.standing import (
    RETRAINING_REFUSAL,
    suspension_in_force,
    suspension_refusal,
)
from workforce.selectors import eligibility_refusal, skill_held, working_profile
from workforce.selectors.teams import (
    TEAM_REFUSAL,
    requirement_wording,
    requirements_refusal,
    skill_requirement_met,
)

# Every condition a claim needs, in the order a refusal names them (see the module docstring).
CLAIM_CONDITIONS = (
    "c_active",
    "c_working",
    "c_qualified",
    "c_team",
    "c_requirements",
    "c_not_suspended",
    "c_not_retraining",
    "c_under_limit",
    "c_no_gold_due",
)


# --- The conditions ---------------------------------------------------------------------------

# What the context returns besides the conditions: the project's work view, and what the
# refusals and the submit's checks need.
_CONTEXT_FIELDS = (
    "id",
    "status",
    "name",
    "task_type",
    "labels",
    "max_labels",
    "allow_overlapping_spans",
    "lease_seconds",
    "instructions_version",
    "updated_at",
    "pipeline",
    "review_levels",
    "overlap",
)


def claim_context(
    *,
    user_id: int,
    scope: policy.WorkScope,
    project_id: int,
    now: datetime,
    prefetch: bool,
    draw: float,
    kind: str,
) -> QuerySet[Project, dict[str, Any]]:
    """One row (or none, where the access policy hides the project) with every claim condition
    of `kind` work (`CLAIM_CONDITIONS`, True when it holds) and the project's fields the claim
    returns (`_CONTEXT_FIELDS`), plus `st_id` and `st_suspended_until` of the person's state."""
    projects = policy.projects_in_scope(scope)
    state = WorkerProjectState.objects.filter(user_id=user_id, project_id=OuterRef("pk"))
    held = (
        Lease.objects.filter(
            user_id=user_id, project_id=OuterRef("pk"), state=LeaseState.ACTIVE, expires_at__gt=now
        )
        .order_by()
        .values("project_id")
        .annotate(n=Count("pk"))
        .values("n")
    )
    annotating = kind == SlotKind.ANNOTATE
    context = (
        projects.select_related(None)
        .filter(pk=project_id)
        .annotate(
            st_id=Subquery(state.values("pk")[:1]),
            st_suspended_until=Subquery(state.values("suspended_until")[:1]),
            st_claimed=Coalesce(Subquery(state.values("tasks_claimed")[:1]), Value(0)),
            held=Coalesce(Subquery(held), Value(0)),
            c_active=ExpressionWrapper(policy.project_takes_work(), BooleanField()),
            c_working=working_profile(user_id) if annotating else Value(True),
            c_qualified=_either(
                Q(required_skill__isnull=True),
                skill_held(
                    user_id,
                    skill_id=OuterRef("required_skill_id"),
                    min_level=OuterRef("required_level"),
                ),
            )
            if annotating
            else Value(True),
            c_team=ExpressionWrapper(policy.project_admits_team_of(user_id), BooleanField()),
            c_requirements=ExpressionWrapper(
                policy.project_requirements_met(user_id), BooleanField()
            )
            if annotating
            else Value(True),
            c_not_suspended=~Exists(state.filter(suspension_in_force(now))),
            c_not_retraining=~Exists(state.filter(needs_retraining=True)),
            c_under_limit=ExpressionWrapper(
                Q(held__lt=F("max_leases_per_person") + (1 if prefetch else 0)), BooleanField()
            ),
            c_no_gold_due=_not(
                gold_due_expression(
                    user_id=user_id,
                    draw=draw,
                    tasks_claimed=F("st_claimed"),
                    override=Subquery(state.values("gold_rate_override")[:1]),
                )
            )
            if annotating
            else Value(True),
        )
    )
    return context.values(*_CONTEXT_FIELDS, "st_id", "st_suspended_until", *CLAIM_CONDITIONS)


def _either(*conditions: Any) -> Case:
    """True when any of `conditions` (Q objects or boolean expressions) holds."""
    return Case(
        *(When(condition, then=Value(True)) for condition in conditions),
        default=Value(False),
        output_field=BooleanField(),
    )


def _not(condition: Any) -> Case:
    return Case(
        When(condition, then=Value(False)), default=Value(True), output_field=BooleanField()
    )


def claim_refusal(flags: dict[str, Any], *, user: User, now: datetime) -> Exception | None:
    """The refusal of a claim whose context is `flags`: the first condition that fails, worded
    for the person (None while it is one the claim answers otherwise: the lease limit, gold)."""
    if not flags["c_active"]:
        if flags["status"] == ProjectStatus.ACTIVE:
            return NoWorkAvailable(
                "This project is a training module or a test; start it from your checks page.",
                extra={"reason": "project_not_active"},
            )
        label = ProjectStatus(flags["status"]).label.lower()
        return NoWorkAvailable(
            f"This project is {label}; it takes no work now.",
            extra={"reason": "project_not_active"},
        )
    reason = eligibility_refusal(
        user_id=user.pk, working=flags["c_working"], qualified=flags["c_qualified"]
    )
    if reason is not None:
        return NotQualified(reason)
    if not flags["c_team"]:
        return NotQualified(TEAM_REFUSAL)
    if not flags["c_requirements"]:
        return NotQualified(requirements_refusal(_unmet_requirements(user.pk, flags["id"])))
    if not flags["c_not_suspended"]:
        return NotQualified(suspension_refusal(suspended_until=flags["st_suspended_until"]))
    if not flags["c_not_retraining"]:
        return NotQualified(RETRAINING_REFUSAL)
    return None


def _unmet_requirements(user_id: int, project_id: int) -> list[str]:
    """The project's requirements the person does not meet, worded (read only)."""
    rows = (
        ProjectRequirement.objects.filter(project_id=project_id)
        .filter(~skill_requirement_met(user_id))
        .order_by("pk")
        .values_list("skill__name", "comparator", "level")
    )
    return [
        requirement_wording(skill_name=name, comparator=comparator, level=level)
        for name, comparator, level in rows
    ]


def no_work_reason(project_id: int, now: datetime, kind: str) -> NoWorkAvailable:
    """Word why a person who may work found no slot (read only)."""
    slots = WorkSlot.objects.filter(project_id=project_id, kind=kind)
    if kind == SlotKind.REVIEW and not slots.filter(state=SlotState.OPEN).exists():
        return NoWorkAvailable(
            "Nothing in this project waits for review right now.", extra={"reason": "nothing_left"}
        )
    if slots.filter(state=SlotState.LEASED, lease_expires_at__gte=now).exists():
        return NoWorkAvailable(
            "Every remaining task is being worked on by someone else right now; try again in a few minutes.",
            extra={"reason": "all_leased"},
        )
    if slots.filter(state=SlotState.OPEN).exists():
        return NoWorkAvailable(
            "You have already worked on every remaining task of this project.",
            extra={"reason": "all_done_by_you"},
        )
    return NoWorkAvailable(
        "This project has no tasks left to label.", extra={"reason": "nothing_left"}
    )


def project_not_found() -> NotFound:
    return NotFound("No Project matches the given query.")


def candidate_slots(
    *, project_id: int, user_id: int, state: str, now: datetime, kind: str, max_level: int
) -> QuerySet[WorkSlot]:
    """The slots of `kind` in `state` the person may take, best first: never a task they hold,
    did or skipped; for review, the levels up to theirs, the higher (scarcer) ones first."""
    done_by_user = TaskParticipation.objects.filter(task_id=OuterRef("task_id"), user_id=user_id)
    slots = WorkSlot.objects.filter(project_id=project_id, kind=kind, state=state)
    if kind == SlotKind.ANNOTATE:
        slots = slots.filter(level=0).order_by("-priority", "order_key")
    else:
        slots = slots.filter(level__gte=1, level__lte=max_level).order_by(
            "-level", "-priority", "order_key"
        )
    if state == SlotState.LEASED:
        slots = slots.filter(lease_expires_at__lt=now)
    return slots.filter(~Exists(done_by_user))
