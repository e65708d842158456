"""Reads of the ledger: balances (stored for people, summed for the platform), the transactions
finance explores, and the reconciliation of both against the entries."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import (
    BigIntegerField,
    Case,
    F,
    OuterRef,
    Prefetch,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce

from kit.money import Micros
from payments.models import PERSON_KINDS, AccountKind, LedgerAccount, LedgerEntry, LedgerTransaction
from payments.selectors.earning_cells import Cell, RollupDifference, earning_days_differences


def _entries_total() -> Coalesce:
    total = (
        LedgerEntry.objects.filter(account=OuterRef("pk"))
        .order_by()
        .values("account")
        .annotate(total=Sum("amount_micros"))
        .values("total")
    )
    return Coalesce(Subquery(total, output_field=BigIntegerField()), Value(0))


def ledger_accounts_with_balances(accounts: QuerySet[LedgerAccount]) -> QuerySet[LedgerAccount]:
    """Annotate `current_micros`: a person account's stored balance (one row), any other
    account's sum of entries."""
    return accounts.select_related("user", "project", "customer").annotate(
        current_micros=Case(
            When(kind__in=sorted(PERSON_KINDS), then=F("balance_micros")),
            default=_entries_total(),
            output_field=BigIntegerField(),
        )
    )


def ledger_account_balance(account: LedgerAccount) -> Micros:
    """The balance of `account` now: the stored one for a person, the sum of entries otherwise."""
    if account.keeps_balance:
        stored = LedgerAccount.objects.values_list("balance_micros", flat=True).get(pk=account.pk)
        return Micros(stored, account.currency)
    total = LedgerEntry.objects.filter(account=account).aggregate(total=Sum("amount_micros"))
    return Micros(total["total"] or 0, account.currency)


def ledger_transactions_list() -> QuerySet[LedgerTransaction]:
    """Every transaction, newest first, with its entries and their accounts (two queries)."""
    return LedgerTransaction.objects.select_related("actor", "reverses").prefetch_related(
        Prefetch("entries", queryset=LedgerEntry.objects.select_related("account").order_by("pk")),
        "reversed_by",
    )


@dataclass(frozen=True)
class BalanceDifference:
    account_id: int
    account_key: str
    stored_micros: int
    from_entries_micros: int


@dataclass(frozen=True)
class UnbalancedTransaction:
    transaction_id: int
    source_key: str
    currency: str
    net_micros: int


@dataclass
class ReconciliationReport:
    accounts_checked: int = 0
    transactions_checked: int = 0
    balance_differences: list[BalanceDifference] = field(default_factory=list)
    unbalanced_transactions: list[UnbalancedTransaction] = field(default_factory=list)
    rollup_differences: list[RollupDifference] = field(default_factory=list)

    @property
    def is_clean(self) -> bool:
        return (
            not self.balance_differences
            and not self.unbalanced_transactions
            and not self.rollup_differences
        )

    def lines(self) -> list[str]:
        """The report as lines of text, one per difference (empty when clean)."""
        return (
            [
                f"balance differs: account {d.account_id} ({d.account_key}) stores "
                f"{d.stored_micros} micros, its entries sum to {d.from_entries_micros}"
                for d in self.balance_differences
            ]
            + [
                f"transaction does not net to zero: {t.transaction_id} ({t.source_key}) "
                f"nets {t.net_micros:+d} micros of {t.currency}"
                for t in self.unbalanced_transactions
            ]
            + [
                f"daily earnings rollup differs from the ledger: person {user_id}, {day}, "
                + (f"project {project_id}" if project_id is not None else "bonuses")
                + f", {currency}: rollup {_cell_text(d.rolled_up)}, ledger {_cell_text(d.from_ledger)}"
                " (run manage.py earning_days_rebuild)"
                for d in self.rollup_differences
                for user_id, day, project_id, currency in [d.key]
            ]
        )


def _cell_text(cell: Cell) -> str:
    return (
        f"earned {cell.earned_micros}, reversed {cell.reversed_micros}, pieces {cell.pieces}, "
        f"bonus {cell.bonus_micros} micros"
    )


def ledger_reconciliation() -> ReconciliationReport:
    """Recompute every person balance from its entries and every transaction's net per currency,
    and the daily earnings rollup from the entries up to its mark; report each difference. A few
    aggregate queries, whatever the size of the ledger."""
    with transaction.atomic():  # the rollup's mark is locked only while it is compared
        report = ReconciliationReport(rollup_differences=earning_days_differences())
    accounts = (
        LedgerAccount.objects.filter(kind__in=sorted(PERSON_KINDS))
        .annotate(from_entries=_entries_total())
        .values_list("pk", "key", "balance_micros", "from_entries")
        .order_by("pk")
    )
    for pk, key, stored, from_entries in accounts.iterator(chunk_size=2000):
        report.accounts_checked += 1
        if stored != from_entries:
            report.balance_differences.append(BalanceDifference(pk, key, stored, from_entries))
    # Platform accounts hold no stored balance: a non-zero one is a difference too.
    for pk, key, stored in (
        LedgerAccount.objects.exclude(kind__in=sorted(PERSON_KINDS))
        .exclude(balance_micros=0)
        .values_list("pk", "key", "balance_micros")
    ):
        report.balance_differences.append(BalanceDifference(pk, key, stored, 0))
    report.accounts_checked += LedgerAccount.objects.exclude(kind__in=sorted(PERSON_KINDS)).count()
    report.transactions_checked = LedgerTransaction.objects.count()
    nets = (
        LedgerEntry.objects.values("transaction_id", "transaction__source_key", "account__currency")
        .annotate(net=Sum("amount_micros"))
        .exclude(net=0)
        .order_by("transaction_id", "account__currency")
    )
    for row in nets:
        report.unbalanced_transactions.append(
            UnbalancedTransaction(
                row["transaction_id"],
                row["transaction__source_key"],
                row["account__currency"],
                row["net"],
            )
        )
    return report


def project_labour_cost(
    project_ids: Iterable[int], currency: str | None = None
) -> dict[int, list[Micros]]:
    """What each project's work has cost in labour: the entries of its labour-expense accounts
    (debited as people earn, credited back by reversals), negated, per currency in code order;
    one query. A project with no entries is absent; `currency` keeps that currency only."""
    entries = LedgerEntry.objects.filter(
        account__kind=AccountKind.LABOUR_EXPENSE_PROJECT,
        account__project_id__in=list(project_ids),
    )
    if currency is not None:
        entries = entries.filter(account__currency=currency)
    totals = (
        entries.order_by()
        .values("account__project_id", "account__currency")
        .annotate(total=Sum("amount_micros"))
        .order_by("account__project_id", "account__currency")
        .values_list("account__project_id", "account__currency", "total")
    )
    costs: dict[int, list[Micros]] = {}
    for project_id, code, total in totals:
        costs.setdefault(project_id, []).append(Micros(-int(total or 0), code))
    return costs
