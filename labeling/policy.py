"""Who may see and change which customers, projects and tasks (the labeling half of the policy layer).

Built on `accounts.policy`: roles decide the kind of access, and these querysets decide the scope.
A customer's users reach only their own customer's projects; anything else is "not found".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet

from accounts.models import Role
from accounts.policy import STAFF_ROLES
from accounts.selectors import user_roles
from labeling.models import (
    Customer,
    CustomerMember,
    ExportJob,
    ImportJob,
    Project,
    ProjectRequirement,
    ProjectStatus,
    Task,
)
from labeling.models.projects import ProjectPurpose
from workforce.selectors.teams import (
    sees_every_team,
    skill_requirement_met,
    team_admits,
    team_limit_visible_to_manager,
)

STAFF = frozenset({Role.ADMIN, Role.MANAGER})


def customer_of(user: Any) -> Customer | None:
    """Return the customer this user acts for, or None."""
    if not getattr(user, "is_authenticated", False):
        return None
    member = CustomerMember.objects.select_related("customer").filter(user_id=user.pk).first()
    return member.customer if member else None


def is_bound_by_ip_allowlists(user: Any) -> bool:
    """Customer users are bound by their customer's IP allowlist; staff (admins, managers,
    finance) are not customer users and never are."""
    roles = user_roles(user)
    return Role.CUSTOMER in roles and not any(role in roles for role in STAFF_ROLES)


def ip_allowlist_binding(user: Any) -> Customer | None:
    """Return the customer whose (non-empty) IP allowlist binds `user`, or None when none does."""
    if not is_bound_by_ip_allowlists(user):
        return None
    customer = (
        Customer.objects.filter(members__user_id=user.pk).only("pk", "name", "ip_allowlist").first()
    )
    return customer if customer is not None and customer.ip_allowlist else None


def customers_administered_by(user: Any) -> QuerySet[Customer]:
    """Customers whose settings (IP allowlist) `user` may change: all for Quorum administrators,
    their own for a customer's users marked as its administrators."""
    roles = user_roles(user)
    if Role.ADMIN in roles:
        return Customer.objects.all()
    if Role.CUSTOMER in roles:
        return Customer.objects.filter(members__user_id=user.pk, members__is_admin=True)
    return Customer.objects.none()


def is_labeling_staff(user: Any) -> bool:
    return any(role in user_roles(user) for role in STAFF)


def is_customer_user(user: Any) -> bool:
    return Role.CUSTOMER in user_roles(user)


def is_worker(user: Any) -> bool:
    return Role.ANNOTATOR in user_roles(user) or Role.REVIEWER in user_roles(user)


def can_create_projects(user: Any) -> bool:
    return is_labeling_staff(user) or (is_customer_user(user) and customer_of(user) is not None)


def customers_visible_to(user: Any) -> QuerySet[Customer]:
    if is_labeling_staff(user):
        return Customer.objects.all()
    if is_customer_user(user):
        return Customer.objects.filter(members__user_id=user.pk)
    return Customer.objects.none()


def project_team_limits() -> QuerySet[Any]:
    """The team-limit rows of the project on the outer row (empty: open to every team)."""
    return Project.teams.through.objects.filter(project_id=OuterRef("pk"))


def project_admits_team_of(user_id: Any) -> Q:
    """The project (outer row) is open to every team or limited to one the person is in
    (the rule: `workforce.selectors.teams.team_admits`)."""
    return team_admits(user_id, limits=project_team_limits())


def project_requirements_unmet(user_id: Any) -> QuerySet[ProjectRequirement]:
    """The requirements of the project (outer row) the person does not meet
    (the rule: `workforce.selectors.teams.skill_requirement_met`)."""
    return ProjectRequirement.objects.filter(project_id=OuterRef("pk")).filter(
        ~skill_requirement_met(user_id)
    )


def project_requirements_met(user_id: Any) -> Q:
    """The person meets every requirement of the project (outer row); none is met trivially."""
    return ~Q(Exists(project_requirements_unmet(user_id)))


def projects_managed_by(user: Any) -> QuerySet[Project]:
    """Projects this user may configure, import into and export from: every project for an
    administrator; for a manager, those open to every team or limited to one of theirs."""
    projects = Project.objects.select_related("customer", "required_skill")
    if is_labeling_staff(user):
        if sees_every_team(user):
            return projects
        return projects.filter(team_limit_visible_to_manager(user, limits=project_team_limits()))
    if is_customer_user(user):
        return projects.filter(customer__members__user_id=user.pk)
    return projects.none()


def project_takes_work() -> Q:
    """A project hands out work: it is active and made for work (on Project). Training modules
    and tests never hand out work through the queue: their attempts serve their items
    (labeling.services.checks), which a person may see again in a later attempt."""
    return Q(status=ProjectStatus.ACTIVE, purpose=ProjectPurpose.WORK)


@dataclass(frozen=True)
class WorkScope:
    """What the access policy lets a person reach for work of a kind ("annotate" or "review"),
    as a value: people with equal scopes reach the same projects (`projects_in_scope`), so the
    claim may keep one compiled statement per scope."""

    kind: str
    allowed: bool


def work_scope(user: Any, kind: str) -> WorkScope:
    """The person's scope for `kind` work: annotators and reviewers may work, reviewers review."""
    if kind == "review":
        return WorkScope(kind, Role.REVIEWER in user_roles(user))
    return WorkScope(kind, is_worker(user))


def projects_in_scope(scope: WorkScope) -> QuerySet[Project]:
    """Projects a scope reaches, whatever their status. Every claim is built on this queryset,
    so a rule added here holds for every claim on every database; what it depends on must be
    in `WorkScope`."""
    if not scope.allowed:
        return Project.objects.none()
    return Project.objects.all()


def projects_open_to_worker(user: Any) -> QuerySet[Project]:
    """Projects an annotator may reach for work, whatever their status."""
    return projects_in_scope(work_scope(user, "annotate"))


def projects_workable_by(user: Any) -> QuerySet[Project]:
    """Active projects an annotator may open: not limited to other teams, and whose requirements
    they meet (their status and main skill are checked at claim time)."""
    return (
        projects_open_to_worker(user)
        .select_related("required_skill")
        .filter(project_takes_work())
        .filter(project_admits_team_of(user.pk), project_requirements_met(user.pk))
    )


def projects_open_to_reviewer(user: Any) -> QuerySet[Project]:
    """Projects a reviewer may reach for review work, whatever their status."""
    return projects_in_scope(work_scope(user, "review"))


def projects_reviewable_by(user: Any) -> QuerySet[Project]:
    """Active projects a reviewer may review in (their level is checked at claim time)."""
    return (
        projects_open_to_reviewer(user)
        .select_related("required_skill")
        .filter(project_takes_work())
        .filter(project_admits_team_of(user.pk))
    )


def tasks_managed_by(user: Any) -> QuerySet[Task]:
    return Task.objects.filter(project__in=projects_managed_by(user))


def imports_managed_by(user: Any) -> QuerySet[ImportJob]:
    return ImportJob.objects.filter(project__in=projects_managed_by(user)).select_related("project")


def exports_managed_by(user: Any) -> QuerySet[ExportJob]:
    return ExportJob.objects.filter(project__in=projects_managed_by(user)).select_related("project")
