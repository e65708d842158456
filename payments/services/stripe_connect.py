"""Stripe Connect: a person's Express connected account, its hosted onboarding, and keeping
Quorum's copy of its state current.

1. `stripe_connect_start` creates the connected account at Stripe (once per person: the
   idempotency key is the person's, and a stored account is reused) and stores it; the person's
   payout account is created for the Stripe provider if they had none.
2. `stripe_connect_onboarding_link` asks Stripe for an account link (type account_onboarding)
   that sends the person through Stripe's hosted onboarding and back to the portal's return page
   (or to the refresh page, which makes a new link, when the link expired).
3. `stripe_connected_account_refresh` (the return page) and the `account.updated` webhook handler
   re-fetch the account from Stripe and hand it to `stripe_connected_account_sync`, which never
   trusts the order events arrive in: it stores the account as Stripe shows it now.

The sync carries `StripeConnectedAccount.can_receive_transfers` (the one rule) into the person's
PayoutAccount status: ready (after the cooling-off period of a newly chosen way of being paid,
as for bank details) when payouts are enabled and the transfers capability is active, waiting
otherwise. The onboarding step and payout runs read that status only.
Stripe is called outside every transaction; locks: the person's PayoutAccount row
(payments.lock_objects.payout_account_lock), then their connected account row.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import stripe
from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from core.audit import audit_record
from core.errors import Conflict, NotFound, QuorumError, ValidationFailed
from kit.money import CURRENCY_EXPONENTS
from payments.lock_objects import payout_account_lock, stripe_connected_account_lock
from payments.models import (
    PayoutAccount,
    PayoutAccountEvent,
    PayoutAccountEventKind,
    PayoutAccountStatus,
    PayoutProvider,
    StripeConnectedAccount,
    StripeEvent,
)
from payments.selectors.payout_accounts import payout_providers_offered
from payments.selectors.stripe_connect import stripe_account_masked
from payments.services.stripe_events import stripe_event_handler_register
from payments.stripe_client import stripe_client
from workforce.services.onboarding import journey_refresh

S = PayoutAccountStatus
SYNCED_FIELDS = (
    "payouts_enabled",
    "details_submitted",
    "transfers_status",
    "currently_due",
    "past_due",
    "disabled_reason",
    "is_deleted",
)


class StripeUnavailable(QuorumError):
    """Stripe refused or did not answer a call; the message is Stripe's, for the person."""

    code = "stripe_unavailable"
    http_status = 502
    default_message = "Stripe did not answer; try again in a minute."


def _stripe_failed(exc: stripe.StripeError, doing: str) -> StripeUnavailable:
    said = exc.user_message or str(exc) or type(exc).__name__
    return StripeUnavailable(f"Stripe could not {doing}: {said}", extra={"stripe_code": exc.code})


def _disabled() -> Conflict:
    return Conflict(
        "Your payout account is disabled; ask finance to enable it again.",
        code="payout_account_disabled",
    )


def _idempotency_key(user: User) -> str:
    # One connected account per person: a repeated or concurrent start gets the same account
    # from Stripe (which keeps keys for 24 hours; after that the stored row is reused).
    return f"quorum-connect-account-{user.pk}"


def _checked_country_currency(country: str, currency: str) -> tuple[str, str]:
    country = (country or "").upper()
    currency = (currency or "").upper()
    if PayoutProvider.STRIPE_CONNECT not in payout_providers_offered(country):
        message = f"Stripe is not offered for accounts in {country or 'this country'}; choose another way to be paid."
        raise ValidationFailed(message, fields={"country": [message]})
    if currency not in CURRENCY_EXPONENTS:
        message = f"Choose a currency Quorum pays in ({', '.join(sorted(CURRENCY_EXPONENTS))})."
        raise ValidationFailed(message, fields={"currency": [message]})
    return country, currency


def _fields_from_stripe(current: dict[str, Any] | None) -> dict[str, Any]:
    """The stored fields of an account as Stripe returned it (None: Stripe no longer has it)."""
    if current is None:
        return {
            "payouts_enabled": False,
            "details_submitted": False,
            "transfers_status": "",
            "currently_due": [],
            "past_due": [],
            "disabled_reason": "deleted",
            "is_deleted": True,
        }
    requirements = current.get("requirements") or {}
    capabilities = current.get("capabilities") or {}
    return {
        "payouts_enabled": bool(current.get("payouts_enabled")),
        "details_submitted": bool(current.get("details_submitted")),
        "transfers_status": str(capabilities.get("transfers") or "")[:16],
        "currently_due": [str(x) for x in requirements.get("currently_due") or []],
        "past_due": [str(x) for x in requirements.get("past_due") or []],
        "disabled_reason": str(requirements.get("disabled_reason") or "")[:100],
        "is_deleted": False,
    }


def stripe_connect_start(
    *, user: User, country: str, currency: str, now: datetime | None = None
) -> StripeConnectedAccount:
    """Create (or reuse) the person's Express connected account and choose Stripe to be paid.

    Requests the transfers capability; the account is created once per person. Raises
    ValidationFailed naming `country` (Stripe not offered there) or `currency`, Conflict for a
    disabled payout account or an account already made for another country, StripeUnavailable
    when Stripe refuses or does not answer.
    """
    country, currency = _checked_country_currency(country, currency)
    if PayoutAccount.objects.filter(user_id=user.pk, status=S.DISABLED).exists():
        # Checked again under the lock; here so that no account is opened at Stripe for nothing.
        raise _disabled()
    existing = StripeConnectedAccount.objects.filter(user_id=user.pk).first()
    if existing is not None:
        if existing.country != country:
            message = (
                f"Your Stripe account is for {existing.country}; a Stripe account cannot change "
                "country. Ask finance to close it before opening one for another country."
            )
            raise ValidationFailed(message, fields={"country": [message]})
        return _chosen(user=user, currency=currency, now=now)
    try:
        created = stripe_client().v1.accounts.create(
            params={
                # An Express account: Stripe collects the requirements and the person sees the
                # Express dashboard; the platform pays the fees and carries losses.
                "controller": {
                    "stripe_dashboard": {"type": "express"},
                    "fees": {"payer": "application"},
                    "losses": {"payments": "application"},
                    "requirement_collection": "stripe",
                },
                "country": country,
                "email": user.email,
                "capabilities": {"transfers": {"requested": True}},
                "metadata": {"quorum_user": str(user.pk)},
            },
            options={"idempotency_key": _idempotency_key(user)},
        )
    except stripe.StripeError as exc:
        raise _stripe_failed(exc, "create your account") from exc
    return _store_created(
        user=user, country=country, currency=currency, current=created.to_dict(), now=now
    )


@transaction.atomic
def _store_created(
    *, user: User, country: str, currency: str, current: dict[str, Any], now: datetime | None
) -> StripeConnectedAccount:
    now = now or timezone.now()
    PayoutAccount.objects.get_or_create(
        user=user,
        defaults={
            "provider": PayoutProvider.STRIPE_CONNECT,
            "country": country,
            "currency": currency,
        },
    )
    account = payout_account_lock(user_id=user.pk)
    if account.status == S.DISABLED:
        raise _disabled()
    row, created = StripeConnectedAccount.objects.get_or_create(
        user=user,
        defaults={
            "payout_account": account,
            "stripe_account": str(current["id"]),
            "country": country,
            "currency": currency,
            "chosen_at": now,
            "synced_at": now,
            **_fields_from_stripe(current),
        },
    )
    if created:
        audit_record(
            actor=user,
            action="stripe_connect.account_created",
            target=row,
            after={"stripe_account": row.stripe_account, "country": country, "currency": currency},
        )
    return row


@transaction.atomic
def _chosen(*, user: User, currency: str, now: datetime | None) -> StripeConnectedAccount:
    """The person chose Stripe again (e.g. after bank details): note when, and the currency."""
    now = now or timezone.now()
    account = payout_account_lock(user_id=user.pk)
    if account.status == S.DISABLED:
        raise _disabled()
    stripe_account = StripeConnectedAccount.objects.values_list("stripe_account", flat=True).get(
        user_id=user.pk
    )
    row = stripe_connected_account_lock(stripe_account=stripe_account)
    row.chosen_at = now
    row.currency = currency
    row.save(update_fields=["chosen_at", "currency", "updated_at"])
    _apply_readiness(row, account, actor=user, now=now)
    return row


def _portal_url(name: str) -> str:
    return settings.SITE_URL.rstrip("/") + reverse(name)


def stripe_connect_onboarding_link(*, user: User) -> str:
    """Ask Stripe for a link to its hosted onboarding of the person's account; return its URL.

    The link brings the person back to the return page (which re-fetches the account) or, once
    expired, to the refresh page (which asks for a new link). Raises NotFound when the person has
    no connected account, StripeUnavailable when Stripe refuses or does not answer.
    """
    row = StripeConnectedAccount.objects.filter(user_id=user.pk).first()
    if row is None:
        raise NotFound("You have no Stripe account yet; start the set-up first.")
    try:
        link = stripe_client().v1.account_links.create(
            params={
                "account": row.stripe_account,
                "type": "account_onboarding",
                "refresh_url": _portal_url("payments:stripe_connect_refresh"),
                "return_url": _portal_url("payments:stripe_connect_return"),
            }
        )
    except stripe.StripeError as exc:
        raise _stripe_failed(exc, "open its set-up pages") from exc
    return str(link.url)


def stripe_connected_account_refresh(*, user: User) -> StripeConnectedAccount:
    """Re-fetch the person's connected account from Stripe and store it (the return page).

    Raises NotFound when the person has none, StripeUnavailable when Stripe does not answer.
    """
    row = StripeConnectedAccount.objects.filter(user_id=user.pk).first()
    if row is None:
        raise NotFound("You have no Stripe account yet; start the set-up first.")
    current: dict[str, Any] | None
    try:
        current = stripe_client().v1.accounts.retrieve(row.stripe_account).to_dict()
    except stripe.InvalidRequestError as exc:
        if exc.http_status != 404:
            raise _stripe_failed(exc, "show your account") from exc
        current = None
    except stripe.StripeError as exc:
        raise _stripe_failed(exc, "show your account") from exc
    synced = stripe_connected_account_sync(
        stripe_account=row.stripe_account, current=current, actor=user
    )
    assert synced is not None  # noqa: S101  (the row exists: rows are never deleted)
    return synced


@transaction.atomic
def stripe_connected_account_sync(
    *,
    stripe_account: str,
    current: dict[str, Any] | None,
    actor: User | None = None,
    now: datetime | None = None,
) -> StripeConnectedAccount | None:
    """Store a connected account as Stripe returned it now (`current`; None: Stripe no longer has
    it) and carry its readiness into the person's payout account status.

    Returns None for an account that is not a Quorum person's. Storing the same state twice
    changes nothing. Audited when anything changes. Locks the payout account, then the row.
    """
    now = now or timezone.now()
    user_id = (
        StripeConnectedAccount.objects.filter(stripe_account=stripe_account)
        .values_list("user_id", flat=True)
        .first()
    )
    if user_id is None:
        return None
    account = payout_account_lock(user_id=user_id)
    row = stripe_connected_account_lock(stripe_account=stripe_account)
    fields = _fields_from_stripe(current)
    before = {name: getattr(row, name) for name in SYNCED_FIELDS}
    changed = {name: value for name, value in fields.items() if before[name] != value}
    for name, value in fields.items():
        setattr(row, name, value)
    row.synced_at = now
    row.save(update_fields=[*SYNCED_FIELDS, "synced_at", "updated_at"])
    if changed:
        audit_record(
            actor=actor,
            action="stripe_connect.account_updated",
            target=row,
            before={name: before[name] for name in changed},
            after=changed,
        )
    _apply_readiness(row, account, actor=actor, now=now)
    return row


def _send_stripe_chosen_notice(masked: str, usable_from: datetime, email: str) -> None:
    send_mail(
        subject=f"{settings.ACCOUNT_EMAIL_SUBJECT_PREFIX}You are now paid through Stripe",
        message=(
            f"Your payouts now go to your {masked}. Payouts use it from "
            f"{usable_from:%Y-%m-%d %H:%M} UTC.\n"
            "If you did not make this change, tell support at once: no payout is made before then."
        ),
        from_email=None,
        recipient_list=[email],
    )


def _make_payment_method(
    row: StripeConnectedAccount,
    account: PayoutAccount,
    *,
    masked: str,
    actor: User | None,
    now: datetime,
) -> None:
    """The ready Stripe account becomes the person's way of being paid. It cools off as new bank
    details do, and the person is told by e-mail: someone who took over a login cannot redirect
    a payout before the person hears of it."""
    cooling = timedelta(hours=settings.QUORUM_PAYOUT_COOLING_OFF_HOURS)
    account.provider = PayoutProvider.STRIPE_CONNECT
    account.country = row.country
    account.currency = row.currency
    account.confirmed_at = now
    account.usable_from = now + cooling
    account.status = S.COOLING_OFF if cooling else S.READY
    PayoutAccountEvent.objects.create(
        account=account,
        kind=PayoutAccountEventKind.DETAILS_CONFIRMED,
        actor=actor if actor is not None and actor.is_authenticated else None,
        masked_before="",
        masked_after=masked,
        note="Stripe account ready for payouts.",
        created_at=now,
    )
    email, usable_from = account.user.email, account.usable_from
    transaction.on_commit(lambda: _send_stripe_chosen_notice(masked, usable_from, email))


def _apply_readiness(
    row: StripeConnectedAccount, account: PayoutAccount, *, actor: User | None, now: datetime
) -> None:
    """Carry the connected account's readiness into the payout account (both rows locked)."""
    if account.status == S.DISABLED:
        return
    before = {
        "provider": account.provider,
        "status": account.status,
        "usable_from": account.usable_from.isoformat() if account.usable_from else None,
    }
    masked = stripe_account_masked(row.stripe_account)
    chose_stripe_last = account.confirmed_at is None or account.confirmed_at < row.chosen_at
    is_stripe = account.provider == PayoutProvider.STRIPE_CONNECT
    if row.can_receive_transfers and (not is_stripe or account.confirmed_at is None):
        if not chose_stripe_last:
            return  # the person moved to bank details since; Stripe waits until chosen again
        _make_payment_method(row, account, masked=masked, actor=actor, now=now)
    elif not is_stripe:
        return  # paid by bank details; Stripe's state does not touch that account
    elif row.can_receive_transfers:
        if account.status == S.PENDING_CONFIRMATION and account.usable_from is not None:
            # Stripe enabled payouts again: ready, or still cooling off from when it was chosen.
            account.status = S.COOLING_OFF if account.usable_from > now else S.READY
    elif account.status != S.PENDING_CONFIRMATION:
        # Stripe stopped payouts or transfers (requirements past due, a review): wait again.
        account.status = S.PENDING_CONFIRMATION
    after = {
        "provider": account.provider,
        "status": account.status,
        "usable_from": account.usable_from.isoformat() if account.usable_from else None,
    }
    if after == before:
        return
    account.save(
        update_fields=[
            "provider",
            "country",
            "currency",
            "status",
            "confirmed_at",
            "usable_from",
            "updated_at",
        ]
    )
    audit_record(
        actor=actor,
        action="payout_account.stripe_readiness",
        target=account,
        before=before,
        after={**after, "details": masked},
    )
    journey_refresh(user=account.user, actor=actor)


def stripe_account_updated_handle(*, event: StripeEvent, current: dict[str, Any] | None) -> None:
    """The `account.updated` handler: store the account as re-fetched from Stripe (`current`,
    fetched when the event was processed, whatever order events came in)."""
    stripe_account = event.object_id or event.account
    if not stripe_account:
        return
    stripe_connected_account_sync(stripe_account=stripe_account, current=current)


def register() -> None:
    """Register the webhook handler (called from `PaymentsConfig.ready`)."""
    stripe_event_handler_register("account.updated", stripe_account_updated_handle)
