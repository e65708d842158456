"""Portal pages for annotators' own profiles and managers' view of the workforce."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from accounts.decorators import require_action
from accounts.policy import Action
from accounts.selectors import request_user
from core.errors import QuorumError
from core.forms import form_add_error
from workforce.forms import ProfileForm, SkillCreateForm, SkillLevelForm, StatusForm
from workforce.models import Skill
from workforce.selectors import (
    annotator_profile_get,
    skill_levels_list,
    skills_with_counts,
    terms_acceptances_of,
)
from workforce.selectors.onboarding_steps import (
    journey_state_choices,
    journey_states,
    status_label,
)
from workforce.selectors.teams import profiles_managed_by
from workforce.services import (
    annotator_profile_update,
    annotator_status_set,
    annotator_trust_set,
    skill_create,
    skill_level_grant,
    skill_level_revoke,
)


@require_action(Action.PROFILE_EDIT_OWN)
@require_http_methods(["GET", "POST"])
def profile(request: HttpRequest) -> HttpResponse:
    own = annotator_profile_get(user=request.user)
    if own is None:
        raise Http404("You have no annotator profile.")
    initial = {"country": str(own.country), "time_zone": own.time_zone, "languages": own.languages}
    form = ProfileForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            annotator_profile_update(profile=own, actor=request_user(request), **form.cleaned_data)
        except QuorumError as exc:
            form_add_error(form, exc)
        else:
            messages.success(request, "Your profile is saved.")
            return redirect("workforce:profile")
    acceptances = terms_acceptances_of(user=request_user(request))
    return render(
        request,
        "workforce/profile.html",
        {"form": form, "profile": own, "acceptances": acceptances},
    )


@require_action(Action.PEOPLE_VIEW)
def people(request: HttpRequest) -> HttpResponse:
    profiles = profiles_managed_by(request.user)
    country = request.GET.get("country", "").upper()
    if country:
        profiles = profiles.filter(country=country)
    status = request.GET.get("status", "")
    if status in journey_states():
        profiles = profiles.filter(status=status)
    page = Paginator(profiles, 50).get_page(request.GET.get("page"))
    return render(
        request,
        "workforce/people.html",
        {"page": page, "country": country, "status": status, "statuses": journey_state_choices()},
    )


@require_action(Action.PEOPLE_MANAGE)
@require_http_methods(["GET", "POST"])
def person_detail(request: HttpRequest, user_id: int) -> HttpResponse:
    """One annotator: change their status (activate, suspend...) and their skill levels."""
    profile = get_object_or_404(profiles_managed_by(request.user), user_id=user_id)
    actor = request_user(request)
    op = request.POST.get("op")
    status_form = StatusForm(
        request.POST if op == "status" else None, initial={"status": profile.status}
    )
    skill_form = SkillLevelForm(request.POST if op == "skill" else None)
    if request.method == "POST":
        try:
            if op == "status" and status_form.is_valid():
                annotator_status_set(profile=profile, actor=actor, **status_form.cleaned_data)
                messages.success(
                    request, f"{profile.user.email} is now {status_label(profile.status).lower()}."
                )
                return redirect("workforce:person", user_id=user_id)
            if op == "trust":
                trusted = request.POST.get("is_trusted") == "1"
                annotator_trust_set(profile=profile, is_trusted=trusted, actor=actor)
                messages.success(
                    request,
                    f"{profile.user.email} is {'now' if trusted else 'no longer'} trusted.",
                )
                return redirect("workforce:person", user_id=user_id)
            if op == "skill" and skill_form.is_valid():
                skill_level_grant(user=profile.user, actor=actor, **skill_form.cleaned_data)
                messages.success(request, "Skill level saved.")
                return redirect("workforce:person", user_id=user_id)
            if op == "revoke-skill":
                skill = get_object_or_404(Skill, pk=request.POST.get("skill"))
                skill_level_revoke(user=profile.user, skill=skill, actor=actor)
                messages.success(request, f"{skill.name} removed.")
                return redirect("workforce:person", user_id=user_id)
        except QuorumError as exc:
            form_add_error(skill_form if op != "status" else status_form, exc)
    profile.refresh_from_db()
    levels = skill_levels_list(user=profile.user)
    return render(
        request,
        "workforce/person.html",
        {
            "profile": profile,
            "status_form": status_form,
            "skill_form": skill_form,
            "levels": levels,
        },
    )


@require_action(Action.PEOPLE_MANAGE)
@require_http_methods(["GET", "POST"])
def skills(request: HttpRequest) -> HttpResponse:
    """The skills projects can require; managers add new ones."""
    form = SkillCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            skill_create(actor=request_user(request), **form.cleaned_data)
        except QuorumError as exc:
            form_add_error(form, exc)
        else:
            messages.success(request, "Skill added.")
            return redirect("workforce:skills")
    rows = skills_with_counts()
    return render(request, "workforce/skills.html", {"form": form, "skills": rows})
