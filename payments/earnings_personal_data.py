"""payments' section of a person's data about their earnings: the export holds their earnings
(a line per day and project, from the ledger), their bonuses with the figures behind them, and
their statements' totals per month.

Erasure pseudonymises, it does not delete money: the ledger must balance and finance must keep
its records, so the person's ledger accounts, transactions and bonus lines stay, linked to the
user row that `accounts` makes anonymous (e-mail and name replaced). They are kept for the
retention period finance sets (`QUORUM_EARNINGS_RETENTION_YEARS`, default 7 years). The bonus
lines' figures (measures of the person's work) of periods that ended longer ago than that are
cleared by the erasure; the amounts stay, pseudonymous, as the ledger's own. docs/incentives.md
explains this to people and to finance.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from accounts.models import User
from accounts.personal_data import Erasure, PersonalDataSection, personal_data_section_register
from payments.models import IncentiveBonusLine, LedgerEntry
from payments.selectors.earnings_pages import (
    earnings_bonus_rows,
    earnings_day_lines,
    earnings_statement,
    earnings_statement_months,
)

ERASED_FIGURES = {"erased": "Cleared after the retention period."}


def retention() -> timedelta:
    """How long earnings records of an erased person keep their details (setting, in years)."""
    return timedelta(days=365 * settings.QUORUM_EARNINGS_RETENTION_YEARS)


def _lines(user: User) -> Iterator[dict[str, Any]]:
    for line in earnings_day_lines(user.pk):
        yield {
            "day": line.day,
            "project": line.project_id,
            "project_name": line.project_name,
            "currency": line.currency,
            "pieces": line.pieces,
            "earned_micros": line.earned_micros,
            "reversed_micros": line.reversed_micros,
        }


def _bonuses(user: User) -> Iterator[dict[str, Any]]:
    for row in earnings_bonus_rows(user.pk):
        yield {
            "program": row.line.period.program.name,
            "period_start": row.line.period.starts_at,
            "period_end": row.line.period.ends_at,
            "version": row.line.version.number,
            "tier": row.line.tier,
            "currency": row.currency,
            "amount_minor": row.line.amount_minor,
            "reason": row.reason,
            "figures": row.line.figures,
        }


def _statements(user: User) -> Iterator[dict[str, Any]]:
    for month in earnings_statement_months(user.pk):
        statement = earnings_statement(user.pk, month=month)
        if statement is None:
            continue
        yield {
            "month": month,
            "totals": [
                {
                    "currency": total.currency,
                    "earned_micros": total.earned_micros,
                    "reversed_micros": total.reversed_micros,
                    "bonus_micros": total.bonus_micros,
                    "total_micros": total.total_micros,
                }
                for total in statement.totals
            ],
        }


def _export(user: User) -> Mapping[str, Any]:
    return {
        "retention_years": settings.QUORUM_EARNINGS_RETENTION_YEARS,
        "earnings_lines": _lines(user),
        "bonuses": _bonuses(user),
        "statements": _statements(user),
    }


def _erase(erasure: Erasure) -> None:
    user = erasure.user
    cutoff = timezone.now() - retention()
    lines = IncentiveBonusLine.objects.filter(user_id=user.pk)
    cleared = (
        lines.filter(period__ends_at__lt=cutoff)
        .exclude(figures=ERASED_FIGURES)
        .update(figures=ERASED_FIGURES)
    )
    erasure.count("earnings", "bonus_figures_cleared", cleared)
    erasure.count("earnings", "bonus_lines_kept", lines.count())
    erasure.count(
        "earnings",
        "ledger_entries_kept",
        LedgerEntry.objects.filter(account__user_id=user.pk).count(),
    )


def register() -> None:
    """Register the earnings section (called from `PaymentsConfig.ready`)."""
    personal_data_section_register(
        PersonalDataSection(
            name="earnings",
            title="Earnings: a line per day and project, bonuses and why, statements",
            export=_export,
            erase=_erase,
            erase_order=510,
        )
    )
