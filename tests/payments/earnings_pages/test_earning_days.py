"""The daily rollup of earnings: kept from the ledger by adding what each run has not seen, equal
to a recomputation from the ledger, and the Earnings pages' figures the same whether a person's
entries are rolled up or not (the pages add the entries after the rollup's mark)."""

import io
import random
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.db.models import Max, Q

from accounts.models import Role
from kit.money import Micros
from payments.models import AccountKind, EarningDay, EarningDayMark, LedgerTransaction
from payments.selectors.earning_cells import earning_days_rolled_through, ledger_earning_cells
from payments.selectors.earnings_pages import (
    earnings_day_lines,
    earnings_statement_months,
    earnings_summary,
)
from payments.selectors.incentives import period_earnings_minor
from payments.selectors.ledger import ledger_reconciliation
from payments.services.earning_days import (
    earning_days_roll,
    earning_days_roll_through,
)
from payments.services.incentives import VersionSpec, incentive_program_create
from payments.services.ledger import Leg, ledger_account_get_or_create, ledger_post, ledger_reverse
from tests.factories import make_user
from tests.labeling.factories import make_project
from tests.payments.incentives.helpers import accrual, finalise

pytestmark = pytest.mark.django_db

START = datetime(2026, 10, 26, tzinfo=UTC)  # a Monday


def _bonus(user, micros, key, at, currency="USD"):
    """A bonus as a period's close posts it: payable +X against the bonus expense."""
    return ledger_post(
        source_key=f"incentive:{key}",
        legs=[
            Leg(
                account=ledger_account_get_or_create(
                    kind=AccountKind.PAYABLE, currency=currency, user=user
                ),
                amount=Micros(micros, currency),
            ),
            Leg(
                account=ledger_account_get_or_create(
                    kind=AccountKind.BONUS_EXPENSE, currency=currency
                ),
                amount=Micros(-micros, currency),
            ),
        ],
        actor=None,
        at=at,
    )


def _history(seed, people, projects, n=60):
    """A random history: accruals in two currencies over three weeks (some posted late, with an
    earlier time), finalisations, reversals of accruals and bonuses."""
    rng = random.Random(seed)
    posted = []
    for i in range(n):
        person, project = rng.choice(people), rng.choice(projects)
        at = START + timedelta(hours=rng.randrange(21 * 24), seconds=rng.randrange(3600))
        currency = rng.choice(["USD", "USD", "EUR"])
        txn = accrual(person, project, rng.randrange(1, 3_000_000), f"{seed}:{i}", at, currency)
        posted.append((txn, person, at, currency))
        roll = rng.random()
        if roll < 0.3:
            finalise(person, 10_000, f"{seed}:{i}", at + timedelta(hours=1), currency)
        elif roll < 0.45:
            ledger_reverse(
                transaction=txn,
                reason="rejected",
                actor=None,
                at=at + timedelta(hours=rng.randrange(1, 50)),
            )
        elif roll < 0.5:
            _bonus(person, 10_000 * rng.randrange(1, 9), f"{seed}:{i}", at.replace(hour=0))
    return posted


def _figures(person, now):
    """Everything the Earnings pages and the API read of a person's earnings."""
    return {
        "summary": [vars(s) for s in earnings_summary(person.pk, now=now)],
        "lines": earnings_day_lines(person.pk),
        "month": earnings_day_lines(
            person.pk,
            since=datetime(2026, 11, 1, tzinfo=UTC),
            until=datetime(2026, 12, 1, tzinfo=UTC),
        ),
        # Bounds inside days, as the API accepts them: partial days come from the ledger.
        "partial": earnings_day_lines(
            person.pk,
            since=START + timedelta(days=3, hours=7, minutes=30),
            until=START + timedelta(days=12, hours=15),
        ),
        "one_day": earnings_day_lines(
            person.pk,
            since=START + timedelta(days=5, hours=2),
            until=START + timedelta(days=5, hours=20),
        ),
        "months": earnings_statement_months(person.pk),
    }


def _rollup():
    return {
        (row.user_id, row.day, row.project_id, row.currency): (
            row.earned_micros,
            row.reversed_micros,
            row.pieces,
            row.bonus_micros,
        )
        for row in EarningDay.objects.all()
    }


def _recomputed(through):
    cells = ledger_earning_cells(Q(transaction_id__lte=through))
    return {
        key: (c.earned_micros, c.reversed_micros, c.pieces, c.bonus_micros)
        for key, c in cells.items()
    }


def _last_id():
    return LedgerTransaction.objects.aggregate(top=Max("pk"))["top"]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_rollup_kept_step_by_step_equals_a_recomputation_from_the_ledger(seed):
    people = [make_user(Role.ANNOTATOR) for _ in range(3)]
    projects = [make_project() for _ in range(2)]
    _history(seed, people, projects, n=30)
    earning_days_roll_through(through_id=_last_id(), step=7)
    _history(seed + 100, people, projects, n=30)  # more, some on days already rolled up

    earning_days_roll_through(through_id=_last_id(), step=5)

    assert _rollup() == _recomputed(_last_id())
    assert earning_days_rolled_through() == _last_id()


@pytest.mark.parametrize("seed", [4, 5])
def test_the_pages_figures_are_the_same_rolled_up_or_not(seed):
    people = [make_user(Role.ANNOTATOR) for _ in range(2)]
    projects = [make_project() for _ in range(3)]
    _history(seed, people, projects, n=80)
    now = START + timedelta(days=15, hours=13)
    from_ledger = {p.pk: _figures(p, now) for p in people}
    half = LedgerTransaction.objects.order_by("pk").values_list("pk", flat=True)[40]

    earning_days_roll_through(through_id=half)
    half_rolled = {p.pk: _figures(p, now) for p in people}
    earning_days_roll_through(through_id=_last_id())
    rolled = {p.pk: _figures(p, now) for p in people}

    assert from_ledger[people[0].pk]["lines"] and from_ledger[people[0].pk]["summary"]
    assert half_rolled == from_ledger
    assert rolled == from_ledger


def test_rolling_up_again_adds_nothing_twice():
    person, project = make_user(Role.ANNOTATOR), make_project()
    accrual(person, project, 1_500_000, "a", START + timedelta(hours=3))
    accrual(person, project, 2_500_000, "b", START + timedelta(hours=4))
    earning_days_roll_through(through_id=_last_id())

    earning_days_roll_through(through_id=_last_id())

    assert _rollup() == {
        (person.pk, START.date(), project.pk, "USD"): (4_000_000, 0, 2, 0),
    }


def test_the_job_rolls_up_what_its_previous_run_saw_once_that_has_settled(settings):
    settings.QUORUM_EARNING_DAYS_SETTLE_MINUTES = 10
    person, project = make_user(Role.ANNOTATOR), make_project()
    accrual(person, project, 1_000_000, "seen", START + timedelta(hours=1))
    t0 = START + timedelta(days=1)
    earning_days_roll(now=t0)  # notes the last id, rolls nothing
    seen = _last_id()
    accrual(person, project, 2_000_000, "later", START + timedelta(hours=2))

    early = earning_days_roll(now=t0 + timedelta(minutes=5))
    settled = earning_days_roll(now=t0 + timedelta(minutes=10))

    assert early.rolled_through_id == 0
    assert settled.rolled_through_id == seen
    assert _rollup() == {(person.pk, START.date(), project.pk, "USD"): (1_000_000, 0, 1, 0)}
    assert EarningDayMark.objects.get().seen_id == _last_id()
    summary = earnings_summary(person.pk, now=START + timedelta(hours=5))[0]
    assert summary.today == "3.00 USD"


def test_rebuild_makes_a_damaged_rollup_equal_to_the_ledger_again():
    person, project = make_user(Role.ANNOTATOR), make_project()
    _history(9, [person], [project], n=20)
    earning_days_roll_through(through_id=_last_id())
    damaged = EarningDay.objects.first()
    EarningDay.objects.filter(pk=damaged.pk).update(earned_micros=1)
    found = ledger_reconciliation()

    call_command("earning_days_rebuild", stdout=io.StringIO())

    assert [d.key for d in found.rollup_differences] == [
        (damaged.user_id, damaged.day, damaged.project_id, damaged.currency)
    ]
    assert found.rollup_differences[0].rolled_up.earned_micros == 1
    assert not found.is_clean and "earning_days_rebuild" in found.lines()[0]
    assert _rollup() == _recomputed(_last_id())
    assert earning_days_rolled_through() == _last_id()
    assert ledger_reconciliation().is_clean


def test_the_reconciliation_finds_a_posting_that_committed_after_the_rollup_passed_its_id():
    person, project = make_user(Role.ANNOTATOR), make_project()
    accrual(person, project, 1_000_000, "early", START + timedelta(hours=1))
    # The rollup moves past ids a posting has taken but not committed yet (it stayed open
    # longer than the settling time): that posting commits below the mark.
    earning_days_roll_through(through_id=_last_id() + 5)
    late = accrual(person, project, 2_000_000, "late", START + timedelta(hours=2))
    assert late.pk <= earning_days_rolled_through()
    assert ledger_reconciliation().balance_differences == []

    found = ledger_reconciliation()

    assert [
        (d.key, d.rolled_up.earned_micros, d.from_ledger.earned_micros)
        for d in found.rollup_differences
    ] == [((person.pk, START.date(), project.pk, "USD"), 1_000_000, 3_000_000)]
    call_command("earning_days_rebuild", stdout=io.StringIO())
    assert ledger_reconciliation().is_clean


def test_a_close_reads_the_same_period_earnings_rolled_up_or_not():
    people = [make_user(Role.ANNOTATOR) for _ in range(3)]
    projects = [make_project() for _ in range(2)]
    _history(7, people, projects, n=60)
    week = incentive_program_create(
        actor=None,
        name="Week",
        scope="project",
        project=projects[0],
        period="week",
        currency="USD",
        first_version=VersionSpec(
            kind="multiplier", tiers=[{"reward": 100_000, "min_final_tasks": 1}]
        ),
        now=START - timedelta(days=1),
    )
    ids = [p.pk for p in people]
    starts, ends = START + timedelta(days=7), START + timedelta(days=14)
    from_ledger = period_earnings_minor(week, starts, ends, ids)

    earning_days_roll_through(through_id=_last_id())

    assert from_ledger and period_earnings_minor(week, starts, ends, ids) == from_ledger
