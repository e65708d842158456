"""Portal page of a person's tier as a manager sets it by hand (namespace "workforce").

The form is on the person's page (workforce/tiers/person_standing.html); it posts here. A person
outside the manager's teams is not found (404); administrators reach everyone.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import URLPattern, URLResolver, path
from django.views.decorators.http import require_POST

from accounts.decorators import require_action
from accounts.policy import Action
from accounts.selectors import request_user
from core.errors import QuorumError
from core.forms import form_add_error
from workforce.selectors.teams import people_managed_by
from workforce.selectors.tiers import tier_label
from workforce.services.tier_moves import tier_move
from workforce.tier_forms import TierMoveForm


@require_action(Action.PEOPLE_MANAGE)
@require_POST
def person_tier(request: HttpRequest, user_id: int) -> HttpResponse:
    """Move the person to the tier chosen, for the reason given; back to their page."""
    person = get_object_or_404(people_managed_by(request.user), pk=user_id)
    form = TierMoveForm(request.POST)
    if form.is_valid():
        try:
            tier_move(user=person, actor=request_user(request), **form.cleaned_data)
        except QuorumError as exc:
            form_add_error(form, exc)
        else:
            label = tier_label(form.cleaned_data["tier"])
            messages.success(request, f"{person.email} is now {label}; they are told why.")
            return redirect("workforce:person", user_id=person.pk)
    return render(
        request, "workforce/tiers/tier_form.html", {"person": person, "form": form}, status=400
    )


urlpatterns: list[URLPattern | URLResolver] = [
    path("people/<id:user_id>/tier/", person_tier, name="person_tier"),
]
