"""Refuse portal pages and session API calls of a customer's users from outside its IP allowlist."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponseForbidden, JsonResponse
from django.urls import reverse
from django.utils.html import escape

from core.errors import error_body
from labeling.access import ip_allowlist_require
from labeling.errors import IpNotAllowed

# Signing out and static files stay reachable from anywhere; every other page is refused.
_EXEMPT_PREFIXES = ("/accounts/logout/", "/static/", "/healthz")


class CustomerIpAllowlistMiddleware:
    """Check the signed-in user of a session against their customer's IP allowlist.

    Runs after the authentication middleware. API calls with a token are checked by
    `labeling.api.authentication.AllowlistedTokenAuthentication` (DRF authenticates them later).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.user.is_authenticated and not request.path.startswith(_EXEMPT_PREFIXES):
            try:
                ip_allowlist_require(user=request.user, meta=request.META, path=request.path)
            except IpNotAllowed as refused:
                if request.path.startswith("/api/"):
                    body = error_body(refused.code, refused.message, refused.extra)
                    return JsonResponse(body, status=403)
                return HttpResponseForbidden(
                    "<!doctype html><title>Access refused</title>"
                    f"<h1>Access refused</h1><p>{escape(refused.message)}</p>"
                    f'<p><a href="{reverse("account_logout")}">Sign out</a></p>'
                )
        return self.get_response(request)
