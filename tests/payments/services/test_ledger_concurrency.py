"""Postings from many threads at once, on PostgreSQL: no lost update, no deadlock, and no wait on
a platform account shared by everyone who works on a project."""

import threading

import pytest
from django.db import connection, connections, transaction

from accounts.models import Role
from kit.money import Micros
from payments.selectors.ledger import ledger_account_balance, ledger_reconciliation
from tests.factories import make_user
from tests.labeling.factories import make_project
from tests.payments.factories import accrue, expense_of, pending_of

THREADS = 16
pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _run(target) -> list[str]:
    errors: list[str] = []

    def wrapped(n: int) -> None:
        try:
            target(n)
        except Exception as exc:  # reported to the test thread
            errors.append(repr(exc))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=wrapped, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a posting never finished"
    return errors


def test_sixteen_threads_accruing_for_one_person_lose_no_update():
    person = make_user(Role.ANNOTATOR)
    project = make_project()
    pending_of(person), expense_of(project)
    start = threading.Barrier(THREADS)

    def post(n: int) -> None:
        start.wait(timeout=30)
        for k in range(5):
            accrue(person, project, 3_500, f"annotation:{n}:{k}")
        accrue(person, project, 3_500, "annotation:shared")  # the same work, posted by all

    errors = _run(post)

    assert errors == []
    assert ledger_account_balance(pending_of(person)) == Micros((THREADS * 5 + 1) * 3_500, "USD")
    assert ledger_reconciliation().is_clean


def test_sixteen_people_accruing_to_one_project_never_wait_for_each_other():
    """Every thread holds its transaction open until all sixteen have posted, with a 200 ms
    lock timeout: if any posting needed a row another one holds (a shared balance row), it
    would time out instead of reaching the barrier."""
    people = [make_user(Role.ANNOTATOR) for _ in range(THREADS)]
    project = make_project()
    for person in people:
        pending_of(person)
    expense_of(project)
    all_posted = threading.Barrier(THREADS)

    def post(n: int) -> None:
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL lock_timeout = '200ms'")
            accrue(people[n], project, 3_500, f"annotation:{n}")
            all_posted.wait(timeout=30)

    errors = _run(post)

    assert errors == []
    assert ledger_account_balance(expense_of(project)) == Micros(-THREADS * 3_500, "USD")
    assert ledger_reconciliation().is_clean
