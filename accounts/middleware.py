"""Send managers, finance and admins to set up MFA before they can do anything else."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.urls import reverse

from accounts.policy import roles_require_mfa
from accounts.selectors import user_has_mfa
from core.errors import error_body

MFA_REQUIRED_MESSAGE = (
    "Set up two-factor authentication before using Quorum; your role requires it."
)

# Paths a person without MFA may still reach: the MFA set-up itself (and the password check
# allauth asks for before it), signing out, e-mail verification, static files, the health check.
_EXEMPT_PREFIXES = (
    "/accounts/2fa/",
    "/accounts/reauthenticate/",
    "/accounts/logout/",
    "/accounts/confirm-email/",
    "/static/",
    "/healthz",
)


def mfa_setup_url() -> str:
    return reverse("mfa_activate_totp")


class MfaRequiredMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if (
            user.is_authenticated
            and not request.path.startswith(_EXEMPT_PREFIXES)
            and roles_require_mfa(user)
            and not user_has_mfa(user)
        ):
            if request.path.startswith("/api/"):
                body = error_body(
                    "mfa_required", MFA_REQUIRED_MESSAGE, {"setup_url": mfa_setup_url()}
                )
                return JsonResponse(body, status=403)
            messages.warning(request, MFA_REQUIRED_MESSAGE)
            return HttpResponseRedirect(f"{mfa_setup_url()}?next={request.get_full_path()}")
        return self.get_response(request)
