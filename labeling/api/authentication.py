"""API token authentication that also applies the token owner's customer IP allowlist."""

from __future__ import annotations

from typing import Any

from rest_framework import exceptions
from rest_framework.request import Request

from accounts.authentication import ApiTokenAuthentication
from labeling.access import ip_allowlist_require
from labeling.errors import IpNotAllowed


class IpNotAllowedResponse(exceptions.PermissionDenied):
    default_code = IpNotAllowed.code


class AllowlistedTokenAuthentication(ApiTokenAuthentication):
    """`Authorization: Token <key>`, refused (403 `ip_not_allowed`) when the token's user is a
    customer's user calling from outside the customer's IP allowlist.

    The refusal is raised here, not in a permission class, because views choose their own
    permission classes but every view authenticates tokens with this class (settings).
    """

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        authenticated = super().authenticate(request)
        if authenticated is not None:
            try:
                ip_allowlist_require(user=authenticated[0], meta=request.META, path=request.path)
            except IpNotAllowed as refused:
                # DRF turns only its own exceptions raised while authenticating into responses.
                raise IpNotAllowedResponse(
                    {"code": refused.code, "message": refused.message, **refused.extra}
                ) from refused
        return authenticated
