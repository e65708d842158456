"""Training and test time: answered items of training modules and qualification tests earn at a
training or test rate only while the operator setting pays training time, per hour or per item,
from the server-measured time of each answer; labeling announces them as `check_answered`, not as
production work."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.db.models import Sum
from django.urls import reverse
from django.utils import timezone

from core.errors import ValidationFailed
from labeling.events import check_answered_send, work_scored, work_submitted
from labeling.models import CheckAnswer
from labeling.services.checks import check_attempt_begin, check_item_answer
from payments.models import Earning, LedgerEntry, LedgerTransaction
from payments.selectors.earnings_pages import earnings_day_lines, line_title
from payments.selectors.ledger import ledger_reconciliation
from payments.services.earnings import (
    earning_accrue_check,
    earnings_hourly_finalise_due,
    hourly_amount,
)
from quality.performance.models import PersonHour
from quality.performance.rollups import rollups_rebuild
from tests.labeling.factories import add_tasks, annotate, make_check, make_project, make_worker
from tests.payments.earnings.helpers import expected_payable, payable, pending, price
from tests.payments.factories import expense_of, rate, rate_version

pytestmark = pytest.mark.django_db

PER_ITEM = 25_000  # 0.025 a training answer: sub-cent, so the remainder is exercised
PER_HOUR = 7_777_777  # no whole number of micros per second
IDLE_CAP = 120  # make_project's default idle cap


@pytest.fixture
def paid(settings):
    settings.QUORUM_TRAINING_TIME_PAID = True


def _card(project, *rates, customer=None):
    start = timezone.now() - timedelta(days=1)
    return rate_version(
        *rates,
        project=None if customer else project,
        customer=customer,
        now=start,
        effective_from=start,
    )


def labour_cost(project):
    """The project's labour expense, summed from its entries (platform balances are derived)."""
    entries = LedgerEntry.objects.filter(account=expense_of(project))
    return entries.aggregate(total=Sum("amount_micros"))["total"] or 0


def _attempt(worker, check, gaps):
    """`worker` begins an attempt now and answers its items `gaps` seconds apart (right or
    wrong: training time is paid whatever the score); return the answers' moments."""
    now = timezone.now()
    attempt = check_attempt_begin(user=worker, check=check, now=now)
    moments = []
    for task_id, gap in zip(attempt.item_ids, gaps, strict=False):
        now += timedelta(seconds=gap)
        check_item_answer(attempt=attempt, task_id=task_id, result={"label": "cat"}, now=now)
        moments.append(now)
    return attempt, moments


def test_the_server_measures_each_answer_from_the_previous_sign_capped_at_the_idle_cap():
    check, _, _ = make_check("training")
    worker = make_worker()

    attempt, _ = _attempt(worker, check, [40, 500, 7])

    seconds = list(
        CheckAnswer.objects.filter(attempt=attempt)
        .order_by("answered_at")
        .values_list("active_seconds", flat=True)
    )
    assert seconds == [40, IDLE_CAP, 7]


def test_nothing_accrues_while_training_time_is_not_paid(settings):
    settings.QUORUM_TRAINING_TIME_PAID = False
    check, project, _ = make_check("training")
    _card(project, rate("training", PER_ITEM), rate("test", PER_ITEM))
    worker = make_worker()

    _attempt(worker, check, [30, 30])

    assert not Earning.objects.filter(user=worker).exists()
    assert not LedgerTransaction.objects.filter(source_key__startswith="earning:").exists()


@pytest.mark.usefixtures("paid")
def test_a_per_item_training_rate_pays_each_answer_at_once():
    check, project, _ = make_check("training", ("cat", "dog", "bird", "cat"))
    _card(project, rate("training", PER_ITEM))
    worker = make_worker()

    attempt, _ = _attempt(worker, check, [30, 30, 30, 30])

    earnings = list(Earning.objects.filter(user=worker).order_by("pk"))
    answers = list(CheckAnswer.objects.filter(attempt=attempt).order_by("pk"))
    assert [e.check_answer_id for e in earnings] == [a.pk for a in answers]
    assert {(e.work_kind, e.unit, e.status) for e in earnings} == {
        ("training", "per_task", "payable")
    }
    assert all(e.amount_micros == PER_ITEM for e in earnings)
    assert payable(worker) == expected_payable(worker) == 100_000  # 4 x 0.025 = 0.10
    assert pending(worker) == 0
    keys = set(
        LedgerTransaction.objects.filter(source_key__startswith="earning:accrue:").values_list(
            "source_key", flat=True
        )
    )
    assert keys == {f"earning:accrue:check_item:{a.pk}" for a in answers}
    assert labour_cost(project) == -4 * PER_ITEM
    assert ledger_reconciliation().is_clean


@pytest.mark.usefixtures("paid")
def test_a_per_hour_test_rate_accrues_the_days_measured_seconds_payable_after_the_day():
    check, project, _ = make_check("test", ("cat", "dog", "bird"))
    _card(project, rate("test", PER_HOUR, unit="per_hour"))
    worker = make_worker()

    _, moments = _attempt(worker, check, [40, 500, 7])

    (day,) = Earning.objects.filter(user=worker)
    assert (day.work_kind, day.unit, day.status) == ("test", "per_hour", "pending")
    assert day.active_seconds == 40 + IDLE_CAP + 7
    assert day.amount_micros == hourly_amount(seconds=167, rate_micros=PER_HOUR)
    assert pending(worker) == day.amount_micros

    earnings_hourly_finalise_due(before=day.earned_on + timedelta(days=1), at=moments[-1])

    day.refresh_from_db()
    assert day.status == "payable"
    assert payable(worker) == expected_payable(worker)
    assert ledger_reconciliation().is_clean


@pytest.mark.usefixtures("paid")
@pytest.mark.parametrize("unit", ["per_task", "per_hour"])
def test_repeating_the_event_changes_nothing(unit):
    check, project, _ = make_check("training")
    _card(project, rate("training", PER_HOUR if unit == "per_hour" else PER_ITEM, unit=unit))
    worker = make_worker()
    attempt, _ = _attempt(worker, check, [45])
    answer = CheckAnswer.objects.get(attempt=attempt)
    before = (
        list(Earning.objects.filter(user=worker).values_list("amount_micros", "status")),
        LedgerTransaction.objects.count(),
        pending(worker),
        payable(worker),
    )

    with transaction.atomic():
        check_answered_send(
            user_id=worker.pk,
            project_id=project.pk,
            check_kind="training",
            task_id=answer.task_id,
            answer_id=answer.pk,
            active_seconds=answer.active_seconds,
            answered_at=answer.answered_at,
        )

    after = (
        list(Earning.objects.filter(user=worker).values_list("amount_micros", "status")),
        LedgerTransaction.objects.count(),
        pending(worker),
        payable(worker),
    )
    assert after == before
    assert before[1] > 0


@pytest.mark.usefixtures("paid")
def test_the_customers_default_card_prices_training_when_the_project_has_no_card():
    check, project, _ = make_check("training")
    _card(project, rate("training", PER_ITEM), customer=project.customer)
    worker = make_worker()

    _attempt(worker, check, [30, 30])

    earnings = Earning.objects.filter(user=worker)
    assert earnings.count() == 2
    assert {e.rate_version.card.project_id for e in earnings} == {None}


@pytest.mark.usefixtures("paid")
def test_a_project_card_wins_over_the_default_and_without_a_training_rate_pays_nothing():
    priced, priced_project, _ = make_check("training", ("cat",))
    unpriced, unpriced_project, _ = make_check("training", ("cat",))
    for project in (priced_project, unpriced_project):
        _card(project, rate("training", 1_000_000), customer=project.customer)
    _card(priced_project, rate("training", PER_ITEM))
    _card(unpriced_project, rate("annotation", PER_ITEM))  # replaces the default as a whole
    worker = make_worker()

    _attempt(worker, priced, [30])
    _attempt(worker, unpriced, [30])

    (earning,) = Earning.objects.filter(user=worker)
    assert earning.project_id == priced_project.pk
    assert earning.amount_micros == PER_ITEM
    assert earning.rate_version.card.project_id == priced_project.pk


def test_a_kind_that_is_not_a_check_is_refused_naming_the_field():
    with pytest.raises(ValidationFailed) as refused:
        earning_accrue_check(
            user_id=1,
            project_id=1,
            check_kind="annotation",
            task_id=1,
            answer_id=1,
            active_seconds=1,
            answered_at=timezone.now(),
        )

    assert "check_kind" in refused.value.extra["fields"]


@pytest.mark.usefixtures("paid")
def test_training_answers_are_not_production_work_for_quality_or_labour_cost():
    check, check_project, _ = make_check("training")
    _card(check_project, rate("training", PER_ITEM))
    production = make_project(gold_warmup=0)
    price(production)
    add_tasks(production, 1)
    worker = make_worker()
    annotate(production, worker, "cat")
    rollups_rebuild(now=timezone.now() + timedelta(hours=1))
    hours_before = list(PersonHour.objects.filter(user=worker).values())
    cost_before = labour_cost(production)
    announced = []

    def spy(sender, **facts):
        announced.append(facts)

    work_submitted.connect(spy, dispatch_uid="test-spy-submitted")
    work_scored.connect(spy, dispatch_uid="test-spy-scored")
    try:
        _attempt(worker, check, [30, 30, 30, 30])
    finally:
        work_submitted.disconnect(dispatch_uid="test-spy-submitted")
        work_scored.disconnect(dispatch_uid="test-spy-scored")
    rollups_rebuild(now=timezone.now() + timedelta(hours=1))

    assert Earning.objects.filter(user=worker, project=check_project).count() == 4
    assert announced == []
    assert list(PersonHour.objects.filter(user=worker).values()) == hours_before
    assert not PersonHour.objects.filter(project=check_project).exists()
    assert labour_cost(production) == cost_before < 0


@pytest.mark.usefixtures("paid")
def test_the_earnings_page_names_the_training_module_and_the_test(client):
    training, training_project, _ = make_check("training", ("cat",))
    test, test_project, _ = make_check("test", ("cat",))
    for project, kind in ((training_project, "training"), (test_project, "test")):
        _card(project, rate(kind, PER_ITEM))
    worker = make_worker()
    _attempt(worker, training, [30])
    _attempt(worker, test, [30])
    client.force_login(worker)

    page = client.get(reverse("payments:earnings")).content.decode()

    titles = {line.title for line in earnings_day_lines(worker.pk)}
    assert titles == {
        f"Training module {training.name} in {training_project.name}",
        f"Qualification test {test.name} in {test_project.name}",
    }
    assert all(title in page for title in titles)


def test_a_production_line_is_titled_by_its_project_alone():
    assert line_title(project_name="Cats", purpose="work", check_name=None) == "Cats"
