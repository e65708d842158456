"""Portal pages of the quality rules (namespace "quality").

Managers and administrators list, create and change rules, dry-run them, see every action with
its evidence, lift actions and decide appeals. Everyone signed in sees the actions taken on them
(with the evidence that is safe to show) and appeals one. Another person's action is "not found".
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.selectors import request_user
from core.errors import QuorumError
from core.forms import form_add_error
from labeling import policy
from quality import services as rule_services
from quality.forms import (
    AppealDecideForm,
    AppealForm,
    LiftForm,
    QualityRuleForm,
    RuleActionFilterForm,
)
from quality.models import (
    AppealStatus,
    QualityRule,
    RuleAction,
    RuleActionState,
    RuleMetric,
)
from quality.selectors import (
    appeals_visible_to,
    can_manage_quality,
    evidence_visible_to,
    quality_rules_visible_to,
    rule_actions_visible_to,
)

View = Callable[..., HttpResponseBase]

RULES_PER_PAGE = 50
ACTIONS_PER_PAGE = 50
APPEALS_PER_PAGE = 25


def quality_staff(view: View) -> View:
    """Portal guard: sign-in first; then 403 for anyone who is not a manager or administrator."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not can_manage_quality(request.user):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return login_required(wrapped)


def _number(value: float) -> str:
    return f"{value:g}"


def rule_condition(rule: QualityRule | dict[str, Any]) -> str:
    """Say a rule's condition in words, e.g. “Gold accuracy < 0.6 over the last 20 items (10+)”."""

    def get(name: str) -> Any:
        return rule.get(name) if isinstance(rule, dict) else getattr(rule, name)

    metric = get("metric")
    label = RuleMetric(metric).label if metric in RuleMetric.values else str(metric)
    symbol = {"lt": "<", "lte": "≤", "gt": ">", "gte": "≥"}.get(get("comparator"), "?")
    if metric == RuleMetric.SUBMISSIONS_24H:
        window = "in the last 24 hours"
    elif get("window_kind") == "days":
        window = f"over the last {get('window_size')} days"
    else:
        window = f"over the last {get('window_size')} items"
    fast = f" (answers under {get('fast_answer_seconds')} s)" if get("fast_answer_seconds") else ""
    return (
        f"{label}{fast} {symbol} {_number(get('threshold'))} {window}, "
        f"once at least {get('min_sample')} are seen"
    )


def rule_consequence(rule: QualityRule) -> str:
    """Say what a rule does, e.g. “Suspend from the project for 24 h”."""
    what = rule.get_action_display()
    if rule.gold_rate is not None:
        what += f" to {_number(rule.gold_rate)}"
    duration = f"for {rule.duration_hours} h" if rule.duration_hours else "until lifted"
    return f"{what}, {duration}" if rule.action != "notify" else what


def _when(value: str | None) -> str:
    return datetime.fromisoformat(value).strftime("%Y-%m-%d %H:%M") if value else ""


def effect_text(entry: dict[str, Any]) -> str:
    """Say one effect an action took, and what it was before, in words."""
    effect: Any = entry.get("effect")
    before: Any = entry.get("before")
    value: Any = entry.get("set")
    where = f" in project #{entry.get('project')}" if entry.get("project") else ""
    if effect == "gold_rate_override":
        was = _number(before) if before is not None else "the project's rate"
        return f"Gold rate{where} set to {_number(value)} (was {was})"
    if effect == "needs_retraining":
        return f"Retraining required{where} (was {'required' if before else 'not required'})"
    if effect == "suspension":
        until = _when(value.get("suspended_until")) if value else ""
        was = "suspended" if before and before.get("is_suspended") else "not suspended"
        return f"Suspended{where} {f'until {until} UTC' if until else 'until lifted'} (was {was})"
    if effect == "status":
        return f"Account status set to {value} (was {before})"
    if effect == "skill":
        skill = f"skill #{entry.get('skill')}"
        if before is None:
            return f"No level in {skill} to remove"
        return f"Level {before} in {skill} removed"
    return str(entry)


def _rule_projects(request: HttpRequest) -> Any:
    return policy.projects_managed_by(request.user).select_related(None).order_by("name", "pk")


# --- Rules --------------------------------------------------------------------------------------


@quality_staff
@require_GET
def rule_list(request: HttpRequest) -> HttpResponse:
    page = Paginator(quality_rules_visible_to(request.user), RULES_PER_PAGE).get_page(
        request.GET.get("page")
    )
    rows = [(rule, rule_condition(rule), rule_consequence(rule)) for rule in page]
    pending = appeals_visible_to(request.user).filter(status=AppealStatus.PENDING).count()
    return render(
        request,
        "quality/rules/rule_list.html",
        {"page": page, "rows": rows, "pending_appeals": pending},
    )


@quality_staff
@require_http_methods(["GET", "POST"])
def rule_create(request: HttpRequest) -> HttpResponse:
    form = QualityRuleForm(request.POST or None, projects=_rule_projects(request))
    if request.method == "POST" and form.is_valid():
        try:
            rule = rule_services.rule_create(actor=request_user(request), **form.rule_values())
        except QuorumError as exc:
            form_add_error(form, exc)
        else:
            messages.success(request, f"Rule “{rule.name}” is saved.")
            return redirect("quality:rule_dry_run", rule_id=rule.pk)
    return render(request, "quality/rules/rule_form.html", {"form": form, "rule": None})


@quality_staff
@require_http_methods(["GET", "POST"])
def rule_edit(request: HttpRequest, rule_id: int) -> HttpResponse:
    rule = get_object_or_404(quality_rules_visible_to(request.user), pk=rule_id)
    form = QualityRuleForm(request.POST or None, projects=_rule_projects(request), rule=rule)
    if request.method == "POST" and form.is_valid():
        try:
            rule_services.rule_update(rule=rule, actor=request_user(request), **form.rule_values())
        except QuorumError as exc:
            form_add_error(form, exc)
        else:
            messages.success(request, "The rule is saved; actions already taken are unchanged.")
            return redirect("quality:rule_list")
    return render(request, "quality/rules/rule_form.html", {"form": form, "rule": rule})


@quality_staff
@require_POST
def rule_deactivate(request: HttpRequest, rule_id: int) -> HttpResponse:
    rule = get_object_or_404(quality_rules_visible_to(request.user), pk=rule_id)
    rule_services.rule_deactivate(rule=rule, actor=request_user(request))
    messages.success(
        request,
        f"Rule “{rule.name}” is off; the actions it took stay until they end or are lifted.",
    )
    return redirect("quality:rule_list")


@quality_staff
@require_GET
def rule_dry_run(request: HttpRequest, rule_id: int) -> HttpResponse:
    """Whom the rule would hit on the data as it is now, with their values; nothing changes."""
    rule = get_object_or_404(quality_rules_visible_to(request.user), pk=rule_id)
    hits = rule_services.rule_dry_run(rule=rule)
    return render(
        request,
        "quality/rules/dry_run.html",
        {
            "rule": rule,
            "condition": rule_condition(rule),
            "consequence": rule_consequence(rule),
            "hits": hits,
            "would_hit": sum(1 for hit in hits if hit.would_fire),
        },
    )


# --- Actions ------------------------------------------------------------------------------------


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
            "condition": rule_condition(evidence.get("rule") or action.rule),
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
            rule_services.rule_action_appeal(
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
            rule_services.rule_action_lift(
                action=action, manager=request_user(request), note=form.cleaned_data["note"]
            )
        except QuorumError as exc:
            form_add_error(form, exc)
        else:
            messages.success(request, "The action is lifted and what it took is restored.")
            return redirect("quality:action_detail", action_id=action.pk)
    return _render_action(request, action, lift_form=form)


# --- Appeals ------------------------------------------------------------------------------------


def _render_appeals(
    request: HttpRequest, *, bound: dict[int, AppealDecideForm] | None = None
) -> HttpResponse:
    show = request.GET.get("status", AppealStatus.PENDING)
    appeals = appeals_visible_to(request.user)
    if show in AppealStatus.values:
        appeals = appeals.filter(status=show)
    page = Paginator(appeals, APPEALS_PER_PAGE).get_page(request.GET.get("page"))
    rows = []
    for appeal in page:
        form = (bound or {}).get(appeal.pk) or AppealDecideForm()
        form.auto_id = f"appeal-{appeal.pk}-%s"
        rows.append((appeal, evidence_visible_to(request.user, appeal.action), form))
    return render(
        request,
        "quality/rules/appeal_list.html",
        {"page": page, "rows": rows, "show": show, "statuses": AppealStatus.choices},
        status=400 if bound else 200,
    )


@quality_staff
@require_GET
def appeal_list(request: HttpRequest) -> HttpResponse:
    """Pending appeals, oldest first, each with its evidence and a form to decide it."""
    return _render_appeals(request)


@quality_staff
@require_POST
def appeal_decide(request: HttpRequest, appeal_id: int) -> HttpResponse:
    """Uphold (reverse the action, restore what it took) or reject an appeal (with a note)."""
    appeal = get_object_or_404(appeals_visible_to(request.user), pk=appeal_id)
    form = AppealDecideForm(request.POST)
    if form.is_valid():
        uphold = form.cleaned_data["decision"] == "uphold"
        try:
            rule_services.appeal_decide(
                appeal=appeal,
                manager=request_user(request),
                uphold=uphold,
                note=form.cleaned_data["note"],
            )
        except QuorumError as exc:
            form_add_error(form, exc)
        else:
            outcome = "upheld: the action is reversed" if uphold else "rejected: the action stands"
            messages.success(request, f"Appeal #{appeal.pk} is {outcome}.")
            return redirect(reverse("quality:appeal_list"))
    return _render_appeals(request, bound={appeal.pk: form})
