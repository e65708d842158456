"""Property: whatever sequence of submissions, verdicts, reworks, final tasks, rate changes,
suspensions and hold decisions happens, the ledger holds its invariants and each person's pay is
what a plain recomputation from those facts gives.

The sequence is played through labeling's own events (the contract payments listens to), with
work ids made up by the test; rates, holds and suspensions go through their services.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kit.money import micros_per_minor
from labeling.events import work_final_send, work_scored_send, work_submitted_send
from payments.models import Earning, Hold, LedgerTransaction
from payments.selectors.ledger import ledger_reconciliation
from payments.services.holds import hold_forfeit, hold_release
from tests.labeling.factories import make_project, make_worker
from tests.payments.earnings.helpers import payable, pending
from tests.payments.factories import rate, rate_version
from workforce.models import AnnotatorProfile, AnnotatorStatus
from workforce.services import annotator_status_set

pytestmark = pytest.mark.django_db

RATES = [3_500, 10_000, 12_345, 50_000, 999]  # sub-minor rates in every currency below

SUBMIT = st.tuples(st.just("submit"), st.integers(0, 1))
FINAL = st.tuples(st.just("final"), st.integers(0, 5))
# Submissions and final tasks come more often than the rest, so pay piles up across roundings.
STEP = st.one_of(
    SUBMIT,
    FINAL,
    SUBMIT,
    FINAL,
    SUBMIT,
    FINAL,
    st.tuples(st.just("approve"), st.integers(0, 5)),
    st.tuples(st.just("reject"), st.integers(0, 5)),
    st.tuples(st.just("rework"), st.integers(0, 5)),
    st.tuples(st.just("final"), st.integers(0, 5)),
    st.tuples(st.just("rate"), st.integers(0, len(RATES) - 1)),
    st.tuples(st.just("suspend"), st.integers(0, 1)),
    st.tuples(st.just("reinstate"), st.integers(0, 1)),
    st.tuples(st.just("release"), st.integers(0, 5)),
    st.tuples(st.just("forfeit"), st.integers(0, 5)),
    st.tuples(st.just("repeat"), st.integers(0, 20)),
    # A submission that makes its task final at once (its work_final follows with the same
    # moment): a new task's only annotation, or one more on an open task (whose other pending
    # pay then becomes payable with it). On PostgreSQL the first is made payable with its
    # accrual, in one posting, whenever nothing holds it.
    st.tuples(st.just("submit_final"), st.integers(0, 1)),
    st.tuples(st.just("submit_final"), st.integers(0, 1)),
    st.tuples(st.just("join_final"), st.integers(0, 5)),
)


@dataclass
class Work:
    """What the test knows of one piece of work: the plain facts, and the pay they mean."""

    user_id: int
    task_id: int
    source: str  # "annotation" or "review"
    source_id: int
    amount: int
    status: str = "pending"  # pending, held, payable, reversed


@dataclass
class TaskFact:
    task_id: int
    author_index: int
    annotation_id: int
    is_final: bool = False
    is_rejected: bool = False


@pytest.fixture
def cast():
    return make_project(gold_warmup=0), [make_worker(), make_worker()], make_worker()


def _expected_balances(works: list[Work], currency: str) -> tuple[int, int]:
    """(payable, pending) from the facts: payable earnings rounded down to whole minor units;
    pending the rest of what was earned and not reversed."""
    step = micros_per_minor(currency)
    final = sum(w.amount for w in works if w.status == "payable")
    waiting = sum(w.amount for w in works if w.status in ("pending", "held"))
    whole = final // step * step
    return whole, waiting + final - whole


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    currency=st.sampled_from(["USD", "JPY", "KWD"]),
    steps=st.lists(STEP, min_size=1, max_size=40),
)
def test_pay_equals_a_recomputation_from_the_facts_after_any_sequence(cast, currency, steps):
    project, people, reviewer = cast
    with transaction.atomic():
        clock = timezone.now() + timedelta(seconds=1)
        rate_version(
            rate("annotation", RATES[0]),
            rate("review", RATES[1], review_level=1),
            project=project,
            currency=currency,
            now=clock,
            effective_from=clock,
        )
        current = {"annotation": RATES[0], "review": RATES[1]}
        ids = itertools.count(1)
        tasks: list[TaskFact] = []
        works: list[Work] = []
        sent: list[dict] = []
        suspended = {0: False, 1: False}

        def submit(user_id, task_id, source, source_id, kind, completes_task=False):
            event = {
                "user_id": user_id,
                "project_id": project.pk,
                "task_id": task_id,
                "annotation_id": source_id if source == "annotation" else None,
                "review_id": source_id if source == "review" else None,
                "review_level": 1 if source == "review" else None,
                "kind": kind,
                "active_seconds": 20,
                "submitted_at": clock,
                "completes_task": completes_task,
            }
            work_submitted_send(**event)
            sent.append(event)
            works.append(Work(user_id, task_id, source, source_id, current[source]))

        def finalise(task):
            task.is_final = True
            work_final_send(project_id=project.pk, task_id=task.task_id, completed_at=clock)
            for w in works:
                if w.task_id == task.task_id and w.status == "pending":
                    by_suspended = any(suspended[i] and people[i].pk == w.user_id for i in (0, 1))
                    w.status = "held" if by_suspended else "payable"

        def open_task(i):
            live = [t for t in tasks if not t.is_final]
            return live[i % len(live)] if live else None

        for kind, n in steps:
            clock += timedelta(seconds=1)
            task = open_task(n) if tasks else None
            if kind == "submit" and not suspended[n]:
                fact = TaskFact(next(ids), n, next(ids))
                tasks.append(fact)
                submit(people[n].pk, fact.task_id, "annotation", fact.annotation_id, "annotate")
            elif kind in ("approve", "reject") and task and not task.is_rejected:
                review_id = next(ids)
                submit(reviewer.pk, task.task_id, "review", review_id, "review")
                if kind == "reject":
                    task.is_rejected = True
                    work_scored_send(
                        user_id=people[task.author_index].pk,
                        project_id=project.pk,
                        task_id=task.task_id,
                        annotation_id=task.annotation_id,
                        source="review",
                        verdict="reject",
                        review_id=review_id,
                    )
                    for w in works:
                        if w.source == "annotation" and w.source_id == task.annotation_id:
                            w.status = "reversed"
            elif kind == "rework" and task and task.is_rejected:
                task.is_rejected, task.annotation_id = False, next(ids)
                author = people[task.author_index]
                submit(author.pk, task.task_id, "annotation", task.annotation_id, "rework")
            elif kind == "final" and task and not task.is_rejected:
                finalise(task)
            elif kind == "submit_final":  # (a suspended person's work in flight is held)
                fact = TaskFact(next(ids), n, next(ids))
                tasks.append(fact)
                author = people[n].pk
                submit(author, fact.task_id, "annotation", fact.annotation_id, "annotate", True)
                finalise(fact)
            elif kind == "join_final" and task and not task.is_rejected:
                person = people[n % 2].pk
                submit(person, task.task_id, "annotation", next(ids), "annotate", True)
                finalise(task)
            elif kind == "rate":
                current = {"annotation": RATES[n], "review": RATES[-1 - n]}
                rate_version(
                    rate("annotation", current["annotation"]),
                    rate("review", current["review"], review_level=1),
                    project=project,
                    currency=currency,
                    now=clock,
                    effective_from=clock,
                )
            elif kind in ("suspend", "reinstate"):
                wanted = kind == "suspend"
                if suspended[n] != wanted:
                    profile = AnnotatorProfile.objects.get(user=people[n])
                    annotator_status_set(
                        profile=profile,
                        status=AnnotatorStatus.SUSPENDED if wanted else AnnotatorStatus.ACTIVE,
                        actor=None,
                    )
                    suspended[n] = wanted
            elif kind in ("release", "forfeit"):
                holds = list(Hold.objects.filter(resolved_at__isnull=True).order_by("pk"))
                if holds:
                    hold = holds[n % len(holds)]
                    decide = hold_release if kind == "release" else hold_forfeit
                    decide(hold=hold, actor=None, reason=f"{kind} in the property test")
                    for w in works:
                        if w.source_id == (hold.earning.review_id or hold.earning.annotation_id):
                            w.status = "payable" if kind == "release" else "reversed"
            elif kind == "repeat" and sent:
                before = LedgerTransaction.objects.count()
                work_submitted_send(**sent[n % len(sent)])
                assert LedgerTransaction.objects.count() == before

        report = ledger_reconciliation()
        assert report.is_clean, report.lines()
        stored = {
            (e.review_id or e.annotation_id): e.status
            for e in Earning.objects.filter(project=project)
        }
        assert stored == {w.source_id: w.status for w in works}
        for person in [*people, reviewer]:
            mine = [w for w in works if w.user_id == person.pk]
            assert (payable(person, currency), pending(person, currency)) == (
                _expected_balances(mine, currency)
            )
        # Every accrual again, in order: nothing changes.
        before = (LedgerTransaction.objects.count(), sorted(stored.items()))
        for event in sent:
            work_submitted_send(**event)
        after_stored = {
            (e.review_id or e.annotation_id): e.status
            for e in Earning.objects.filter(project=project)
        }
        assert (LedgerTransaction.objects.count(), sorted(after_stored.items())) == before
        transaction.set_rollback(True)
