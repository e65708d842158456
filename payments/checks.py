"""System checks of payments: the key that encrypts bank details must be usable."""

from __future__ import annotations

from typing import Any

from django.core import checks
from django.core.exceptions import ImproperlyConfigured

from payments.crypto import details_encrypt


def payout_details_key_check(app_configs: Any, **kwargs: Any) -> list[checks.CheckMessage]:
    """Refuse to start without a valid PAYOUT_DETAILS_KEY (bank details could not be stored)."""
    try:
        details_encrypt({})
    except ImproperlyConfigured as exc:
        return [checks.Error(str(exc), id="payments.E001")]
    return []


def register() -> None:
    checks.register(payout_details_key_check, checks.Tags.security)
