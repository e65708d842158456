"""Portal pages of training modules and qualification tests.

`checks/`: the signed-in annotator's checks per skill, with start or continue buttons (the start
is labeling's `work:check_start`, which draws the items) and their history. `checks/manage/`:
managers create checks and edit their rules.
"""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import URLPattern, URLResolver, path
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from accounts.decorators import require_action
from accounts.policy import Action
from accounts.selectors import request_user
from core.errors import QuorumError
from core.forms import form_add_error
from workforce.models import CheckKind, Skill, SkillCheck
from workforce.selectors.checks import attempts_of, checks_for_person, skill_checks_list
from workforce.services.checks import skill_check_create, skill_check_update


class SkillCheckForm(forms.Form):
    skill = forms.ModelChoiceField(queryset=Skill.objects.order_by("name"), to_field_name="slug")
    kind = forms.ChoiceField(choices=CheckKind.choices)
    name = forms.CharField(max_length=150)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    pass_mark = forms.FloatField(initial=0.8, help_text="Training: the share of the score needed.")
    items_per_attempt = forms.IntegerField(required=False, help_text="Empty: every item.")
    stratify_by_label = forms.BooleanField(required=False)
    time_limit_seconds = forms.IntegerField(required=False, help_text="Empty: no limit.")
    max_attempts = forms.IntegerField(required=False, help_text="Empty: no limit.")
    cooldown_seconds = forms.IntegerField(initial=0)
    level_map = forms.CharField(
        required=False,
        initial="[]",
        help_text="Tests: [[min_score, level], ...], e.g. [[0.8, 1], [0.92, 2]].",
    )
    is_active = forms.BooleanField(required=False, initial=True)

    def clean_level_map(self) -> Any:
        raw = self.cleaned_data["level_map"].strip() or "[]"
        try:
            return json.loads(raw)
        except ValueError:
            raise forms.ValidationError("Write the map as JSON, e.g. [[0.8, 1]].") from None


def _initial(check: SkillCheck) -> dict[str, Any]:
    return {
        "skill": check.skill.slug,
        "kind": check.kind,
        "name": check.name,
        "description": check.description,
        "pass_mark": check.pass_mark,
        "items_per_attempt": check.items_per_attempt,
        "stratify_by_label": check.stratify_by_label,
        "time_limit_seconds": check.time_limit_seconds,
        "max_attempts": check.max_attempts,
        "cooldown_seconds": check.cooldown_seconds,
        "level_map": json.dumps(check.level_map),
        "is_active": check.is_active,
    }


@require_action(Action.WORK_LABEL)
@require_GET
def checks(request: HttpRequest) -> HttpResponse:
    """The person's training modules and tests per skill, and their attempts."""
    user = request_user(request)
    rows = checks_for_person(user=user, now=timezone.now())
    by_skill: dict[str, list[Any]] = {}
    for row in rows:
        by_skill.setdefault(row.check.skill.name, []).append(row)
    return render(
        request,
        "workforce/checks/checks.html",
        {"by_skill": by_skill, "history": attempts_of(user=user)[:50]},
    )


@require_action(Action.PEOPLE_MANAGE)
@require_http_methods(["GET", "POST"])
def checks_manage(request: HttpRequest) -> HttpResponse:
    """Every check, and a form to create one (managers)."""
    form = SkillCheckForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            skill_check_create(actor=request_user(request), **form.cleaned_data)
        except QuorumError as exc:
            form_add_error(form, exc)
        else:
            messages.success(
                request, "Check created. Give it a training or test project with its items."
            )
            return redirect("workforce:checks_manage")
    return render(
        request,
        "workforce/checks/manage.html",
        {"form": form, "checks": skill_checks_list(include_inactive=True)},
    )


@require_action(Action.PEOPLE_MANAGE)
@require_http_methods(["GET", "POST"])
def check_edit(request: HttpRequest, check_id: int) -> HttpResponse:
    """Edit one check's rules (managers)."""
    check = get_object_or_404(skill_checks_list(include_inactive=True), pk=check_id)
    form = SkillCheckForm(request.POST or None, initial=_initial(check))
    if request.method == "POST" and form.is_valid():
        try:
            skill_check_update(check=check, actor=request_user(request), **form.cleaned_data)
        except QuorumError as exc:
            form_add_error(form, exc)
        else:
            messages.success(request, "Check saved.")
            return redirect("workforce:checks_manage")
    return render(request, "workforce/checks/edit.html", {"form": form, "check": check})


urlpatterns: list[URLPattern | URLResolver] = [
    path("checks/", checks, name="checks"),
    path("checks/manage/", checks_manage, name="checks_manage"),
    path("checks/<id:check_id>/edit/", check_edit, name="check_edit"),
]
