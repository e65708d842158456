"""Stripe Connect: the connected account (Express) a person is paid through, as Stripe last said.

One row per person, made when they start Stripe's hosted onboarding. Its fields mirror what Stripe
returns for the account (`payouts_enabled`, the `transfers` capability, the outstanding
requirements) and are written only by payments/services/stripe_connect.py, from an account
re-fetched from Stripe (never from a webhook's payload). Whether the account can be paid is
`StripeConnectedAccount.can_receive_transfers`, the one statement of that rule; the service
carries it into the person's PayoutAccount status, which the onboarding step and payout runs read.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from payments.models.payout_accounts import PayoutAccount


class TransfersCapability(models.TextChoices):
    # Stripe's capability statuses; empty until Stripe reports the capability.
    ACTIVE = "active", "Active"
    PENDING = "pending", "Pending verification"
    INACTIVE = "inactive", "Inactive"
    UNREQUESTED = "unrequested", "Not requested"


class StripeConnectedAccount(models.Model):
    """A person's Stripe connected account and its state as of the last fetch from Stripe."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="stripe_connected_account"
    )
    payout_account = models.OneToOneField(
        PayoutAccount, on_delete=models.PROTECT, related_name="stripe_connected_account"
    )
    stripe_account = models.CharField(
        max_length=255, unique=True, help_text="Stripe's id of the connected account (acct_...)."
    )
    country = models.CharField(max_length=2)
    # The currency the person asked to be paid in through this account (ISO 4217).
    currency = models.CharField(max_length=3)
    payouts_enabled = models.BooleanField(default=False)
    details_submitted = models.BooleanField(default=False)
    transfers_status = models.CharField(max_length=16, blank=True)
    # Stripe's requirements: field names still to give now, those overdue, and why the account is
    # disabled (e.g. "requirements.past_due"); shown to the person as Stripe sent them.
    currently_due = models.JSONField(default=list, blank=True)
    past_due = models.JSONField(default=list, blank=True)
    disabled_reason = models.CharField(max_length=100, blank=True)
    # Stripe no longer has the account (deleted or rejected by Stripe).
    is_deleted = models.BooleanField(default=False)
    synced_at = models.DateTimeField(null=True, blank=True)
    # When the person last chose Stripe (started or continued its set-up): a ready account becomes
    # their way of being paid only if they chose it after their last confirmed bank details.
    chosen_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(stripe_account__startswith="acct_"),
                name="stripe_connected_account_id_shape",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.stripe_account} of user {self.user_id}"

    @property
    def can_receive_transfers(self) -> bool:
        """The rule of a payable Stripe account: payouts enabled and the transfers capability
        active (and the account still exists at Stripe)."""
        return (
            self.payouts_enabled
            and self.transfers_status == TransfersCapability.ACTIVE
            and not self.is_deleted
        )


def stripe_accounts_ready() -> Q:
    """`can_receive_transfers` as a condition on StripeConnectedAccount querysets (the same rule,
    written next to it, for lists and filters)."""
    return Q(payouts_enabled=True, transfers_status=TransfersCapability.ACTIVE, is_deleted=False)
