"""What labeling's portal pages share, and what pages built on its projects (quality's) use:
the access guard, the project lookup, the import batches to choose from, a task's result in words.

Every page reads through `labeling.policy`, so another customer's project, task, import or export
is "not found"; people who are neither labeling staff nor customer users are refused (403).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404

from labeling import policy
from labeling.models import ImportJob, ImportStatus, Project

View = Callable[..., HttpResponseBase]

# At most this many import batches are offered to choose from (newest first).
BATCH_CHOICES = 100
EXCERPT_CHARS = 120


def labeling_access(view: View) -> View:
    """Portal guard: sign-in first; then 403 for anyone neither labeling staff nor a customer user."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not (policy.is_labeling_staff(request.user) or policy.is_customer_user(request.user)):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return login_required(wrapped)


def project_for_request(request: HttpRequest, project_id: int) -> Project:
    return get_object_or_404(policy.projects_managed_by(request.user), pk=project_id)


def batches_for_request(request: HttpRequest, project: Project) -> list[ImportJob]:
    return list(
        policy.imports_managed_by(request.user)
        .filter(project=project, status=ImportStatus.SUCCEEDED, tasks_created__gt=0)
        .select_related(None)
        .only("id", "source")[:BATCH_CHOICES]
    )


def result_summary(result: Any) -> str:
    """Say a task's final result in a few words, for a list."""
    if result is None:
        return ""
    if isinstance(result, dict):
        if "label" in result:
            if result["label"] is None and result.get("tied"):
                return "tie: " + " / ".join(str(x) for x in result["tied"])
            return str(result["label"])
        if isinstance(result.get("labels"), list):
            return ", ".join(str(x) for x in result["labels"])
        for key, one in (("spans", "span"), ("boxes", "box")):
            if isinstance(result.get(key), list):
                n = len(result[key])
                return f"{n} {one if n == 1 else key}"
    return json.dumps(result, ensure_ascii=False)[:EXCERPT_CHARS]
