from __future__ import annotations

import time
from typing import Any

from allauth.account import app_settings as account_settings
from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.internal.flows.login import get_authentication_records
from allauth.core import context
from django import forms
from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

from accounts.selectors import user_has_mfa
from accounts.signin_throttle import signin_failed, signin_succeeded, signin_wait_seconds
from core.net import client_address


def _login_of(credentials: dict[str, Any]) -> str:
    return str(credentials.get("email") or credentials.get("username") or "")


class AccountAdapter(DefaultAccountAdapter):
    def get_client_ip(self, request: HttpRequest) -> str:
        """The client's address as the proxies Quorum trusts report it (`TRUSTED_PROXY_COUNT`).

        allauth's own rate limits (sign-up, sign-in, second-factor codes) count by it too.
        """
        address = client_address(request.META)
        if address is None:
            raise PermissionDenied("Unable to determine the client's address.")
        return str(address)

    def pre_authenticate(self, request: HttpRequest, **credentials: Any) -> None:
        """Refuse a password attempt while its address must wait (accounts/signin_throttle.py).

        Replaces allauth's count of failures per account, which let anyone lock an account.
        """
        wait = signin_wait_seconds(
            login=_login_of(credentials), address=self.get_client_ip(request)
        )
        if wait:
            raise forms.ValidationError(
                f"Too many failed sign-ins from your network. Try again in {wait} seconds.",
                code="too_many_login_attempts",
            )

    def authenticate(self, request: HttpRequest, **credentials: Any) -> AbstractBaseUser | None:
        user: AbstractBaseUser | None = super().authenticate(request, **credentials)
        if user is not None:
            signin_succeeded(login=_login_of(credentials), address=self.get_client_ip(request))
        return user

    def authentication_failed(self, request: HttpRequest, **credentials: Any) -> None:
        signin_failed(login=_login_of(credentials), address=self.get_client_ip(request))

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
