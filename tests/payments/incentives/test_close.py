"""Closing an incentive period: one bonus per person, posted once, with the figures that produced
it; the version in force at the period's end; the cap and the budget; the preview equals it."""

from datetime import timedelta

import pytest
from django.db.models import Sum

from accounts.models import Role
from core.errors import Conflict, PermissionDenied, ValidationFailed
from core.models import AuditEvent
from payments.models import (
    AccountKind,
    IncentiveBonusLine,
    IncentivePeriod,
    IncentivePeriodStatus,
    LedgerEntry,
    LedgerTransaction,
)
from payments.selectors.incentives import incentive_periods_due
from payments.selectors.ledger import ledger_reconciliation
from payments.services.incentives import (
    VersionSpec,
    incentive_period_close,
    incentive_period_close_start,
    incentive_period_preview,
    incentive_version_add,
)
from payments.services.ledger import ledger_account_get_or_create
from payments.tasks import incentive_periods_close_due
from tests.factories import make_team, make_user
from tests.labeling.factories import make_project
from tests.payments.incentives.helpers import (
    PROGRAM_START,
    WEEK,
    accrual,
    program,
    rolled_up_until,
    work,
)

pytestmark = pytest.mark.django_db

AFTER = WEEK + timedelta(days=8)


@pytest.fixture(autouse=True)
def _rolled_up():
    rolled_up_until(WEEK + timedelta(days=7))


def _bonuses():
    return LedgerTransaction.objects.filter(source_key__startswith="incentive:")


def test_close_pays_the_tier_met_to_payable_against_bonus_expense_and_keeps_the_figures(project):
    good, short = make_user(Role.ANNOTATOR), make_user(Role.ANNOTATOR)
    work(good, project, final_tasks=12, gold_scored=20, gold_correct=20)
    work(short, project, final_tasks=9)
    quality_week = program()

    period = incentive_period_close(program=quality_week, starts_at=WEEK, actor=None, now=AFTER)

    assert period.status == IncentivePeriodStatus.CLOSED and period.paid_minor == 1_000
    posted = _bonuses().get()
    entries = {e.account.kind: e.amount_micros for e in posted.entries.select_related("account")}
    assert entries == {AccountKind.PAYABLE: 10_000_000, AccountKind.BONUS_EXPENSE: -10_000_000}
    line = IncentiveBonusLine.objects.get(user=good)
    assert line.transaction == posted and line.tier == 1 and line.amount_minor == 1_000
    assert line.figures["final_tasks"] == 12 and line.figures["gold_scored"] == 20
    assert line.figures["checks"] == [
        {
            "threshold": "min_final_tasks",
            "label": "final tasks",
            "required": 10,
            "actual": 12,
            "met": True,
        }
    ]
    missed = IncentiveBonusLine.objects.get(user=short)
    assert missed.amount_minor == 0 and missed.transaction is None and missed.tier is None
    assert ledger_reconciliation().is_clean


def test_closing_twice_posts_nothing_twice(project):
    person = make_user(Role.ANNOTATOR)
    work(person, project, final_tasks=40)
    quality_week = program()
    incentive_period_close(program=quality_week, starts_at=WEEK, actor=None, now=AFTER)

    again = incentive_period_close(program=quality_week, starts_at=WEEK, actor=None, now=AFTER)

    assert again.status == IncentivePeriodStatus.CLOSED
    assert _bonuses().count() == 1 and IncentiveBonusLine.objects.count() == 1
    assert IncentivePeriod.objects.count() == 1


def test_a_close_stopped_midway_resumes_without_paying_anyone_twice(project):
    people = [make_user(Role.ANNOTATOR) for _ in range(5)]
    for person in people:
        work(person, project, final_tasks=20)
    quality_week = program()
    period = incentive_period_close_start(
        program=quality_week, starts_at=WEEK, actor=None, now=AFTER
    )
    # As if a worker died after posting two people's bonuses: their lines are paid, the rest not.
    from payments.services import incentives

    incentives._judge_batch(period_id=period.pk, user_ids=[p.pk for p in people])
    incentives._judging_done(period_id=period.pk)
    incentives._post_batch(period_id=period.pk, batch_size=2)

    closed = incentives.incentive_period_close_run(period_id=period.pk, batch_size=2)

    assert closed.status == IncentivePeriodStatus.CLOSED
    assert _bonuses().count() == 5 and closed.paid_minor == 5_000
    assert closed.progress_percent == 100


def test_preview_equals_close_with_a_budget_that_stops(project):
    people = [make_user(Role.ANNOTATOR) for _ in range(4)]
    for count, person in zip((30, 10, 50, 10), people, strict=True):
        work(person, project, final_tasks=count)
    quality_week = program(
        tiers=[
            {"reward": 1_000, "min_final_tasks": 10},
            {"reward": 2_500, "min_final_tasks": 30},
        ],
        budget_minor=5_500,
        budget_policy="stop",
    )

    preview = incentive_period_preview(program=quality_week, starts_at=WEEK, batch_size=3)
    incentive_period_close(
        program=quality_week, starts_at=WEEK, actor=None, batch_size=3, now=AFTER
    )

    closed = dict(IncentiveBonusLine.objects.values_list("user_id", "amount_minor"))
    assert {line.user_id: line.amount_minor for line in preview.lines} == closed
    # Stop order: the best tier first (more final tasks first), then the lower user id.
    assert [closed[p.pk] for p in people] == [2_500, 500, 2_500, 0]
    assert preview.total_minor == 5_500 and preview.total_before_budget_minor == 7_000


def test_a_budget_reached_scales_everyone_down_and_the_close_pays_what_the_preview_said(project):
    people = [make_user(Role.ANNOTATOR) for _ in range(3)]
    for person in people:
        work(person, project, final_tasks=10)
    quality_week = program(budget_minor=2_000, budget_policy="scale")

    preview = incentive_period_preview(program=quality_week, starts_at=WEEK)
    period = incentive_period_close(program=quality_week, starts_at=WEEK, actor=None, now=AFTER)

    assert sorted(IncentiveBonusLine.objects.values_list("amount_minor", flat=True)) == [666] * 3
    assert period.paid_minor == preview.total_minor == 1_998
    assert period.awarded_before_budget_minor == 3_000


def test_the_cap_per_person_limits_a_multiplier_of_the_period_earnings(project):
    person = make_user(Role.ANNOTATOR)
    work(person, project, final_tasks=10)
    accrual(person, project, 500_000_000, "a1", WEEK + timedelta(hours=3))  # 500.00 USD
    accrual(person, project, 9_000_000, "before", WEEK - timedelta(hours=1))  # not this week
    quality_week = program(
        kind="multiplier", tiers=[{"reward": 100_000, "min_final_tasks": 10}], cap_minor=3_000
    )

    incentive_period_close(program=quality_week, starts_at=WEEK, actor=None, now=AFTER)

    line = IncentiveBonusLine.objects.get()
    assert line.figures["earnings_minor"] == 50_000
    assert (line.computed_minor, line.capped_minor, line.amount_minor) == (5_000, 3_000, 3_000)


def test_a_reversed_accrual_does_not_count_in_the_period_earnings(project):
    from payments.services.ledger import ledger_reverse

    person = make_user(Role.ANNOTATOR)
    work(person, project, final_tasks=10)
    kept = accrual(person, project, 100_000_000, "kept", WEEK + timedelta(hours=3))
    gone = accrual(person, project, 40_000_000, "gone", WEEK + timedelta(hours=4))
    ledger_reverse(transaction=gone, reason="rejected", actor=None, at=WEEK + timedelta(hours=5))
    quality_week = program(kind="multiplier", tiers=[{"reward": 500_000, "min_final_tasks": 1}])

    incentive_period_close(program=quality_week, starts_at=WEEK, actor=None, now=AFTER)

    assert kept.pk and IncentiveBonusLine.objects.get().figures["earnings_minor"] == 10_000
    assert IncentiveBonusLine.objects.get().amount_minor == 5_000


def test_a_program_changed_mid_period_is_judged_by_the_version_in_force_at_its_end(project):
    person = make_user(Role.ANNOTATOR)
    work(person, project, final_tasks=12)
    quality_week = program(tiers=[{"reward": 1_000, "min_final_tasks": 10}])
    changed = incentive_version_add(
        actor=None,
        program=quality_week,
        spec=VersionSpec(kind="bonus", tiers=[{"reward": 7_000, "min_final_tasks": 12}]),
        now=WEEK + timedelta(days=3),
    )
    incentive_version_add(  # from the next period on: not this one's
        actor=None,
        program=quality_week,
        spec=VersionSpec(kind="bonus", tiers=[{"reward": 9_000, "min_final_tasks": 1}]),
        now=WEEK + timedelta(days=7),
    )

    period = incentive_period_close(program=quality_week, starts_at=WEEK, actor=None, now=AFTER)

    assert period.version == changed
    line = IncentiveBonusLine.objects.get()
    assert line.version == changed and line.amount_minor == 7_000
    assert _bonuses().get().source_key == f"incentive:{changed.pk}:20261102:{person.pk}"


def test_a_project_program_counts_only_that_project(project):
    other = make_project()
    person = make_user(Role.ANNOTATOR)
    work(person, project, final_tasks=6)
    work(person, other, final_tasks=6)
    quality_week = program(scope="project", project=project)

    incentive_period_close(program=quality_week, starts_at=WEEK, actor=None, now=AFTER)

    assert IncentiveBonusLine.objects.get().figures["final_tasks"] == 6
    assert not _bonuses().exists()


def test_quality_thresholds_read_quality_measures_and_a_tie_meets_them(project):
    exact, below = make_user(Role.ANNOTATOR), make_user(Role.ANNOTATOR)
    work(exact, project, final_tasks=5, reviews_passed=19, reviews_failed=1)
    work(below, project, final_tasks=5, reviews_passed=18, reviews_failed=1)  # 94.7%
    work(
        exact,
        project,
        hour=WEEK + timedelta(hours=11),
        agreement_count=3,
        agreement_micros=2_850_000,
    )
    work(
        below,
        project,
        hour=WEEK + timedelta(hours=11),
        agreement_count=3,
        agreement_micros=2_850_000,
    )
    quality_week = program(
        tiers=[{"reward": 2_000, "min_review_pass_ppm": 950_000, "min_agreement_ppm": 950_000}]
    )

    incentive_period_close(program=quality_week, starts_at=WEEK, actor=None, now=AFTER)

    paid = dict(IncentiveBonusLine.objects.values_list("user_id", "amount_minor"))
    assert paid == {exact.pk: 2_000, below.pk: 0}
    line = IncentiveBonusLine.objects.get(user=exact)
    assert (
        line.figures["review_pass_rate_ppm"] == 950_000 and line.figures["agreement_ppm"] == 950_000
    )


def test_a_period_closes_only_after_it_ends_and_its_figures_are_rolled_up(project):
    quality_week = program()

    with pytest.raises(Conflict):
        incentive_period_close_start(
            program=quality_week, starts_at=WEEK, actor=None, now=WEEK + timedelta(days=6)
        )
    rolled_up_until(WEEK + timedelta(days=6))
    with pytest.raises(Conflict) as error:
        incentive_period_close_start(program=quality_week, starts_at=WEEK, actor=None, now=AFTER)
    assert error.value.code == "figures_incomplete"


def test_a_period_start_that_is_not_one_is_refused_naming_the_field():
    quality_week = program()

    with pytest.raises(ValidationFailed) as error:
        incentive_period_preview(program=quality_week, starts_at=WEEK + timedelta(days=1))

    assert "period_start" in error.value.extra["fields"]


def test_the_beat_task_closes_every_due_period_once(project, django_capture_on_commit_callbacks):
    person = make_user(Role.ANNOTATOR)
    work(person, project, final_tasks=10)
    work(person, project, hour=WEEK - timedelta(days=3), final_tasks=10)
    program()
    due = incentive_periods_due(now=AFTER)
    assert [d.starts_at for d in due] == [
        PROGRAM_START,
        PROGRAM_START + timedelta(days=7),
        WEEK,
    ]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("django.utils.timezone.now", lambda: AFTER)
        with django_capture_on_commit_callbacks(execute=True):
            started = incentive_periods_close_due()
        with django_capture_on_commit_callbacks(execute=True):
            again = incentive_periods_close_due()

    assert (started, again) == (3, 0)
    assert _bonuses().count() == 2
    assert set(IncentivePeriod.objects.values_list("status", flat=True)) == {"closed"}
    assert incentive_periods_due(now=AFTER) == []


def test_only_finance_with_a_second_factor_manages_programs(project):
    without_mfa = make_user(Role.FINANCE)
    manager = make_user(Role.MANAGER, mfa=True)

    for actor in (without_mfa, manager):
        with pytest.raises(PermissionDenied):
            program(actor=actor)


def test_finance_creates_a_program_and_every_change_is_audited(finance):
    quality_week = program(actor=finance)
    incentive_version_add(
        actor=finance,
        program=quality_week,
        spec=VersionSpec(kind="bonus", tiers=[{"reward": 2_000, "min_final_tasks": 20}]),
    )

    actions = list(AuditEvent.objects.filter(actor=finance).values_list("action", flat=True))
    assert sorted(actions) == [
        "incentives.program_create",
        "incentives.version_add",
        "incentives.version_add",
    ]


def test_bonus_expense_equals_what_the_lines_paid(project):
    people = [make_user(Role.ANNOTATOR) for _ in range(3)]
    for person in people:
        work(person, project, final_tasks=10)
    incentive_period_close(program=program(), starts_at=WEEK, actor=None, now=AFTER)

    expense = LedgerEntry.objects.filter(account__kind=AccountKind.BONUS_EXPENSE).aggregate(
        s=Sum("amount_micros")
    )["s"]

    assert expense == -3_000 * 10_000


def test_a_bonus_posted_before_a_crash_is_not_posted_again_on_resume(project):
    person = make_user(Role.ANNOTATOR)
    work(person, project, final_tasks=10)
    quality_week = program()
    period = incentive_period_close_start(
        program=quality_week, starts_at=WEEK, actor=None, now=AFTER
    )
    from payments.services import incentives

    incentives._judge_batch(period_id=period.pk, user_ids=[person.pk])
    incentives._judging_done(period_id=period.pk)
    line = IncentiveBonusLine.objects.get()
    # The worker posted the bonus, then died before marking the line as paid.
    expense = ledger_account_get_or_create(kind=AccountKind.BONUS_EXPENSE, currency="USD")
    payable = ledger_account_get_or_create(kind=AccountKind.PAYABLE, currency="USD", user=person)
    incentives._bonus_post(line, 1_000, IncentivePeriod.objects.get(), payable, expense)

    incentives.incentive_period_close_run(period_id=period.pk)

    assert _bonuses().count() == 1
    assert IncentiveBonusLine.objects.get().transaction == _bonuses().get()


def test_a_project_multiplier_reads_only_that_projects_earnings(project):
    other = make_project()
    person = make_user(Role.ANNOTATOR)
    work(person, project, final_tasks=10)
    accrual(person, project, 30_000_000, "here", WEEK + timedelta(hours=1))
    accrual(person, other, 70_000_000, "there", WEEK + timedelta(hours=2))
    quality_week = program(
        scope="project",
        project=project,
        kind="multiplier",
        tiers=[{"reward": 100_000, "min_final_tasks": 10}],
    )

    incentive_period_close(program=quality_week, starts_at=WEEK, actor=None, now=AFTER)

    line = IncentiveBonusLine.objects.get()
    assert line.figures["earnings_minor"] == 3_000 and line.amount_minor == 300


def test_a_team_program_judges_only_the_teams_current_members(project):
    member, outsider = make_user(Role.ANNOTATOR), make_user(Role.ANNOTATOR)
    team = make_team(members=[member])
    work(member, project, final_tasks=10)
    work(outsider, project, final_tasks=10)
    quality_week = program(scope="team", team=team)

    incentive_period_close(program=quality_week, starts_at=WEEK, actor=None, now=AFTER)

    assert list(IncentiveBonusLine.objects.values_list("user_id", flat=True)) == [member.pk]


def test_a_day_program_has_utc_days_and_a_week_program_iso_weeks():
    from datetime import UTC, datetime

    from payments.selectors.incentives import period_bounds

    moment = datetime(2026, 11, 5, 23, 59, tzinfo=UTC)  # a Thursday

    assert period_bounds("day", moment) == (
        datetime(2026, 11, 5, tzinfo=UTC),
        datetime(2026, 11, 6, tzinfo=UTC),
    )
    assert period_bounds("week", moment) == (WEEK, WEEK + timedelta(days=7))
