"""Payout runs: finance freezes what people are owed into a run, a second finance user approves
it, and each item is paid through the run's provider. The rules are in
payments/services/payout_runs.py (writes) and payments/selectors/payout_runs.py (reads)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from payments.models.payout_accounts import PayoutProvider


class PayoutRunStatus(models.TextChoices):
    # Being frozen (people are added batch by batch, in Celery for a big run).
    DRAFT = "draft", "Freezing"
    FROZEN = "frozen", "Frozen, waiting for approval"
    APPROVED = "approved", "Approved"
    EXECUTING = "executing", "Paying"
    DONE = "done", "Done"
    CANCELLED = "cancelled", "Cancelled"


# Runs that still hold money in transit or may still move it: one per currency and provider.
OPEN_RUN_STATUSES = (
    PayoutRunStatus.DRAFT,
    PayoutRunStatus.FROZEN,
    PayoutRunStatus.APPROVED,
    PayoutRunStatus.EXECUTING,
)


class PayoutRun(models.Model):
    """One payout of a currency for a period, by one provider, to everyone it could pay."""

    currency = models.CharField(max_length=3)
    period_start = models.DateField()
    period_end = models.DateField()
    provider = models.CharField(max_length=20, choices=PayoutProvider.choices)
    status = models.CharField(
        max_length=12, choices=PayoutRunStatus.choices, default=PayoutRunStatus.DRAFT
    )
    # Stripe's transfer_group of every transfer of the run (set once the run has its id).
    transfer_group = models.CharField(max_length=64, blank=True)
    minimum_minor = models.BigIntegerField(help_text="The minimum payout when the run was frozen.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    frozen_at = models.DateTimeField(null=True, blank=True)
    approved_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    done_at = models.DateTimeField(null=True, blank=True)
    # Freezing: the last payable account looked at (a restarted freeze goes on from there), and
    # how many people and how much were frozen.
    freeze_cursor = models.BigIntegerField(default=0)
    freeze_candidates = models.IntegerField(default=0)
    freeze_looked_at = models.IntegerField(default=0)
    item_count = models.IntegerField(default=0)
    excluded_count = models.IntegerField(default=0)
    frozen_total_minor = models.BigIntegerField(default=0)
    # The last check of the run against the ledger and the provider (selectors.payout_runs).
    reconciled_at = models.DateTimeField(null=True, blank=True)
    reconciliation_differences = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=PayoutRunStatus.values), name="payout_run_status_known"
            ),
            models.CheckConstraint(
                condition=Q(provider__in=PayoutProvider.values), name="payout_run_provider_known"
            ),
            models.CheckConstraint(
                condition=Q(period_end__gte=models.F("period_start")),
                name="payout_run_period_ordered",
            ),
            models.CheckConstraint(
                condition=Q(currency__regex=r"^[A-Z]{3}$"), name="payout_run_currency_code"
            ),
            models.CheckConstraint(
                condition=Q(frozen_total_minor__gte=0, item_count__gte=0),
                name="payout_run_totals_not_negative",
            ),
            # Four eyes: whoever approves did not create the run.
            models.CheckConstraint(
                condition=Q(approved_by__isnull=True) | ~Q(approved_by=models.F("created_by")),
                name="payout_run_approver_is_not_creator",
            ),
            # Two open runs of one currency and provider would race for the same balances.
            models.UniqueConstraint(
                fields=["currency", "provider"],
                condition=Q(status__in=[s.value for s in OPEN_RUN_STATUSES]),
                name="payout_run_one_open_per_currency_provider",
            ),
        ]

    def __str__(self) -> str:
        return f"Payout run {self.pk} ({self.currency}, {self.period_start}..{self.period_end})"


class PayoutItemStatus(models.TextChoices):
    PENDING = "pending", "Waiting to be paid"
    PROCESSING = "processing", "Being paid"
    AWAITING_BANK_FILE = "awaiting_bank_file", "In the bank file"
    SUCCEEDED = "succeeded", "Paid"
    FAILED = "failed", "Failed (returned to your balance)"
    AMBIGUOUS = "ambiguous", "Being checked with the provider"
    RETURNED = "returned", "Returned to your balance"
    CANCELLED = "cancelled", "Cancelled (returned to your balance)"


# Items nothing more happens to unless finance retries them (failed) or the provider reverses
# a transfer (succeeded).
SETTLED_ITEM_STATUSES = (
    PayoutItemStatus.SUCCEEDED,
    PayoutItemStatus.FAILED,
    PayoutItemStatus.RETURNED,
    PayoutItemStatus.CANCELLED,
)


class PayoutItem(models.Model):
    """What one person is paid by one run: an amount in whole minor units of the run's currency."""

    run = models.ForeignKey(PayoutRun, on_delete=models.PROTECT, related_name="items")
    person = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="payout_items"
    )
    amount_minor = models.BigIntegerField()
    status = models.CharField(
        max_length=20, choices=PayoutItemStatus.choices, default=PayoutItemStatus.PENDING
    )
    # A deliberate retry by finance makes a new attempt, hence a new idempotency key.
    attempt = models.PositiveIntegerField(default=1)
    # When the current attempt's key was first sent: the provider keeps keys for a while
    # (24 h for Stripe); after that an ambiguous item is reconciled by listing, not retried.
    key_first_used_at = models.DateTimeField(null=True, blank=True)
    processing_since = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    calls = models.PositiveIntegerField(default=0, help_text="Provider calls made, all attempts.")
    provider_reference = models.CharField(max_length=255, blank=True)
    provider_message = models.CharField(max_length=1000, blank=True)
    destination = models.CharField(max_length=255, blank=True)
    settled_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["pk"]
        constraints = [
            models.UniqueConstraint(fields=["run", "person"], name="payout_item_one_per_person"),
            models.CheckConstraint(
                condition=Q(amount_minor__gt=0), name="payout_item_amount_positive"
            ),
            models.CheckConstraint(
                condition=Q(attempt__gte=1), name="payout_item_attempt_positive"
            ),
            models.CheckConstraint(
                condition=Q(status__in=PayoutItemStatus.values), name="payout_item_status_known"
            ),
            models.CheckConstraint(
                condition=~Q(status="succeeded") | ~Q(provider_reference=""),
                name="payout_item_paid_has_reference",
            ),
        ]
        indexes = [
            models.Index(fields=["run", "status"], name="payout_item_run_status"),
            models.Index(fields=["person", "-id"], name="payout_item_person"),
            models.Index(fields=["status", "next_attempt_at"], name="payout_item_due"),
        ]

    def __str__(self) -> str:
        return f"Payout item {self.pk} of run {self.run_id}"

    @property
    def idempotency_key(self) -> str:
        """The key of the current attempt: the same for every call of one attempt."""
        return f"quorum-payout-item-{self.pk}-attempt-{self.attempt}"


class PayoutReversalStatus(models.TextChoices):
    RETURNED = "returned", "Returned to the payable balance"
    REFUSED = "refused", "Stripe refused to reverse it"


class PayoutReversal(models.Model):
    """A reversal of an item's Stripe transfer: money taken back from the person's connected
    account (returned: back in their payable balance, once per Stripe reversal id), or a
    reversal Quorum asked for after the person's bank refused a payout and Stripe refused
    (refused: the money stays with the connected account, counted paid; finance is shown it).
    Written by payments/services/payout_runs.py (the webhook handlers) only."""

    item = models.ForeignKey(PayoutItem, on_delete=models.PROTECT, related_name="reversals")
    # The item's attempt whose transfer was reversed (a retry makes a new transfer).
    attempt = models.PositiveIntegerField()
    status = models.CharField(max_length=12, choices=PayoutReversalStatus.choices)
    amount_minor = models.BigIntegerField()
    # Stripe's transfer reversal (trr_...); empty for a refused one (Stripe made none).
    stripe_reversal = models.CharField(max_length=255, blank=True)
    # The connected account's failed payout (po_...) that made Quorum ask for it; empty for a
    # reversal made at Stripe by someone else (finance in Stripe's dashboard).
    payout = models.CharField(max_length=255, blank=True)
    reason = models.CharField(max_length=1000)
    # Stripe's answer to a refused reversal.
    provider_message = models.CharField(max_length=1000, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["pk"]
        constraints = [
            # Money returns to payable once per Stripe reversal.
            models.UniqueConstraint(
                fields=["stripe_reversal"],
                condition=~Q(stripe_reversal=""),
                name="payout_reversal_once_per_stripe_reversal",
            ),
            # One reversal per item and failed payout, whatever Stripe answered.
            models.UniqueConstraint(
                fields=["item", "payout"],
                condition=~Q(payout=""),
                name="payout_reversal_once_per_item_payout",
            ),
            models.CheckConstraint(
                condition=Q(amount_minor__gt=0), name="payout_reversal_amount_positive"
            ),
            models.CheckConstraint(
                condition=Q(status__in=PayoutReversalStatus.values),
                name="payout_reversal_status_known",
            ),
            models.CheckConstraint(
                condition=~Q(status="returned") | ~Q(stripe_reversal=""),
                name="payout_reversal_returned_has_stripe_id",
            ),
        ]

    def __str__(self) -> str:
        return f"Reversal of {self.amount_minor} of payout item {self.item_id}: {self.status}"


class PayoutExclusion(models.Model):
    """A person with a payable balance whom the run does not pay, and why."""

    run = models.ForeignKey(PayoutRun, on_delete=models.CASCADE, related_name="exclusions")
    person = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    payable_minor = models.BigIntegerField()
    code = models.CharField(max_length=32)
    reason = models.CharField(max_length=300)

    class Meta:
        ordering = ["pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["run", "person"], name="payout_exclusion_one_per_person"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.person_id} excluded from run {self.run_id}: {self.code}"
