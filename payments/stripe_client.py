"""The one place that makes a Stripe client: every call to Stripe goes through `stripe_client()`.

Settings (config/settings.py, docs/payouts-stripe.md): STRIPE_API_KEY (empty: Stripe is not used),
STRIPE_API_BASE (another server for every API address: the fake server of the tests, or a local
one), STRIPE_MAX_NETWORK_RETRIES, STRIPE_CONNECT_TIMEOUT_SECONDS, STRIPE_READ_TIMEOUT_SECONDS;
STRIPE_WEBHOOK_SECRET and STRIPE_WEBHOOK_TOLERANCE_SECONDS for verifying webhooks. Nothing here
touches the SDK's module-level configuration (`stripe.api_key` and friends): two clients with
different settings can live in one process, and the tests point theirs at the fake server.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

import stripe
from django.conf import settings

from core.errors import QuorumError

if TYPE_CHECKING:
    from stripe._base_address import BaseAddresses


class StripeNotConfigured(QuorumError):
    code = "stripe_not_configured"
    http_status = 400
    default_message = "Stripe is not configured: set STRIPE_API_KEY (see docs/payouts-stripe.md)."


def stripe_configured() -> bool:
    """Answer whether Stripe may be called (an API key is set)."""
    return bool(getattr(settings, "STRIPE_API_KEY", ""))


def stripe_webhook_configured() -> bool:
    """Answer whether webhooks can be verified (a signing secret is set)."""
    return bool(stripe_webhook_secrets())


def stripe_webhook_secrets() -> list[str]:
    """The signing secrets a webhook may be signed with: STRIPE_WEBHOOK_SECRET, comma-separated.

    Several, because Stripe gives each endpoint its own secret (one for the platform's events and
    one for connected accounts' events, both pointing at Quorum) and keeps an old secret valid for
    a while after it is rolled.
    """
    raw = str(getattr(settings, "STRIPE_WEBHOOK_SECRET", ""))
    return [secret.strip() for secret in raw.split(",") if secret.strip()]


def stripe_webhook_tolerance_seconds() -> int:
    return max(1, int(getattr(settings, "STRIPE_WEBHOOK_TOLERANCE_SECONDS", 300)))


@lru_cache(maxsize=8)
def _client(
    api_key: str,
    api_base: str,
    max_network_retries: int,
    connect_timeout: float,
    read_timeout: float,
) -> stripe.StripeClient:
    base_addresses: BaseAddresses | None = None
    if api_base:
        base = api_base.rstrip("/")
        base_addresses = {"api": base, "connect": base, "files": base}
    # The requests-based client keeps one connection pool per thread and takes separate connect
    # and read timeouts; its sessions are thread-local, so one cached client serves every thread.
    http_client = stripe.RequestsClient(timeout=(connect_timeout, read_timeout))
    return stripe.StripeClient(
        api_key,
        base_addresses=base_addresses,
        max_network_retries=max_network_retries,
        http_client=http_client,
    )


def stripe_client() -> stripe.StripeClient:
    """Return the Stripe client for the current settings (one per distinct configuration).

    Raises StripeNotConfigured when no API key is set. The SDK retries connection errors, 409s
    and 5xx answers itself, up to STRIPE_MAX_NETWORK_RETRIES times, with the same idempotency key.
    """
    if not stripe_configured():
        raise StripeNotConfigured()
    return _client(
        str(settings.STRIPE_API_KEY),
        str(getattr(settings, "STRIPE_API_BASE", "")),
        max(0, int(getattr(settings, "STRIPE_MAX_NETWORK_RETRIES", 2))),
        float(getattr(settings, "STRIPE_CONNECT_TIMEOUT_SECONDS", 5.0)),
        float(getattr(settings, "STRIPE_READ_TIMEOUT_SECONDS", 30.0)),
    )
