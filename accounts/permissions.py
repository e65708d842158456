from __future__ import annotations

from typing import Any

from rest_framework import exceptions
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from accounts.middleware import MFA_REQUIRED_MESSAGE, mfa_setup_url
from accounts.policy import roles_require_mfa
from accounts.selectors import user_has_mfa


class MfaRequired(exceptions.PermissionDenied):
    default_code = "mfa_required"


class MfaEnrolled(BasePermission):
    """Refuse API calls (token or session) from roles that need MFA until they have set it up."""

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if user.is_authenticated and roles_require_mfa(user) and not user_has_mfa(user):
            raise MfaRequired(
                {
                    "code": "mfa_required",
                    "message": MFA_REQUIRED_MESSAGE,
                    "setup_url": mfa_setup_url(),
                }
            )
        return True


class PolicyAllows(BasePermission):
    """Allow a view only to roles the policy gives its `policy_action` (a view attribute)."""

    def has_permission(self, request: Request, view: Any) -> bool:
        from accounts.policy import can

        action = getattr(view, "policy_action", None)
        if action is None:
            raise AssertionError(f"{view.__class__.__name__} sets no policy_action")
        return can(request.user, action)
