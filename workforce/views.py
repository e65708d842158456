"""Portal pages for annotators' own profiles and managers' view of the workforce."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from accounts.decorators import require_action
from accounts.policy import Action, users_visible_to
from accounts.selectors import request_user
from core.errors import QuorumError
from core.forms import form_add_error
from workforce.forms import ProfileForm
from workforce.selectors import annotator_profile_get, annotator_profiles_for, terms_acceptances_of
from workforce.services import annotator_profile_update


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
    profiles = annotator_profiles_for(users_visible_to(request.user))
    country = request.GET.get("country", "").upper()
    if country:
        profiles = profiles.filter(country=country)
    page = Paginator(profiles, 50).get_page(request.GET.get("page"))
    return render(request, "workforce/people.html", {"page": page, "country": country})
