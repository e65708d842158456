"""Payout accounts: where a person is paid, by which provider, and since when it may be used.

A person has one payout account. Its provider ("bank_file" or "stripe_connect") decides where
the provider-specific data lives: bank details are `BankDetails` rows (encrypted at rest, see
payments/crypto.py); a Stripe connected account keeps its own model. Every change is a
`PayoutAccountEvent` (masked before and after) and an audit record. Finance chooses the providers
offered per country (`PayoutCountryProviders`). The rules are in
payments/services/payout_accounts.py and payments/selectors/payout_accounts.py.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django_countries.fields import CountryField


class PayoutProvider(models.TextChoices):
    BANK_FILE = "bank_file", "Bank transfer"
    STRIPE_CONNECT = "stripe_connect", "Stripe Connect"


class PayoutAccountStatus(models.TextChoices):
    # No confirmed details yet: the person has not clicked the link of the e-mail.
    PENDING_CONFIRMATION = "pending_confirmation", "Waiting for your e-mail confirmation"
    # Confirmed; no payout uses the details until `usable_from` (then it counts as ready).
    COOLING_OFF = "cooling_off", "Cooling off"
    READY = "ready", "Ready"
    DISABLED = "disabled", "Disabled"


class PayoutAccount(models.Model):
    """A person's payout account: provider, status, country and currency of payment."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="payout_account"
    )
    provider = models.CharField(max_length=20, choices=PayoutProvider.choices)
    status = models.CharField(
        max_length=24,
        choices=PayoutAccountStatus.choices,
        default=PayoutAccountStatus.PENDING_CONFIRMATION,
    )
    country = CountryField(help_text="The country of the bank account (or connected account).")
    currency = models.CharField(max_length=3, help_text="ISO 4217 code the person is paid in.")
    confirmed_at = models.DateTimeField(null=True, blank=True)
    # Payouts may use the account from this moment (the end of the cooling-off period).
    usable_from = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.CharField(max_length=300, blank=True)
    # The Stripe connected account (acct_...) a Stripe Connect account pays into; payout runs
    # read it through payments.selectors.payout_runs.stripe_destinations_of only.
    stripe_account_id = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(provider__in=PayoutProvider.values),
                name="payout_account_provider_known",
            ),
            models.CheckConstraint(
                condition=Q(status__in=PayoutAccountStatus.values),
                name="payout_account_status_known",
            ),
            models.CheckConstraint(
                condition=~Q(status__in=["cooling_off", "ready"]) | Q(usable_from__isnull=False),
                name="payout_account_usable_has_a_start",
            ),
        ]

    def __str__(self) -> str:
        return f"Payout account {self.pk} of user {self.user_id}"


class BankDetailsState(models.TextChoices):
    PENDING = "pending", "Waiting for e-mail confirmation"
    CURRENT = "current", "In use"
    REPLACED = "replaced", "Replaced by newer details"
    CANCELLED = "cancelled", "Cancelled before confirmation"
    ERASED = "erased", "Erased"


class BankScheme(models.TextChoices):
    IBAN = "iban", "IBAN"
    US_ABA = "us_aba", "US account and routing number"
    GB_SORT_CODE = "gb_sort_code", "UK sort code and account number"
    SWIFT = "swift", "Account number and SWIFT/BIC"


class BankDetails(models.Model):
    """One set of bank details a person entered (the bank-file provider's data).

    The details themselves (holder name, IBAN or account and routing numbers...) are only in
    `ciphertext`, a Fernet token; `masked` is all anyone sees once they are saved. At most one row
    per account is in use and at most one waits for confirmation.
    """

    account = models.ForeignKey(
        PayoutAccount, on_delete=models.CASCADE, related_name="bank_details"
    )
    state = models.CharField(
        max_length=12, choices=BankDetailsState.choices, default=BankDetailsState.PENDING
    )
    scheme = models.CharField(max_length=16, choices=BankScheme.choices)
    country = CountryField()
    currency = models.CharField(max_length=3)
    # Empty once erased.
    ciphertext = models.TextField(blank=True, editable=False)
    masked = models.CharField(max_length=60)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    submitted_at = models.DateTimeField()
    confirmed_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "bank details"
        constraints = [
            models.UniqueConstraint(
                fields=["account"],
                condition=Q(state="current"),
                name="bank_details_one_current_per_account",
            ),
            models.UniqueConstraint(
                fields=["account"],
                condition=Q(state="pending"),
                name="bank_details_one_pending_per_account",
            ),
            models.CheckConstraint(
                condition=Q(state__in=BankDetailsState.values), name="bank_details_state_known"
            ),
            models.CheckConstraint(
                condition=Q(state="erased") | ~Q(ciphertext=""),
                name="bank_details_encrypted_unless_erased",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.masked} ({self.get_state_display().lower()})"


class PayoutAccountEventKind(models.TextChoices):
    DETAILS_SUBMITTED = "details_submitted", "New details entered"
    DETAILS_CONFIRMED = "details_confirmed", "New details confirmed"
    CHANGE_CANCELLED = "change_cancelled", "Change cancelled"
    DISABLED = "disabled", "Disabled"
    DETAILS_ERASED = "details_erased", "Details erased"


class PayoutAccountEvent(models.Model):
    """The history of a payout account: who changed what, when; details appear masked only."""

    account = models.ForeignKey(PayoutAccount, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=24, choices=PayoutAccountEventKind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    masked_before = models.CharField(max_length=60, blank=True)
    masked_after = models.CharField(max_length=60, blank=True)
    note = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["account", "created_at"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} at {self.created_at:%Y-%m-%d %H:%M}"


class PayoutCountryProviders(models.Model):
    """Which payout providers people with a bank in `country` may choose, as finance set it.

    A country without a row offers QUORUM_PAYOUT_DEFAULT_PROVIDERS (bank_file by default).
    """

    country = CountryField(unique=True)
    providers = models.JSONField(default=list, help_text='Provider codes, e.g. ["bank_file"].')
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "payout providers per country"

    def __str__(self) -> str:
        return f"{self.country}: {', '.join(self.providers) or 'none'}"
