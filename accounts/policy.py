"""Who may do what: the one place that answers it, and the querysets each person may see.

Views and API endpoints ask `can`/`require` and list through the `*_visible_to` functions;
they never filter by role themselves. Objects outside a person's scope are reported as not
found, so their existence does not leak.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import Any

from django.db.models import Q, QuerySet

from accounts.models import ApiToken, ErasureRequest, Role, User
from accounts.selectors import user_roles
from core.errors import PermissionDenied
from core.models import AuditEvent


class Action(StrEnum):
    PROFILE_EDIT_OWN = "profile.edit_own"
    WORK_LABEL = "work.label"
    PEOPLE_VIEW = "people.view"
    PEOPLE_MANAGE = "people.manage"
    USERS_MANAGE = "users.manage"
    AUDIT_VIEW = "audit.view"
    TOKENS_MANAGE = "tokens.manage"
    TOKEN_REVOKE = "token.revoke"  # noqa: S105  (an action name, not a secret)
    HEALTH_DETAILS_VIEW = "health.details_view"
    PERSONAL_DATA_ERASE = "personal_data.erase"
    LEDGER_VIEW = "ledger.view"
    RATES_VIEW = "rates.view"
    RATES_MANAGE = "rates.manage"
    STRIPE_EVENTS_MANAGE = "stripe_events.manage"
    PAYOUT_ACCOUNTS_VIEW = "payout_accounts.view"
    PAYOUT_PROVIDERS_MANAGE = "payout_providers.manage"
    HOLDS_MANAGE = "holds.manage"
    INCENTIVES_MANAGE = "incentives.manage"
    LABOUR_COST_VIEW = "labour_cost.view"
    PAYOUT_RUNS_VIEW = "payout_runs.view"
    PAYOUT_RUNS_MANAGE = "payout_runs.manage"


WORKFORCE_ROLES = frozenset({Role.ANNOTATOR, Role.REVIEWER})
STAFF_ROLES = frozenset({Role.MANAGER, Role.FINANCE, Role.ADMIN})

_ALLOWED_ROLES: dict[Action, frozenset[Role]] = {
    Action.PROFILE_EDIT_OWN: WORKFORCE_ROLES,
    Action.WORK_LABEL: WORKFORCE_ROLES,
    Action.PEOPLE_VIEW: frozenset({Role.MANAGER, Role.ADMIN}),
    Action.PEOPLE_MANAGE: frozenset({Role.MANAGER, Role.ADMIN}),
    Action.USERS_MANAGE: frozenset({Role.ADMIN}),
    Action.AUDIT_VIEW: frozenset({Role.ADMIN, Role.FINANCE}),
    Action.TOKENS_MANAGE: frozenset({Role.CUSTOMER, Role.MANAGER, Role.FINANCE, Role.ADMIN}),
    Action.TOKEN_REVOKE: frozenset({Role.CUSTOMER, Role.MANAGER, Role.FINANCE, Role.ADMIN}),
    # /healthz names hosts and workers: operations staff only, never customers or the workforce.
    Action.HEALTH_DETAILS_VIEW: STAFF_ROLES,
    Action.PERSONAL_DATA_ERASE: frozenset({Role.ADMIN}),
    # The ledger explorer and every account's balance: finance only (a person sees their own
    # balances through payments.policy, without this action).
    Action.LEDGER_VIEW: frozenset({Role.FINANCE}),
    # Rate cards: finance sets them; managers read those of the projects they manage.
    Action.RATES_VIEW: frozenset({Role.FINANCE, Role.MANAGER}),
    Action.RATES_MANAGE: frozenset({Role.FINANCE}),
    # The Stripe events received by webhook, their failures, and retrying them: finance, and
    # administrators who set the webhook up.
    Action.STRIPE_EVENTS_MANAGE: frozenset({Role.FINANCE, Role.ADMIN}),
    # Every person's payout account, masked (a person sees their own through payments.policy),
    # and the providers offered per country: finance only.
    Action.PAYOUT_ACCOUNTS_VIEW: frozenset({Role.FINANCE}),
    Action.PAYOUT_PROVIDERS_MANAGE: frozenset({Role.FINANCE}),
    # Held earnings (suspended people, open appeals, disputed tasks): finance lists them, releases
    # or forfeits them, and opens or closes disputes of tasks.
    Action.HOLDS_MANAGE: frozenset({Role.FINANCE}),
    # Incentive programs, their versions, previews and period closes: finance (a person sees
    # their own bonus lines through payments.views.earnings, without this action).
    Action.INCENTIVES_MANAGE: frozenset({Role.FINANCE}),
    # Label quality per cost: managers and administrators, over the projects they manage.
    Action.LABOUR_COST_VIEW: frozenset({Role.MANAGER, Role.ADMIN}),
    # Payout runs: finance reads every run and item, creates, approves (a second finance user),
    # cancels and retries them (the services also require MFA of everyone involved).
    Action.PAYOUT_RUNS_VIEW: frozenset({Role.FINANCE}),
    Action.PAYOUT_RUNS_MANAGE: frozenset({Role.FINANCE}),
}


def _token_owner_or_admin(user: User, token: Any) -> bool:
    return bool(token.user_id == user.pk or Role.ADMIN in user_roles(user))


_OBJECT_RULES: dict[Action, Callable[[User, Any], bool]] = {
    Action.TOKEN_REVOKE: _token_owner_or_admin,
}


def can(user: Any, action: Action, obj: Any = None) -> bool:
    """Answer whether `user` may do `action` (to `obj`, where the action concerns one object)."""
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    held = user_roles(user)
    if not any(role in held for role in _ALLOWED_ROLES[action]):
        return False
    rule = _OBJECT_RULES.get(action)
    return obj is None or rule is None or rule(user, obj)


def require(user: Any, action: Action, obj: Any = None) -> None:
    """Raise PermissionDenied unless `user` may do `action`."""
    if not can(user, action, obj):
        raise PermissionDenied()


def api_tokens_visible_to(user: Any) -> QuerySet[ApiToken]:
    """Admins see every token (to revoke a leaked one); everyone else only their own."""
    tokens = ApiToken.objects.select_related("user")
    if not can(user, Action.TOKENS_MANAGE):
        return tokens.none()
    if Role.ADMIN in user_roles(user):
        return tokens
    return tokens.filter(user_id=user.pk)


def users_visible_to(user: Any) -> QuerySet[User]:
    """Admins see everyone; managers see the workforce (annotators and reviewers) and
    themselves; everyone else only themselves."""
    users = User.objects.order_by("email")
    if can(user, Action.USERS_MANAGE):
        return users
    if can(user, Action.PEOPLE_VIEW):
        workforce = Q(role_grants__role__in=list(WORKFORCE_ROLES))
        return users.filter(workforce | Q(pk=user.pk)).distinct()
    return users.filter(pk=user.pk) if user.is_authenticated else users.none()


def audit_events_visible_to(user: Any) -> QuerySet[AuditEvent]:
    if not can(user, Action.AUDIT_VIEW):
        return AuditEvent.objects.none()
    return AuditEvent.objects.select_related("actor", "target_type")


def erasure_requests_visible_to(user: Any) -> QuerySet[ErasureRequest]:
    """Administrators see every erasure request; anyone else only their own."""
    requests = ErasureRequest.objects.select_related("user", "requested_by", "decided_by")
    if can(user, Action.PERSONAL_DATA_ERASE):
        return requests
    if not getattr(user, "is_authenticated", False):
        return requests.none()
    return requests.filter(user_id=user.pk)


def roles_require_mfa(user: Any) -> bool:
    """Managers, finance and admins must have a second factor before they do anything."""
    from django.conf import settings

    held = user_roles(user)
    return any(role in held for role in settings.QUORUM_MFA_REQUIRED_ROLES)
