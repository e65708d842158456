from __future__ import annotations

from allauth.account.adapter import DefaultAccountAdapter
from django.conf import settings
from django.http import HttpRequest


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request: HttpRequest) -> bool:
        """Annotators sign themselves up unless the operator closes sign-up."""
        return bool(getattr(settings, "QUORUM_SIGNUP_OPEN", True))
