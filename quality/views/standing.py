"""Portal pages of probation and tier decisions: the candidates queue managers decide, and a
person's own standing page (their tier, what the next needs, their probation numbers, the
decisions about them). A candidate outside a manager's people is "not found"."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import URLPattern, URLResolver, path
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from accounts.decorators import require_action
from accounts.policy import Action
from accounts.selectors import request_user
from core.errors import QuorumError
from quality.forms import TierDecisionForm
from quality.selectors import standing_summary_of
from quality.services.standing import tier_candidates_compute
from workforce.models import CandidateState, TierCandidate
from workforce.selectors.teams import people_managed_by
from workforce.selectors.tiers import tier_candidates_for
from workforce.services.tiers import tier_candidate_approve, tier_candidate_decline

CANDIDATES_PER_PAGE = 50


def _candidate(request: HttpRequest, candidate_id: int) -> TierCandidate:
    return get_object_or_404(tier_candidates_for(people_managed_by(request.user)), pk=candidate_id)


@require_action(Action.PEOPLE_MANAGE)
@require_GET
def tier_candidates(request: HttpRequest) -> HttpResponse:
    """The queue: pending candidates oldest first, then the latest decided ones."""
    scoped = tier_candidates_for(people_managed_by(request.user))
    pending = scoped.filter(state=CandidateState.PENDING).order_by("computed_at", "pk")
    decided = scoped.filter(state__in=[CandidateState.APPROVED, CandidateState.DECLINED]).order_by(
        "-decided_at", "-pk"
    )[:20]
    page = Paginator(pending, CANDIDATES_PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "quality/standing/candidates.html",
        {"page": page, "decided": decided, "form": TierDecisionForm()},
    )


@require_action(Action.PEOPLE_MANAGE)
@require_POST
def tier_candidate_decide(request: HttpRequest, candidate_id: int, decision: str) -> HttpResponse:
    candidate = _candidate(request, candidate_id)
    form = TierDecisionForm(request.POST)
    if not form.is_valid():
        messages.error(request, "The note is too long (2,000 characters at most).")
        return redirect("quality:tier_candidates")
    note = form.cleaned_data["note"]
    try:
        if decision == "approve":
            tier_candidate_approve(candidate=candidate, actor=request_user(request), note=note)
            messages.success(request, f"{candidate.user.email} moves to {candidate.to_tier}.")
        else:
            tier_candidate_decline(candidate=candidate, actor=request_user(request), note=note)
            messages.success(request, f"The move of {candidate.user.email} is declined.")
    except QuorumError as exc:
        messages.error(request, exc.message)
    return redirect("quality:tier_candidates")


@require_action(Action.PEOPLE_MANAGE)
@require_POST
def tier_candidates_compute_now(request: HttpRequest) -> HttpResponse:
    outcome = tier_candidates_compute(now=timezone.now(), actor=request_user(request))
    messages.success(
        request,
        f"Computed for {outcome.people} people: {len(outcome.candidates)} candidates proposed.",
    )
    return redirect("quality:tier_candidates")


@login_required
@require_GET
def my_standing(request: HttpRequest) -> HttpResponse:
    summary = standing_summary_of(user=request_user(request), now=timezone.now())
    return render(request, "quality/standing/mine.html", {"standing": summary})


urlpatterns: list[URLPattern | URLResolver] = [
    path("quality/tier-candidates/", tier_candidates, name="tier_candidates"),
    path(
        "quality/tier-candidates/compute/",
        tier_candidates_compute_now,
        name="tier_candidates_compute",
    ),
    path(
        "quality/tier-candidates/<id:candidate_id>/approve/",
        tier_candidate_decide,
        {"decision": "approve"},
        name="tier_candidate_approve",
    ),
    path(
        "quality/tier-candidates/<id:candidate_id>/decline/",
        tier_candidate_decide,
        {"decision": "decline"},
        name="tier_candidate_decline",
    ),
    path("quality/mine/standing/", my_standing, name="my_standing"),
]
