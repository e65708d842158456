"""Personal data: the export holds a person's earnings, bonuses and statements; erasure keeps
the ledger (pseudonymous) and clears bonus figures only past the retention period."""

import json
from datetime import timedelta

import pytest

from accounts.erasure import personal_data_erase
from accounts.models import Role
from accounts.personal_data import personal_data_export
from payments.models import IncentiveBonusLine, LedgerEntry
from payments.selectors.ledger import ledger_reconciliation
from payments.services.incentives import incentive_period_close
from tests.factories import make_user
from tests.payments.incentives.helpers import WEEK, accrual, program, rolled_up_until, work

pytestmark = pytest.mark.django_db


@pytest.fixture
def earned(person, project):
    rolled_up_until(WEEK + timedelta(days=7))
    accrual(person, project, 2_000_000, "pd-1", WEEK + timedelta(hours=2))
    work(person, project, final_tasks=10)
    incentive_period_close(
        program=program(), starts_at=WEEK, actor=None, now=WEEK + timedelta(days=8)
    )
    return person


def test_the_export_holds_earnings_lines_bonuses_and_statements(earned):
    document = json.loads("".join(personal_data_export(user=earned)))

    section = document["sections"]["earnings"]
    assert section["retention_years"] == 7
    assert section["earnings_lines"][0]["earned_micros"] == 2_000_000
    assert section["bonuses"][0]["amount_minor"] == 1_000
    assert section["bonuses"][0]["figures"]["final_tasks"] == 10
    assert section["statements"] == [
        {
            "month": "2026-11",
            "totals": [
                {
                    "currency": "USD",
                    "earned_micros": 2_000_000,
                    "reversed_micros": 0,
                    "bonus_micros": 10_000_000,
                    "total_micros": 12_000_000,
                }
            ],
        }
    ]


def test_erasure_keeps_the_ledger_and_recent_bonus_figures(earned):
    entries = LedgerEntry.objects.filter(account__user=earned).count()

    outcome = personal_data_erase(user=earned, actor=make_user(Role.ADMIN, mfa=True))

    assert outcome["earnings"] == {"bonus_lines_kept": 1, "ledger_entries_kept": entries}
    assert IncentiveBonusLine.objects.get().figures["final_tasks"] == 10
    assert LedgerEntry.objects.filter(account__user=earned).count() == entries
    assert ledger_reconciliation().is_clean


def test_erasure_clears_bonus_figures_past_the_retention_period(earned, settings):
    settings.QUORUM_EARNINGS_RETENTION_YEARS = 0

    outcome = personal_data_erase(user=earned, actor=None)

    assert outcome["earnings"]["bonus_figures_cleared"] == 1
    line = IncentiveBonusLine.objects.get()
    assert "final_tasks" not in line.figures and line.amount_minor == 1_000
