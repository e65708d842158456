"""Portal pages of the onboarding journey: the checklist, the approval queue, where applicants are stuck."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import URLPattern, URLResolver, path
from django.views.decorators.http import require_GET, require_http_methods

from accounts.decorators import require_action
from accounts.policy import Action, can
from accounts.selectors import request_user
from core.errors import QuorumError
from core.forms import form_add_error
from workforce.models import AnnotatorProfile
from workforce.selectors.onboarding import (
    approval_queue,
    journey_events_of,
    onboarding_checklist,
    onboarding_summary,
)
from workforce.selectors.teams import people_placeable_by
from workforce.services.onboarding import (
    journey_approve,
    journey_decline,
    journey_offboard,
    journey_reinstate,
    journey_reonboard,
    journey_suspend,
)

HISTORY_SHOWN = 50
APPROVALS_SHOWN = 100


class DecisionForm(forms.Form):
    reason = forms.CharField(required=False, max_length=300, help_text="The person sees it.")


class MoveForm(forms.Form):
    move = forms.ChoiceField(
        choices=[
            ("suspend", "Suspend"),
            ("reinstate", "Reinstate (back to where they were)"),
            ("offboard", "Offboard"),
            ("reonboard", "Re-onboard (start the journey again)"),
        ]
    )
    reason = forms.CharField(required=False, max_length=300, help_text="The person sees it.")


MOVES: dict[str, Callable[..., Any]] = {
    "suspend": journey_suspend,
    "reinstate": journey_reinstate,
    "offboard": journey_offboard,
    "reonboard": journey_reonboard,
}


@login_required
@require_GET
def journey(request: HttpRequest) -> HttpResponse:
    """The person's own journey: the checklist and every move, with why."""
    user = request_user(request)
    checklist = onboarding_checklist(user=user)
    if checklist is None:
        raise Http404("You have no annotator profile.")
    return render(
        request,
        "workforce/onboarding/journey.html",
        {"checklist": checklist, "events": journey_events_of(user=user)[:HISTORY_SHOWN]},
    )


@require_action(Action.PEOPLE_VIEW)
@require_http_methods(["GET", "POST"])
def manage(request: HttpRequest) -> HttpResponse:
    """Where applicants wait (counts per state, the longest waiting) and the approval queue."""
    users = people_placeable_by(request.user)
    form = DecisionForm(request.POST or None)
    if request.method == "POST":
        if not can(request.user, Action.PEOPLE_MANAGE):
            raise PermissionDenied
        profile = get_object_or_404(
            AnnotatorProfile.objects.select_related("user"),
            user__in=users,
            user_id=request.POST.get("user_id", "").strip() or 0,
        )
        decision = request.POST.get("decision")
        if form.is_valid() and decision in ("approve", "decline"):
            try:
                if decision == "approve":
                    journey_approve(
                        profile=profile, actor=request_user(request), **form.cleaned_data
                    )
                else:
                    journey_decline(
                        profile=profile, actor=request_user(request), **form.cleaned_data
                    )
            except QuorumError as exc:
                form_add_error(form, exc)
            else:
                done = "approved" if decision == "approve" else "declined"
                messages.success(request, f"{profile.user.email} {done}.")
                return redirect("workforce:onboarding_manage")
    return render(
        request,
        "workforce/onboarding/manage.html",
        {
            "summary": onboarding_summary(users=users),
            "approvals": approval_queue(users=users)[:APPROVALS_SHOWN],
            "form": form,
            "may_manage": can(request.user, Action.PEOPLE_MANAGE),
        },
    )


@require_action(Action.PEOPLE_VIEW)
@require_http_methods(["GET", "POST"])
def person(request: HttpRequest, user_id: int) -> HttpResponse:
    """One person's journey as their managers see it, with the moves a manager may make."""
    profile = get_object_or_404(
        AnnotatorProfile.objects.select_related("user"),
        user__in=people_placeable_by(request.user),
        user_id=user_id,
    )
    form = MoveForm(request.POST or None)
    if request.method == "POST":
        if not can(request.user, Action.PEOPLE_MANAGE):
            raise PermissionDenied
        if form.is_valid():
            move = MOVES[form.cleaned_data["move"]]
            try:
                move(
                    profile=profile,
                    actor=request_user(request),
                    reason=form.cleaned_data["reason"],
                )
            except QuorumError as exc:
                form_add_error(form, exc)
            else:
                messages.success(request, "Done.")
                return redirect("workforce:onboarding_person", user_id=user_id)
    return render(
        request,
        "workforce/onboarding/person.html",
        {
            "profile": profile,
            "checklist": onboarding_checklist(user=profile.user),
            "events": journey_events_of(user=profile.user)[:HISTORY_SHOWN],
            "form": form,
            "may_manage": can(request.user, Action.PEOPLE_MANAGE),
        },
    )


urlpatterns: list[URLPattern | URLResolver] = [
    path("onboarding/", journey, name="onboarding"),
    path("onboarding/manage/", manage, name="onboarding_manage"),
    path("onboarding/people/<id:user_id>/", person, name="onboarding_person"),
]
