"""Money: the ledger (accounts, transactions, entries). See payments/services/ledger.py for the
rules of posting and the lock order, and docs/finance-ledger.md for finance's view of it."""

from __future__ import annotations

from typing import Any, NoReturn

from django.conf import settings
from django.db import models
from django.db.models import Q

from labeling.models import Customer, Project


class AppendOnlyError(RuntimeError):
    """Raised on any attempt to change or delete a ledger row: corrections are reversals."""


class AppendOnlyQuerySet(models.QuerySet[Any]):
    """A queryset that can add rows and read them, never change or delete them."""

    def update(self, **kwargs: Any) -> NoReturn:
        raise AppendOnlyError(f"{self.model.__name__} rows are never updated; post a reversal.")

    def delete(self) -> NoReturn:
        raise AppendOnlyError(f"{self.model.__name__} rows are never deleted; post a reversal.")


class AppendOnlyModel(models.Model):
    """A model whose rows are written once: saving an existing row or deleting one raises."""

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AppendOnlyError(
                f"{type(self).__name__} {self.pk} is never changed; post a reversal."
            )
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise AppendOnlyError(f"{type(self).__name__} {self.pk} is never deleted; post a reversal.")


class AccountKind(models.TextChoices):
    # A person's earnings, by where they are on their way to the person's bank.
    PENDING = "pending", "Pending (work not final yet)"
    PAYABLE = "payable", "Payable"
    IN_TRANSIT = "in_transit", "In transit (in a payout run)"
    PAID = "paid", "Paid"
    # The platform's side.
    LABOUR_EXPENSE_PROJECT = "labour_expense_project", "Labour expense of a project"
    LABOUR_EXPENSE_CUSTOMER = "labour_expense_customer", "Labour expense of a customer"
    BONUS_EXPENSE = "bonus_expense", "Bonus expense"
    PROVIDER_CLEARING = "provider_clearing", "Payout provider clearing"


# Which owner each kind of account has; a new kind is added here and in AccountKind.
PERSON_KINDS = frozenset(
    {AccountKind.PENDING, AccountKind.PAYABLE, AccountKind.IN_TRANSIT, AccountKind.PAID}
)
PROJECT_KINDS = frozenset({AccountKind.LABOUR_EXPENSE_PROJECT})
CUSTOMER_KINDS = frozenset({AccountKind.LABOUR_EXPENSE_CUSTOMER})
PLATFORM_KINDS = frozenset(AccountKind) - PERSON_KINDS - PROJECT_KINDS - CUSTOMER_KINDS
# Balances that can be paid out hold whole minor units only (micros are rounded down into them).
WHOLE_MINOR_KINDS = frozenset({AccountKind.PAYABLE, AccountKind.IN_TRANSIT, AccountKind.PAID})


def _owner_is(user: bool, project: bool, customer: bool) -> Q:
    return Q(user__isnull=not user, project__isnull=not project, customer__isnull=not customer)


class LedgerAccount(models.Model):
    """One account of the ledger, in one currency. A person's accounts keep their balance in
    `balance_micros`, changed in the transaction that posts their entries; every other account's
    balance is the sum of its entries (no row that every posting of a project would lock)."""

    key = models.CharField(max_length=120, unique=True, editable=False)
    kind = models.CharField(max_length=32, choices=AccountKind.choices)
    currency = models.CharField(max_length=3)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="ledger_accounts",
    )
    project = models.ForeignKey(
        Project, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    customer = models.ForeignKey(
        Customer, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    balance_micros = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["pk"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    (Q(kind__in=sorted(PERSON_KINDS)) & _owner_is(True, False, False))
                    | (Q(kind__in=sorted(PROJECT_KINDS)) & _owner_is(False, True, False))
                    | (Q(kind__in=sorted(CUSTOMER_KINDS)) & _owner_is(False, False, True))
                    | (Q(kind__in=sorted(PLATFORM_KINDS)) & _owner_is(False, False, False))
                ),
                name="ledger_account_owner_matches_kind",
            ),
            models.CheckConstraint(
                condition=Q(kind__in=sorted(PERSON_KINDS)) | Q(balance_micros=0),
                name="ledger_account_stored_balance_only_for_people",
            ),
            models.CheckConstraint(
                condition=Q(currency__regex=r"^[A-Z]{3}$"), name="ledger_account_currency_code"
            ),
        ]
        indexes = [models.Index(fields=["user", "currency"], name="ledger_account_user_cur")]

    def __str__(self) -> str:
        return self.key

    @property
    def keeps_balance(self) -> bool:
        return self.kind in PERSON_KINDS


class LedgerTransaction(AppendOnlyModel):
    """A set of entries that nets to zero per currency, posted once per `source_key`."""

    source_key = models.CharField(max_length=200, unique=True)
    memo = models.CharField(max_length=500, blank=True)
    # A correction is a new transaction that reverses one earlier transaction, at most once.
    reverses = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="reversed_by"
    )
    reason = models.CharField(max_length=500, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    posted_at = models.DateTimeField()

    class Meta:
        ordering = ["-pk"]
        indexes = [models.Index(fields=["posted_at"], name="ledger_txn_posted_at")]

    def __str__(self) -> str:
        return f"Ledger transaction {self.pk} ({self.source_key})"


class LedgerEntry(AppendOnlyModel):
    """One line of a transaction: `amount_micros` (micro-units of the account's currency) credited
    to the account when positive, debited when negative."""

    # Looked up by `ledger_entry_one_per_account` (transaction, account): no index of its own.
    transaction = models.ForeignKey(
        LedgerTransaction, on_delete=models.PROTECT, related_name="entries", db_index=False
    )
    # Indexed with the transaction below (an account's entries in posting order), not alone.
    account = models.ForeignKey(
        LedgerAccount, on_delete=models.PROTECT, related_name="entries", db_index=False
    )
    amount_micros = models.BigIntegerField()

    class Meta:
        ordering = ["pk"]
        # An account's entries after a transaction id (the Earnings pages read a person's
        # entries newer than the daily rollup by it); it serves lookups by account alone too.
        indexes = [models.Index(fields=["account", "transaction"], name="ledger_entry_account_txn")]
        constraints = [
            models.CheckConstraint(
                condition=~Q(amount_micros=0), name="ledger_entry_amount_not_zero"
            ),
            models.UniqueConstraint(
                fields=["transaction", "account"], name="ledger_entry_one_per_account"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.amount_micros} on {self.account_id}"
