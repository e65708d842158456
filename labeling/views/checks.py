"""Portal pages of check attempts: starting one, and the labeling page serving its items.

The attempt page is the labeling page of real work (labeling/work/label.html and label.js) in
attempt mode: its data attributes point the script at the attempt's next and answer endpoints
instead of the queue's claim and submit.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import URLPattern, URLResolver, path, reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from accounts.selectors import request_user
from core.errors import QuorumError
from labeling.models import Project
from labeling.services.checks import check_attempt_begin, check_attempts_time_out
from labeling.work_views import _project_config, _require_worker
from workforce.models import AttemptState
from workforce.selectors.checks import attempt_of, skill_checks_list


@login_required
@require_POST
def check_start(request: HttpRequest, check_id: int) -> HttpResponse:
    """Start (or continue) the person's attempt at a check and open it."""
    _require_worker(request)
    check = get_object_or_404(skill_checks_list(), pk=check_id)
    try:
        attempt = check_attempt_begin(user=request_user(request), check=check, now=timezone.now())
    except QuorumError as exc:
        messages.error(request, exc.message)
        return redirect("workforce:checks")
    return redirect("work:attempt", attempt_id=attempt.pk)


@login_required
@require_GET
def attempt(request: HttpRequest, attempt_id: int) -> HttpResponse:
    """The labeling page in attempt mode for the person's own open attempt (anyone else's: 404)."""
    _require_worker(request)
    user = request_user(request)
    check_attempts_time_out(now=timezone.now(), user=user)
    own = attempt_of(user=user, attempt_id=attempt_id)
    if own is None:
        raise Http404("No attempt of yours has this id.")
    if own.state != AttemptState.OPEN:
        messages.info(request, f"That attempt is over ({own.get_state_display().lower()}).")
        return redirect("workforce:checks")
    project = get_object_or_404(Project, skill_check_id=own.check_ref_id)
    api = f"/api/v1/attempts/{own.pk}/"
    return render(
        request,
        "labeling/work/label.html",
        {
            "project": project,
            "config": {"project": _project_config(project), "urls": {}},
            "attempt": own,
            "attempt_urls": {
                "next": f"{api}next/",
                "answer": f"{api}answers/",
                "abandon": f"{api}abandon/",
                "after": reverse("workforce:checks"),
            },
        },
    )


urlpatterns: list[URLPattern | URLResolver] = [
    path("work/checks/<id:check_id>/start/", check_start, name="check_start"),
    path("work/attempts/<id:attempt_id>/", attempt, name="attempt"),
]
