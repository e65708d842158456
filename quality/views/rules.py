"""Portal pages of the quality rules (namespace "quality"): list, create, change, deactivate and
dry-run them. Managers and administrators only; anyone else is refused (403).
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.selectors import request_user
from core.errors import QuorumError
from core.forms import form_add_error
from labeling import policy
from quality.forms import QualityRuleForm
from quality.models import AppealStatus
from quality.selectors import (
    appeals_visible_to,
    quality_rules_editable_by,
    quality_rules_visible_to,
)
from quality.services import evaluation
from quality.services import rules as rule_services
from quality.views.access import quality_staff
from quality.wording import rule_condition, rule_consequence

RULES_PER_PAGE = 50


def _rule_projects(request: HttpRequest) -> Any:
    return policy.projects_managed_by(request.user).select_related(None).order_by("name", "pk")


@quality_staff
@require_GET
def rule_list(request: HttpRequest) -> HttpResponse:
    page = Paginator(quality_rules_visible_to(request.user), RULES_PER_PAGE).get_page(
        request.GET.get("page")
    )
    editable = set(
        quality_rules_editable_by(request.user)
        .filter(pk__in=[rule.pk for rule in page])
        .values_list("pk", flat=True)
    )
    rows = [
        (rule, rule_condition(rule), rule_consequence(rule), rule.pk in editable) for rule in page
    ]
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
    rule = get_object_or_404(quality_rules_editable_by(request.user), pk=rule_id)
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
    rule = get_object_or_404(quality_rules_editable_by(request.user), pk=rule_id)
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
    hits = evaluation.rule_dry_run(rule=rule)
    return render(
        request,
        "quality/rules/dry_run.html",
        {
            "rule": rule,
            "condition": rule_condition(rule),
            "consequence": rule_consequence(rule),
            "hits": hits,
            "would_hit": sum(1 for hit in hits if hit.would_fire),
            "editable": quality_rules_editable_by(request.user).filter(pk=rule.pk).exists(),
        },
    )
