"""Earnings test data: rate cards made through the rate services, work done through labeling's
own services (so labeling's events drive payments exactly as in production)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone

from accounts.models import User
from kit.money import micros_per_minor
from labeling.models import Project
from payments.models import AccountKind, Earning, LedgerAccount, RateCardVersion
from tests.payments.factories import rate, rate_version

TASK_RATE = 50_000  # 0.05 per annotation
REVIEW_RATE = 20_000  # 0.02 per level-1 verdict
REVIEW2_RATE = 30_000  # 0.03 per level-2 verdict


def price(
    project: Project,
    *,
    annotation: int = TASK_RATE,
    review1: int = REVIEW_RATE,
    review2: int = REVIEW2_RATE,
    currency: str = "USD",
    unit: str = "per_task",
) -> RateCardVersion:
    """A project card in force from a moment ago: annotation, review level 1 and level 2."""
    return rate_version(
        rate("annotation", annotation, unit=unit),
        rate("review", review1, review_level=1),
        rate("review", review2, review_level=2),
        project=project,
        currency=currency,
        now=timezone.now() - timedelta(minutes=5),
        effective_from=timezone.now() - timedelta(minutes=5),
    )


def balance(user: User, kind: str, currency: str = "USD") -> int:
    """The person's stored balance of `kind` in micros (0 without an account)."""
    account = LedgerAccount.objects.filter(user=user, kind=kind, currency=currency).first()
    return account.balance_micros if account else 0


def pending(user: User, currency: str = "USD") -> int:
    return balance(user, AccountKind.PENDING, currency)


def payable(user: User, currency: str = "USD") -> int:
    return balance(user, AccountKind.PAYABLE, currency)


def expected_payable(user: User, currency: str = "USD") -> int:
    """The plain recomputation: the whole minor units of the person's payable earnings."""
    total = sum(
        Earning.objects.filter(user=user, currency=currency, status="payable").values_list(
            "amount_micros", flat=True
        )
    )
    step = micros_per_minor(currency)
    return total // step * step


def earnings_of(user: User, **filters: Any) -> list[Earning]:
    return list(Earning.objects.filter(user=user, **filters).order_by("pk"))


def rework(project: Project, worker: User, label: str = "dog") -> Any:
    """`worker` takes back their rejected work on `project` and hands it in again."""
    from labeling.models import SlotKind, WorkSlot
    from labeling.services.review import rework_claim
    from labeling.services.submit import lease_submit

    slot = WorkSlot.objects.get(
        project=project, kind=SlotKind.REWORK, assignee=worker, state="open"
    )
    lease = rework_claim(slot_id=slot.pk, user=worker).lease
    return lease_submit(lease_id=lease.pk, user=worker, result={"label": label})


def priced_consensus() -> Project:
    """A priced consensus project of two tasks, two labels each, taken oldest first."""
    from tests.labeling.factories import add_tasks, make_project

    project = make_project(pipeline="consensus", overlap=2, max_overlap=2, queue_order="oldest")
    price(project)
    add_tasks(project, 2)
    return project


def spammer_discounted(project: Project) -> tuple[User, list[Any], Any]:
    """A spammer answers both tasks of `project`; a rule on their gold record suspends them from
    it, which discounts that work. Return the spammer, their annotations and the rule action."""
    from quality.services.evaluation import rules_evaluate
    from tests.labeling.factories import annotate, make_worker
    from tests.quality.factories import GOLD_SPAM, gold_record, make_manager, spam_rule

    spammer = make_worker()
    work = [annotate(project, spammer, "bird"), annotate(project, spammer, "bird")]
    spam_rule(make_manager(), project=project, action="suspend_project")
    gold_record(project, spammer, GOLD_SPAM)
    [action] = rules_evaluate(user=spammer, project=project)
    return spammer, work, action
