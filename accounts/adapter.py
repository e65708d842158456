from __future__ import annotations

import time
from typing import Any

from allauth.account import app_settings as account_settings
from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.internal.flows.login import get_authentication_records
from allauth.core import context
from django.conf import settings
from django.http import HttpRequest

from accounts.selectors import user_has_mfa


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request: HttpRequest) -> bool:
        """Annotators sign themselves up unless the operator closes sign-up."""
        return bool(getattr(settings, "QUORUM_SIGNUP_OPEN", True))

    def is_reauthentication_required(self, *, app: str, **kwargs: Any) -> bool:
        """Skip the second password prompt when someone who just signed in sets up their first factor.

        Managers, finance and admins are sent to MFA set-up straight after signing in; asking
        for the password they typed seconds ago would add nothing. Changing an existing
        factor still asks again.
        """
        required = bool(super().is_reauthentication_required(app=app, **kwargs))
        request = self.request or context.request
        if not required or app != "allauth.mfa" or request is None:
            return required
        user = request.user
        if not user.is_authenticated or user_has_mfa(user):
            return required
        horizon = time.time() - account_settings.REAUTHENTICATION_TIMEOUT
        recent_password = any(
            record.get("method") == "password" and record.get("at", 0) >= horizon
            for record in get_authentication_records(request, user)
        )
        return not recent_password
