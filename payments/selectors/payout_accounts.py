"""Reads of payout accounts: whether a person can be paid now (and why not), their status as it
stands at a moment, the providers a country offers, and the account's history."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db.models import OuterRef, Q, QuerySet, Subquery
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from core.audit import audit_record
from core.errors import Conflict
from payments.bank_files import BankBeneficiary
from payments.crypto import details_decrypt
from payments.models import (
    BankDetails,
    BankDetailsState,
    PayoutAccount,
    PayoutAccountEvent,
    PayoutAccountStatus,
    PayoutCountryProviders,
    PayoutProvider,
)

S = PayoutAccountStatus


def payout_account_status_at(account: PayoutAccount, at: datetime) -> str:
    """The account's status at `at`: a cooling-off period that has ended counts as ready."""
    if account.status == S.COOLING_OFF and account.usable_from is not None:
        return S.READY if account.usable_from <= at else S.COOLING_OFF
    return account.status


def payout_accounts_usable_at(at: datetime) -> Q:
    """The condition for accounts a payout may use at `at` (the rule of `payout_account_ready`,
    for querysets of PayoutAccount: e.g. a payout run selecting the people it can pay)."""
    return Q(status__in=[S.READY, S.COOLING_OFF], usable_from__lte=at)


def payout_accounts_in_status_at(
    accounts: QuerySet[PayoutAccount], status: str, at: datetime
) -> QuerySet[PayoutAccount]:
    """Narrow `accounts` to those whose status at `at` is `status` (as `payout_account_status_at`
    says: an ended cooling-off period is ready)."""
    if status == S.READY:
        return accounts.filter(payout_accounts_usable_at(at))
    if status == S.COOLING_OFF:
        return accounts.filter(status=S.COOLING_OFF, usable_from__gt=at)
    return accounts.filter(status=status)


@dataclass(frozen=True)
class PayoutReadiness:
    """Whether a person can be paid at a moment and, if not, a code and a sentence saying why."""

    ready: bool
    code: str = ""
    reason: str = ""
    account: PayoutAccount | None = None


def payout_account_ready(person: Any, at: datetime | None = None) -> PayoutReadiness:
    """Say whether a payout to `person` may be made at `at` (now by default), and why not.

    Codes: no_account, pending_confirmation, stripe_onboarding (a Stripe account Stripe does
    not let Quorum pay yet), cooling_off (the reason names when it ends), disabled. A change of bank details waiting for confirmation does not block: the details in
    use stay in use until the new ones are confirmed.
    """
    at = at or timezone.now()
    account = PayoutAccount.objects.filter(user_id=person.pk).first()
    if account is None:
        return PayoutReadiness(False, "no_account", "The person has no payout account.")
    status = payout_account_status_at(account, at)
    if status == S.READY:
        return PayoutReadiness(True, account=account)
    if status == S.PENDING_CONFIRMATION and account.provider == PayoutProvider.STRIPE_CONNECT:
        return PayoutReadiness(
            False,
            "stripe_onboarding",
            "The person's Stripe account cannot receive payouts yet (Stripe's set-up is not "
            "finished, or Stripe asks for more information).",
            account,
        )
    if status == S.PENDING_CONFIRMATION:
        return PayoutReadiness(
            False,
            "pending_confirmation",
            "The person has not confirmed their payout details by e-mail yet.",
            account,
        )
    if status == S.COOLING_OFF:
        assert account.usable_from is not None  # noqa: S101  (a database constraint says so)
        return PayoutReadiness(
            False,
            "cooling_off",
            "Payout details changed recently; payouts may use them from "
            f"{account.usable_from:%Y-%m-%d %H:%M} UTC.",
            account,
        )
    return PayoutReadiness(
        False,
        "disabled",
        "The payout account is disabled"
        + (f": {account.disabled_reason}" if account.disabled_reason else "."),
        account,
    )


def payout_account_is_confirmed(user: Any) -> bool:
    """The person has a payout account with confirmed details (the onboarding step; the
    cooling-off period does not hold onboarding back, only payouts). A Stripe account counts
    as confirmed only while Stripe enables its payouts and transfers: the Stripe sync
    (payments/services/stripe_connect.py) keeps the status waiting until then."""
    return PayoutAccount.objects.filter(
        user_id=user.pk, status__in=[S.COOLING_OFF, S.READY]
    ).exists()


def payout_account_of(user: Any) -> PayoutAccount | None:
    return PayoutAccount.objects.filter(user_id=user.pk).first()


def bank_details_current(account: PayoutAccount) -> BankDetails | None:
    return account.bank_details.filter(state=BankDetailsState.CURRENT).first()


def bank_details_pending(account: PayoutAccount) -> BankDetails | None:
    return account.bank_details.filter(state=BankDetailsState.PENDING).first()


def payout_account_events(account: PayoutAccount) -> QuerySet[PayoutAccountEvent]:
    """The account's history, newest first."""
    return account.events.order_by("-created_at", "-pk")


def payout_providers_default() -> list[str]:
    """The providers of countries finance has not configured (QUORUM_PAYOUT_DEFAULT_PROVIDERS)."""
    chosen = set(settings.QUORUM_PAYOUT_DEFAULT_PROVIDERS)
    return [p for p in PayoutProvider.values if p in chosen]


def payout_providers_offered(country: str) -> list[str]:
    """The providers a person whose bank is in `country` may choose, in PayoutProvider order."""
    row = PayoutCountryProviders.objects.filter(country=country.upper()).first()
    if row is None:
        return payout_providers_default()
    return [p for p in PayoutProvider.values if p in set(row.providers)]


def payout_country_providers_list() -> QuerySet[PayoutCountryProviders]:
    return PayoutCountryProviders.objects.select_related("updated_by").order_by("country")


def payout_accounts_with_details(accounts: QuerySet[PayoutAccount]) -> QuerySet[PayoutAccount]:
    """Annotate accounts with the masked details in use (`masked_current`) and waiting for
    confirmation (`masked_pending`), in the same query."""

    def masked(state: str) -> Subquery:
        return Subquery(
            BankDetails.objects.filter(account=OuterRef("pk"), state=state).values("masked")[:1]
        )

    return accounts.select_related("user").annotate(
        masked_current=masked(BankDetailsState.CURRENT),
        masked_pending=masked(BankDetailsState.PENDING),
    )


@sensitive_variables("details")
def bank_payment_details(
    user: Any, *, actor: Any | None, purpose: str, at: datetime | None = None
) -> BankBeneficiary:
    """Decrypt the confirmed bank details a payout to `user` is paid to (for a bank file).

    The only place that decrypts details for payouts; every call is audited (who read, for what
    `purpose`, e.g. "payout run 12"), never with the details themselves. Raises Conflict (code
    payout_account_not_ready, with the reason) when no payout may be made to the person at `at`
    (e.g. new details still cooling off) and Conflict (code payout_account_not_bank_file) when
    they are paid through another provider.
    """
    readiness = payout_account_ready(user, at)
    if not readiness.ready or readiness.account is None:
        raise Conflict(readiness.reason, code="payout_account_not_ready")
    account = readiness.account
    current = bank_details_current(account)
    if account.provider != PayoutProvider.BANK_FILE or current is None:
        raise Conflict(
            "The person is not paid by bank transfer.", code="payout_account_not_bank_file"
        )
    details = details_decrypt(current.ciphertext)
    audit_record(
        actor=actor,
        action="payout_account.details_read",
        target=account,
        after={"details": current.masked, "purpose": purpose[:200]},
    )
    return BankBeneficiary(
        name=details.get("holder_name", ""),
        iban=details.get("iban", ""),
        bic=details.get("bic", ""),
        account_number=details.get("account_number", ""),
        routing_number=details.get("routing_number") or details.get("sort_code", ""),
        country=str(current.country),
        currency=current.currency,
    )
