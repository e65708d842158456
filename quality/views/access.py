"""The portal guard of the quality pages that only managers and administrators reach."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.http.response import HttpResponseBase

from quality.selectors import can_manage_quality

View = Callable[..., HttpResponseBase]


def quality_staff(view: View) -> View:
    """Portal guard: sign-in first; then 403 for anyone who is not a manager or administrator."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not can_manage_quality(request.user):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return login_required(wrapped)
