"""Portal pages of the actions quality rules took (namespace "quality").

Managers and administrators see every action with its evidence and lift one. Everyone signed in
sees the actions taken on them (with the evidence that is safe to show) and appeals one. Another
person's action is "not found".
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from accounts.selectors import request_user
from core.errors import QuorumError
from core.forms import form_add_error
from quality.forms import (
    AppealForm,
    LiftForm,
    RuleActionFilterForm,
)
from quality.models import (
    RuleAction,
    RuleActionState,
)
from quality.selectors import (
    can_manage_quality,
    evidence_visible_to,
    rule_actions_visible_to,
)
from quality.services import actions as action_services
from quality.views.access import quality_staff
from quality.wording import effect_text, rule_condition

ACTIONS_PER_PAGE = 50


@quality_staff
@require_GET
def action_list(request: HttpRequest) -> HttpResponse:
    form = RuleActionFilterForm(request.GET or None)
    actions = rule_actions_visible_to(request.user)
    if form.is_valid() and form.cleaned_data["state"]:
        actions = actions.filter(state=form.cleaned_data["state"])
    page = Paginator(actions, ACTIONS_PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "quality/rules/action_list.html", {"form": form, "page": page})


@login_required
@require_GET
def my_actions(request: HttpRequest) -> HttpResponse:
    """The actions quality rules took on the signed-in person, newest first."""
    actions = rule_actions_visible_to(request.user).filter(user=request_user(request))
    page = Paginator(actions, ACTIONS_PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "quality/rules/my_actions.html", {"page": page})


def _render_action(
    request: HttpRequest, action: RuleAction, *, appeal_form: Any = None, lift_form: Any = None
) -> HttpResponse:
    is_staff = can_manage_quality(request.user)
    evidence = evidence_visible_to(request.user, action)
    appeal = getattr(action, "appeal", None)
    may_appeal = (
        action.user_id == request.user.pk
        and action.state == RuleActionState.ACTIVE
        and appeal is None
    )
    return render(
        request,
        "quality/rules/action_detail.html",
        {
            "action": action,
            "appeal": appeal,
            "is_staff": is_staff,
            "evidence": evidence,
            "taken": [effect_text(entry) for entry in evidence.get("taken", [])],
            "condition": (
                f"A manager's decision: “{evidence['manager'].get('reason', '')}”"
                if "manager" in evidence
                else rule_condition(evidence.get("rule") or action.rule)
            ),
            "by_manager": "manager" in evidence,
            "may_appeal": may_appeal,
            "may_lift": is_staff and action.is_in_effect,
            "appeal_form": appeal_form or (AppealForm() if may_appeal else None),
            "lift_form": lift_form or LiftForm(),
        },
    )


def _action(request: HttpRequest, action_id: int) -> RuleAction:
    return get_object_or_404(rule_actions_visible_to(request.user), pk=action_id)


@login_required
@require_GET
def action_detail(request: HttpRequest, action_id: int) -> HttpResponse:
    return _render_action(request, _action(request, action_id))


@login_required
@require_POST
def action_appeal(request: HttpRequest, action_id: int) -> HttpResponse:
    """File the signed-in person's appeal against an action taken on them."""
    action = _action(request, action_id)
    form = AppealForm(request.POST)
    if form.is_valid():
        try:
            action_services.rule_action_appeal(
                action=action, user=request_user(request), reason=form.cleaned_data["reason"]
            )
        except QuorumError as exc:
            form_add_error(form, exc)
        else:
            messages.success(request, "Your appeal is filed; a manager will decide it.")
            return redirect("quality:action_detail", action_id=action.pk)
    return _render_action(request, action, appeal_form=form)


@quality_staff
@require_POST
def action_lift(request: HttpRequest, action_id: int) -> HttpResponse:
    """End an action now and restore what it took."""
    action = _action(request, action_id)
    form = LiftForm(request.POST)
    if form.is_valid():
        try:
            action_services.rule_action_lift(
                action=action, manager=request_user(request), note=form.cleaned_data["note"]
            )
        except QuorumError as exc:
            form_add_error(form, exc)
        else:
            messages.success(request, "The action is lifted and what it took is restored.")
            return redirect("quality:action_detail", action_id=action.pk)
    return _render_action(request, action, lift_form=form)
