from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import reverse

from accounts.models import Role
from accounts.policy import Action, can
from accounts.selectors import user_has_role, user_roles


def navigation(request: HttpRequest) -> dict[str, Any]:
    """Give the base layout the sections this person's roles open, and their role names."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_items": [], "nav_roles": []}
    items: list[tuple[str, str]] = [("Home", reverse("home"))]
    if can(user, Action.WORK_LABEL):
        items.append(("Work", reverse("work:home")))
        items.append(("My work", reverse("work:history")))
        items.append(("My quality", reverse("quality:my_actions")))
        items.append(("My performance", reverse("dashboards:my_performance")))
        items.append(("Training", reverse("workforce:checks")))
    if can(user, Action.PROFILE_EDIT_OWN):
        items.append(("My profile", reverse("workforce:profile")))
        items.append(("Payout account", reverse("payments:payout_account")))
        items.append(("My payouts", reverse("payments:my_payouts")))
    if can(user, Action.PEOPLE_VIEW):
        items.append(("People", reverse("workforce:people")))
    if user_has_role(user, Role.CUSTOMER, Role.MANAGER, Role.ADMIN):
        items.append(("Projects", reverse("labeling:project_list")))
    if can(user, Action.PEOPLE_MANAGE):
        items.append(("Skills", reverse("workforce:skills")))
        items.append(("Quality rules", reverse("quality:rule_list")))
    if can(user, Action.USERS_MANAGE):
        items.append(("Users & roles", reverse("accounts:user_list")))
    if can(user, Action.LEDGER_VIEW):
        items.append(("Ledger", reverse("payments:ledger")))
    if can(user, Action.RATES_VIEW):
        items.append(("Rate cards", reverse("payments:rate_cards")))
    if can(user, Action.PAYOUT_ACCOUNTS_VIEW):
        items.append(("Payout accounts", reverse("payments:payout_accounts")))
    if can(user, Action.HOLDS_MANAGE):
        items.append(("Holds", reverse("payments:holds")))
    if can(user, Action.PROFILE_EDIT_OWN):
        items.append(("Earnings", reverse("payments:earnings")))
    if can(user, Action.INCENTIVES_MANAGE):
        items.append(("Incentives", reverse("payments:incentive_programs")))
    # Managers' header has room; administrators' is full (one line at laptop widths): they open
    # the page at /labour-cost/ (docs/incentives.md).
    if can(user, Action.LABOUR_COST_VIEW) and not can(user, Action.USERS_MANAGE):
        items.append(("Quality per cost", reverse("payments:labour_cost")))
    if can(user, Action.PAYOUT_RUNS_VIEW):
        items.append(("Payout runs", reverse("payments:payout_runs")))
    if can(user, Action.AUDIT_VIEW):
        items.append(("Audit trail", reverse("accounts:audit_list")))
    if can(user, Action.PERSONAL_DATA_ERASE):
        items.append(("Erasure requests", reverse("accounts:erasure_list")))
    if can(user, Action.TOKENS_MANAGE):
        items.append(("API tokens", reverse("accounts:token_list")))
        items.append(("API docs", reverse("api-docs")))
    if can(user, Action.USERS_MANAGE):
        items.append(("Django admin", reverse("admin:index")))
    # Administrators' navigation is full at laptop widths; they open /dashboards/ from Home.
    if can(user, Action.PEOPLE_VIEW) and not can(user, Action.USERS_MANAGE):
        items.append(("Overview", reverse("dashboards:overview")))
    if user_has_role(user, Role.CUSTOMER):
        items.append(("Dashboard", reverse("dashboards:customer")))
    roles = user_roles(user)
    labels = []
    for role in Role:
        if role in roles:
            level = roles[role]
            labels.append(f"{role.label} L{level}" if level else str(role.label))
    return {"nav_items": items, "nav_roles": labels}
