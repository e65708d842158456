"""Every write of payout accounts: entering bank details, confirming them by e-mail, cancelling a
change, disabling an account, erasing details, re-encrypting them under a new key, and finance's
choice of providers per country.

The life of a change of bank details:
1. `bank_details_submit` validates them (payments/bank_validation.py), stores them encrypted as
   a *pending* BankDetails row and e-mails the person a signed link (django.core.signing, salted,
   expiring after QUORUM_PAYOUT_CONFIRM_LINK_HOURS). Nothing pays to pending details; the
   details in use (if any) stay in use.
2. `bank_details_confirm` (the person, signed in, following the link) makes them current; the
   account cools off until QUORUM_PAYOUT_COOLING_OFF_HOURS have passed, and no payout is made in
   that time (`payout_account_ready` says so, naming the end), so someone who took over a
   person's login cannot redirect a payout before the person hears of it. The onboarding step is
   done at confirmation: cooling off holds payouts back, not onboarding.
Locks: the person's PayoutAccount row (payments.lock_objects.payout_account_lock), then nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables
from django_countries import countries

from accounts.models import User
from core.audit import audit_record
from core.errors import Conflict, NotFound, ValidationFailed
from kit.money import CURRENCY_EXPONENTS
from payments.bank_validation import bank_details_mask, bank_details_validate
from payments.crypto import details_encrypt, details_reencrypt
from payments.lock_objects import payout_account_lock
from payments.models import (
    BankDetails,
    BankDetailsState,
    PayoutAccount,
    PayoutAccountEvent,
    PayoutAccountEventKind,
    PayoutAccountStatus,
    PayoutCountryProviders,
    PayoutProvider,
)
from payments.selectors.payout_accounts import payout_providers_offered
from workforce.services.onboarding import journey_refresh

CONFIRM_SALT = "payments.bank-details.confirm"
S = PayoutAccountStatus
D = BankDetailsState
E = PayoutAccountEventKind


def _event(
    account: PayoutAccount,
    kind: str,
    *,
    actor: User | None,
    now: datetime,
    before: str = "",
    after: str = "",
    note: str = "",
) -> None:
    PayoutAccountEvent.objects.create(
        account=account,
        kind=kind,
        actor=actor if actor is not None and actor.is_authenticated else None,
        masked_before=before,
        masked_after=after,
        note=note[:300],
        created_at=now,
    )
    audit_record(
        actor=actor,
        action=f"payout_account.{kind}",
        target=account,
        before={"details": before} if before else None,
        after={
            "details": after,
            "status": account.status,
            "country": account.country,
            "currency": account.currency,
            **({"note": note} if note else {}),
        },
    )


def _masked_current(account: PayoutAccount) -> str:
    current = account.bank_details.filter(state=D.CURRENT).values_list("masked", flat=True).first()
    return current or ""


# --- The confirmation link -------------------------------------------------------------------


def bank_details_confirmation_token(details: BankDetails) -> str:
    """The signed, timestamped token of the link that confirms `details` (for their owner only)."""
    return signing.dumps({"d": details.pk, "u": details.account.user_id}, salt=CONFIRM_SALT)


def bank_details_confirmation_url(details: BankDetails) -> str:
    token = bank_details_confirmation_token(details)
    return reverse("payments:payout_account_confirm", kwargs={"token": token})


def _send_confirmation(details: BankDetails, email: str) -> None:
    link = settings.SITE_URL.rstrip("/") + bank_details_confirmation_url(details)
    hours = settings.QUORUM_PAYOUT_CONFIRM_LINK_HOURS
    body = (
        f"New payout details were entered for your Quorum account: {details.masked} "
        f"({details.country}, paid in {details.currency}).\n\n"
        f"Confirm them within {hours} hours, signed in to Quorum, at:\n{link}\n\n"
        "Until you confirm, nothing is paid to them. After you confirm, payouts wait "
        f"{settings.QUORUM_PAYOUT_COOLING_OFF_HOURS} hours before they use them.\n"
        "If you did not enter them, do not follow the link: change your password and tell support."
    )
    send_mail(
        subject=f"{settings.ACCOUNT_EMAIL_SUBJECT_PREFIX}Confirm your new payout details",
        message=body,
        from_email=None,
        recipient_list=[email],
    )


def _send_confirmed_notice(account: PayoutAccount, masked: str, email: str) -> None:
    usable = f"{account.usable_from:%Y-%m-%d %H:%M} UTC" if account.usable_from else "now"
    send_mail(
        subject=f"{settings.ACCOUNT_EMAIL_SUBJECT_PREFIX}Your payout details were changed",
        message=(
            f"Your payout details are now {masked}. Payouts use them from {usable}.\n"
            "If you did not make this change, tell support at once: no payout is made before then."
        ),
        from_email=None,
        recipient_list=[email],
    )


# --- The person's writes ---------------------------------------------------------------------


@sensitive_variables("details", "checked")
@transaction.atomic
def bank_details_submit(
    *,
    user: User,
    actor: User,
    country: str,
    currency: str,
    details: Mapping[str, str],
    now: datetime | None = None,
) -> BankDetails:
    """Enter new bank details for `user`: stored encrypted, waiting for e-mail confirmation.

    Creates the payout account on the first call (bank-file provider, pending confirmation). A
    change replaces any earlier change still waiting (its link stops working); the details in
    use stay in use until the new ones are confirmed. Raises ValidationFailed naming the bad
    field (country, currency or a detail), Conflict for a disabled account. Locks the account.
    """
    now = now or timezone.now()
    country = _country_checked(country)
    currency = (currency or "").upper()
    checked = bank_details_validate(country, details)
    if currency not in CURRENCY_EXPONENTS:
        message = f"Choose a currency Quorum pays in ({', '.join(sorted(CURRENCY_EXPONENTS))})."
        raise ValidationFailed(message, fields={"currency": [message]})
    if PayoutProvider.BANK_FILE not in payout_providers_offered(country):
        message = f"Bank transfers are not offered for accounts in {country}; choose another way to be paid."
        raise ValidationFailed(message, fields={"country": [message]})
    PayoutAccount.objects.get_or_create(
        user=user,
        defaults={"provider": PayoutProvider.BANK_FILE, "country": country, "currency": currency},
    )
    account = payout_account_lock(user_id=user.pk)
    if account.status == S.DISABLED:
        raise Conflict(
            "Your payout account is disabled"
            + (f" ({account.disabled_reason})" if account.disabled_reason else "")
            + "; ask finance to enable it again.",
            code="payout_account_disabled",
        )
    account.bank_details.filter(state=D.PENDING).update(state=D.CANCELLED, ended_at=now)
    masked = bank_details_mask(checked)
    row = BankDetails.objects.create(
        account=account,
        state=D.PENDING,
        scheme=checked.scheme,
        country=country,
        currency=currency,
        ciphertext=details_encrypt(checked.fields),
        masked=masked,
        submitted_by=actor,
        submitted_at=now,
    )
    _event(
        account,
        E.DETAILS_SUBMITTED,
        actor=actor,
        now=now,
        before=_masked_current(account),
        after=masked,
    )
    email = user.email
    transaction.on_commit(lambda: _send_confirmation(row, email))
    journey_refresh(user=user, actor=actor)
    return row


def _confirm_refused(message: str) -> ValidationFailed:
    return ValidationFailed(message, fields={"token": [message]})


def bank_details_from_token(*, user: User, token: str) -> BankDetails:
    """The pending-or-past details a confirmation token names, for `user` only.

    Raises ValidationFailed (field `token`) for a tampered or expired link, NotFound for a link
    of someone else's details.
    """
    max_age = timedelta(hours=settings.QUORUM_PAYOUT_CONFIRM_LINK_HOURS)
    try:
        data = signing.loads(token, salt=CONFIRM_SALT, max_age=max_age)
    except signing.SignatureExpired:
        raise _confirm_refused(
            "This confirmation link has expired; enter your details again to get a new one."
        ) from None
    except signing.BadSignature:
        raise _confirm_refused(
            "This confirmation link is not valid; copy it whole from the e-mail."
        ) from None
    if not isinstance(data, dict) or data.get("u") != user.pk:
        # Someone else's link: as if it did not exist.
        raise NotFound("No such confirmation link.")
    details_id = data.get("d")
    details = (
        BankDetails.objects.select_related("account").filter(pk=details_id).first()
        if isinstance(details_id, int)
        else None
    )
    if details is None or details.account.user_id != user.pk:
        raise NotFound("No such confirmation link.")
    return details


@transaction.atomic
def bank_details_confirm(*, user: User, token: str, now: datetime | None = None) -> PayoutAccount:
    """Confirm the details a link names: they become the ones in use, the account cools off.

    Confirming confirmed details again changes nothing. Raises ValidationFailed (field `token`)
    for a tampered or expired link, NotFound for someone else's, Conflict for details replaced
    or cancelled since. Locks the account.
    """
    now = now or timezone.now()
    details = bank_details_from_token(user=user, token=token)
    account = payout_account_lock(user_id=user.pk)
    details.refresh_from_db()
    if details.confirmed_at is not None:
        return account
    if details.state != D.PENDING:
        raise Conflict(
            "These details were replaced or cancelled since this link was sent; "
            "the latest e-mail has the link that counts.",
            code="payout_details_superseded",
        )
    if account.status == S.DISABLED:
        raise Conflict("Your payout account is disabled; ask finance to enable it again.")
    before = _masked_current(account)
    account.bank_details.filter(state=D.CURRENT).update(state=D.REPLACED, ended_at=now)
    details.state = D.CURRENT
    details.confirmed_at = now
    details.save(update_fields=["state", "confirmed_at"])
    cooling = timedelta(hours=settings.QUORUM_PAYOUT_COOLING_OFF_HOURS)
    account.provider = PayoutProvider.BANK_FILE
    account.country = details.country
    account.currency = details.currency
    account.status = S.COOLING_OFF if cooling else S.READY
    account.confirmed_at = now
    account.usable_from = now + cooling
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
    _event(account, E.DETAILS_CONFIRMED, actor=user, now=now, before=before, after=details.masked)
    email, masked = user.email, details.masked
    transaction.on_commit(lambda: _send_confirmed_notice(account, masked, email))
    journey_refresh(user=user, actor=user)
    return account


@transaction.atomic
def bank_details_cancel(*, user: User, actor: User, now: datetime | None = None) -> PayoutAccount:
    """Withdraw the change waiting for confirmation (its link stops working).

    Raises NotFound when the person has no payout account, Conflict when no change waits.
    """
    now = now or timezone.now()
    if not PayoutAccount.objects.filter(user_id=user.pk).exists():
        raise NotFound("You have no payout account.")
    account = payout_account_lock(user_id=user.pk)
    pending = account.bank_details.filter(state=D.PENDING).first()
    if pending is None:
        raise Conflict("No change of payout details is waiting for confirmation.")
    pending.state = D.CANCELLED
    pending.ended_at = now
    pending.save(update_fields=["state", "ended_at"])
    _event(
        account,
        E.CHANGE_CANCELLED,
        actor=actor,
        now=now,
        before=_masked_current(account),
        after=pending.masked,
    )
    return account


@transaction.atomic
def bank_details_resend(*, user: User) -> BankDetails:
    """E-mail the confirmation link of the waiting change again (a new token, a new expiry).

    Raises NotFound when no change waits.
    """
    pending = (
        BankDetails.objects.select_related("account")
        .filter(account__user_id=user.pk, state=D.PENDING)
        .first()
    )
    if pending is None:
        raise NotFound("No change of payout details is waiting for confirmation.")
    email = user.email
    transaction.on_commit(lambda: _send_confirmation(pending, email))
    return pending


# --- Finance and operations ------------------------------------------------------------------


@transaction.atomic
def payout_account_disable(
    *, user: User, actor: User | None, reason: str, now: datetime | None = None
) -> PayoutAccount | None:
    """Disable a person's payout account: no payout uses it, and the person cannot change it.

    Returns None for a person without an account; disabling twice changes nothing.
    """
    now = now or timezone.now()
    if not PayoutAccount.objects.filter(user_id=user.pk).exists():
        return None
    account = payout_account_lock(user_id=user.pk)
    if account.status == S.DISABLED:
        return account
    account.status = S.DISABLED
    account.disabled_reason = reason[:300]
    account.save(update_fields=["status", "disabled_reason", "updated_at"])
    masked = _masked_current(account)
    _event(account, E.DISABLED, actor=actor, now=now, before=masked, after=masked, note=reason)
    return account


@transaction.atomic
def bank_details_erase(*, user: User, actor: User | None, now: datetime | None = None) -> int:
    """Delete every stored bank detail of `user` (personal-data erasure); keep the masked record
    and the history. The account is disabled. Returns how many sets of details were erased."""
    now = now or timezone.now()
    if not PayoutAccount.objects.filter(user_id=user.pk).exists():
        return 0
    account = payout_account_lock(user_id=user.pk)
    rows = account.bank_details.exclude(state=D.ERASED)
    masked = _masked_current(account)
    erased = rows.update(ciphertext="", state=D.ERASED, ended_at=now)
    if account.status != S.DISABLED:
        account.status = S.DISABLED
        account.disabled_reason = "Personal data erased."
        account.save(update_fields=["status", "disabled_reason", "updated_at"])
    if erased:
        _event(account, E.DETAILS_ERASED, actor=actor, now=now, before=masked, after=masked)
    return erased


def bank_details_rotate_key(*, batch_size: int = 500) -> int:
    """Re-encrypt every stored bank detail with the first PAYOUT_DETAILS_KEY; return how many.

    Each batch is one transaction; running it again re-encrypts again, harmlessly. Raises
    PayoutDetailsUnreadable (naming no value) if a stored value opens with none of the keys.
    """
    done = 0
    last = 0
    while True:
        with transaction.atomic():
            batch = list(
                BankDetails.objects.select_for_update()
                .exclude(ciphertext="")
                .filter(pk__gt=last)
                .order_by("pk")[:batch_size]
            )
            if not batch:
                return done
            for row in batch:
                row.ciphertext = details_reencrypt(row.ciphertext)
            BankDetails.objects.bulk_update(batch, ["ciphertext"])
            done += len(batch)
            last = batch[-1].pk


def _providers_checked(providers: Iterable[str]) -> list[str]:
    chosen = [str(p) for p in providers]
    unknown = sorted(set(chosen) - set(PayoutProvider.values))
    if unknown:
        message = f"Unknown provider(s): {', '.join(unknown)}; choose from {', '.join(PayoutProvider.values)}."
        raise ValidationFailed(message, fields={"providers": [message]})
    return [p for p in PayoutProvider.values if p in chosen]


def _country_checked(country: str) -> str:
    code = (country or "").upper()
    if code not in dict(countries):
        message = "Choose a country (ISO 3166 two-letter code)."
        raise ValidationFailed(message, fields={"country": [message]})
    return code


@transaction.atomic
def payout_country_providers_set(
    *, country: str, providers: Iterable[str], actor: User
) -> PayoutCountryProviders:
    """Choose the providers offered to people whose bank is in `country` (may be none). Audited.

    Raises ValidationFailed naming `country` or `providers`.
    """
    code = _country_checked(country)
    chosen = _providers_checked(providers)
    row = PayoutCountryProviders.objects.select_for_update().filter(country=code).first()
    before: dict[str, Any] | None = None
    if row is None:
        row = PayoutCountryProviders(country=code)
    else:
        before = {"country": code, "providers": list(row.providers)}
    row.providers = chosen
    row.updated_by = actor
    row.save()
    audit_record(
        actor=actor,
        action="payout_providers.set",
        target=row,
        before=before,
        after={"country": code, "providers": chosen},
    )
    return row


@transaction.atomic
def payout_country_providers_reset(*, country: str, actor: User) -> bool:
    """Return `country` to the default providers; False if it had no choice of its own."""
    code = _country_checked(country)
    row = PayoutCountryProviders.objects.select_for_update().filter(country=code).first()
    if row is None:
        return False
    audit_record(
        actor=actor,
        action="payout_providers.reset",
        target=row,
        before={"country": code, "providers": list(row.providers)},
        after={"country": code, "providers": list(settings.QUORUM_PAYOUT_DEFAULT_PROVIDERS)},
    )
    row.delete()
    return True
