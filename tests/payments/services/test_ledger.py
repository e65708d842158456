"""Posting to the ledger: balanced, once per source key, corrected only by reversal."""

import pytest
from django.db import IntegrityError, transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.models import Role
from core.errors import Conflict, ValidationFailed
from core.models import AuditEvent
from kit.money import Micros
from payments.models import (
    AccountKind,
    AppendOnlyError,
    LedgerAccount,
    LedgerEntry,
    LedgerTransaction,
)
from payments.selectors.ledger import ledger_account_balance, ledger_reconciliation
from payments.services.ledger import (
    Leg,
    _posting_shape,
    ledger_account_get_or_create,
    ledger_post,
    ledger_release_to_payable,
    ledger_reverse,
)
from tests.factories import make_user
from tests.labeling.factories import make_project
from tests.payments.factories import accrue, expense_of, payable_of, pending_of

pytestmark = pytest.mark.django_db


def test_a_posting_updates_the_persons_balance_and_the_projects_sum_of_entries(person, project):
    accrue(person, project, 3_500, "annotation:1")
    accrue(person, project, 3_500, "annotation:2")

    assert ledger_account_balance(pending_of(person)) == Micros(7_000, "USD")
    assert ledger_account_balance(expense_of(project)) == Micros(-7_000, "USD")
    assert LedgerAccount.objects.get(pk=expense_of(project).pk).balance_micros == 0


def test_repeating_a_source_key_returns_the_first_transaction_and_changes_nothing(person, project):
    first = accrue(person, project, 3_500, "annotation:1")

    again = accrue(person, project, 9_999, "annotation:1")

    assert again.pk == first.pk
    assert LedgerEntry.objects.count() == 2
    assert ledger_account_balance(pending_of(person)) == Micros(3_500, "USD")


def test_a_posting_that_does_not_net_to_zero_is_refused_naming_the_legs(person, project):
    legs = [
        Leg(account=pending_of(person), amount=Micros(100, "USD")),
        Leg(account=expense_of(project), amount=Micros(-99, "USD")),
    ]

    with pytest.raises(ValidationFailed) as refused:
        ledger_post(source_key="x:1", legs=legs, actor=None)

    assert "+1 micro-units of USD" in refused.value.extra["fields"]["legs"][0]
    assert not LedgerTransaction.objects.exists()


def test_nets_are_checked_per_currency(person, project):
    legs = [
        Leg(account=pending_of(person, "USD"), amount=Micros(100, "USD")),
        Leg(account=expense_of(project, "EUR"), amount=Micros(-100, "EUR")),
    ]

    with pytest.raises(ValidationFailed, match="net to zero"):
        ledger_post(source_key="x:1", legs=legs, actor=None)


def test_an_amount_in_another_currency_than_its_account_is_refused(person, project):
    legs = [
        Leg(account=pending_of(person, "USD"), amount=Micros(100, "EUR")),
        Leg(account=expense_of(project, "EUR"), amount=Micros(-100, "EUR")),
    ]

    with pytest.raises(ValidationFailed, match="cannot be posted") as refused:
        ledger_post(source_key="x:1", legs=legs, actor=None)

    assert "legs" in refused.value.extra["fields"]


def test_a_posting_without_a_source_key_is_refused(person, project):
    legs = [
        Leg(account=pending_of(person), amount=Micros(1, "USD")),
        Leg(account=expense_of(project), amount=Micros(-1, "USD")),
    ]

    with pytest.raises(ValidationFailed) as refused:
        ledger_post(source_key=" ", legs=legs, actor=None)

    assert "source_key" in refused.value.extra["fields"]


def test_payable_accepts_whole_minor_units_only(person, project):
    legs = [
        Leg(account=payable_of(person), amount=Micros(15_000, "USD")),
        Leg(account=expense_of(project), amount=Micros(-15_000, "USD")),
    ]

    with pytest.raises(ValidationFailed, match="whole minor units"):
        ledger_post(source_key="x:1", legs=legs, actor=None)


def test_an_account_for_the_wrong_owner_is_refused_naming_the_field(person, project):
    with pytest.raises(ValidationFailed) as refused:
        ledger_account_get_or_create(
            kind=AccountKind.LABOUR_EXPENSE_PROJECT, currency="USD", user=person
        )

    assert set(refused.value.extra["fields"]) == {"user"}
    with pytest.raises(ValidationFailed) as refused:
        ledger_account_get_or_create(kind=AccountKind.PENDING, currency="XYZ", user=person)
    assert set(refused.value.extra["fields"]) == {"currency"}


def test_the_database_refuses_a_stored_balance_on_a_platform_account(project):
    account = expense_of(project)

    with pytest.raises(IntegrityError), transaction.atomic():
        LedgerAccount.objects.filter(pk=account.pk).update(balance_micros=5)


def test_a_reversal_negates_every_entry_once_with_its_reason(person, project):
    finance = make_user(Role.FINANCE, mfa=True)
    original = accrue(person, project, 3_500, "annotation:1")

    reversal = ledger_reverse(transaction=original, reason="rejected by review", actor=finance)
    again = ledger_reverse(transaction=original, reason="again", actor=finance)

    assert again.pk == reversal.pk
    assert reversal.reverses_id == original.pk and reversal.reason == "rejected by review"
    assert sorted(reversal.entries.values_list("amount_micros", flat=True)) == [-3_500, 3_500]
    assert ledger_account_balance(pending_of(person)) == Micros(0, "USD")
    assert AuditEvent.objects.filter(action="ledger.reverse", actor=finance).count() == 1


def test_a_reversal_needs_a_reason(person, project):
    original = accrue(person, project, 3_500, "annotation:1")

    with pytest.raises(ValidationFailed) as refused:
        ledger_reverse(transaction=original, reason="  ", actor=None)

    assert "reason" in refused.value.extra["fields"]


def test_a_reversal_is_not_reversed(person, project):
    reversal = ledger_reverse(
        transaction=accrue(person, project, 3_500, "annotation:1"), reason="wrong", actor=None
    )

    with pytest.raises(Conflict):
        ledger_reverse(transaction=reversal, reason="undo", actor=None)


def test_ledger_rows_are_never_changed_or_deleted(person, project):
    posted = accrue(person, project, 3_500, "annotation:1")
    entry = posted.entries.first()

    posted.memo = "edited"
    with pytest.raises(AppendOnlyError):
        posted.save()
    with pytest.raises(AppendOnlyError):
        entry.delete()
    with pytest.raises(AppendOnlyError):
        LedgerEntry.objects.filter(pk=entry.pk).update(amount_micros=1)
    with pytest.raises(AppendOnlyError):
        LedgerTransaction.objects.all().delete()


def test_release_to_payable_rounds_down_and_carries_the_remainder(person, project):
    for n in range(3):
        accrue(person, project, 3_500, f"annotation:{n}")  # 0.0105 USD pending

    released = ledger_release_to_payable(
        user=person, currency="USD", source_key="release:1", actor=None
    )

    assert released is not None
    assert ledger_account_balance(payable_of(person)) == Micros(10_000, "USD")  # one cent
    assert ledger_account_balance(pending_of(person)) == Micros(500, "USD")  # carried
    accrue(person, project, 9_500, "annotation:9")
    ledger_release_to_payable(user=person, currency="USD", source_key="release:2", actor=None)
    assert ledger_account_balance(payable_of(person)) == Micros(20_000, "USD")
    assert ledger_account_balance(pending_of(person)) == Micros(0, "USD")


@pytest.mark.parametrize(
    ("currency", "pending", "payable", "left"),
    [
        ("JPY", 2_999_999, 2_000_000, 999_999),
        ("KWD", 2_999_999, 2_999_000, 999),
    ],
)
def test_release_to_payable_in_a_zero_and_a_three_decimal_currency(
    person, project, currency, pending, payable, left
):
    accrue(person, project, pending, "annotation:1", currency)

    ledger_release_to_payable(user=person, currency=currency, source_key="r:1", actor=None)

    assert ledger_account_balance(payable_of(person, currency)) == Micros(payable, currency)
    assert ledger_account_balance(pending_of(person, currency)) == Micros(left, currency)


def test_release_of_less_than_one_minor_unit_posts_nothing(person, project):
    accrue(person, project, 9_999, "annotation:1")

    assert (
        ledger_release_to_payable(user=person, currency="USD", source_key="r:1", actor=None) is None
    )
    assert LedgerTransaction.objects.count() == 1


# --- property: random sequences of postings, repeats and reversals ---------------------------

OPERATIONS = st.lists(
    st.one_of(
        st.tuples(
            st.just("post"),
            st.integers(0, 2),  # person
            st.integers(0, 1),  # project
            st.sampled_from(["USD", "JPY", "KWD"]),
            st.integers(1, 5_000_000),
            st.integers(0, 7),  # source key: small range, so repeats happen
        ),
        st.tuples(st.just("reverse"), st.integers(0, 50)),
        st.tuples(st.just("release"), st.integers(0, 2), st.sampled_from(["USD", "JPY", "KWD"])),
    ),
    max_size=25,
)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(operations=OPERATIONS)
def test_random_postings_repeats_and_reversals_keep_the_ledger_exact(operations):
    with transaction.atomic():
        people = [make_user(Role.ANNOTATOR) for _ in range(3)]
        projects = [make_project() for _ in range(2)]
        expected: dict[int, int] = {}  # account id -> micros, from the facts
        posted_keys: set[str] = set()
        reversed_ids: set[int] = set()
        releases = 0

        def credit(account, micros):
            expected[account.pk] = expected.get(account.pk, 0) + micros

        for op in operations:
            if op[0] == "post":
                _, who, where, currency, micros, key = op
                source_key = f"work:{currency}:{key}"
                before = LedgerEntry.objects.count()
                accrue(people[who], projects[where], micros, source_key, currency)
                if source_key in posted_keys:
                    assert LedgerEntry.objects.count() == before  # a repeat changes nothing
                else:
                    posted_keys.add(source_key)
                    credit(pending_of(people[who], currency), micros)
                    credit(expense_of(projects[where], currency), -micros)
            elif op[0] == "reverse":
                candidates = list(
                    LedgerTransaction.objects.filter(reverses__isnull=True).order_by("pk")
                )
                if not candidates:
                    continue
                target = candidates[op[1] % len(candidates)]
                ledger_reverse(transaction=target, reason="property", actor=None)
                if target.pk not in reversed_ids:
                    reversed_ids.add(target.pk)
                    for entry in target.entries.all():
                        credit(entry.account, -entry.amount_micros)
            else:
                _, who, currency = op
                releases += 1
                pending = pending_of(people[who], currency)
                step = {"USD": 10_000, "JPY": 1_000_000, "KWD": 1_000}[currency]
                whole = (expected.get(pending.pk, 0) // step) * step
                ledger_release_to_payable(
                    user=people[who], currency=currency, source_key=f"r:{releases}", actor=None
                )
                if whole > 0:
                    credit(pending, -whole)
                    credit(payable_of(people[who], currency), whole)

        report = ledger_reconciliation()
        assert report.is_clean, report.lines()
        for account in LedgerAccount.objects.all():
            assert ledger_account_balance(account).amount == expected.get(account.pk, 0)
        transaction.set_rollback(True)


def test_opening_a_batch_of_peoples_accounts_audits_each_in_one_insert():
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from payments.services.ledger import ledger_person_accounts_get_or_create

    people = [make_user() for _ in range(5)]
    already = ledger_account_get_or_create(kind=AccountKind.PAYABLE, currency="EUR", user=people[0])
    before = AuditEvent.objects.filter(action="ledger.account_open").count()

    with CaptureQueriesContext(connection) as captured:
        opened = ledger_person_accounts_get_or_create(
            kind=AccountKind.PAYABLE, currency="EUR", user_ids=[p.pk for p in people]
        )

    assert opened[people[0].pk] == already
    assert {opened[p.pk].user_id for p in people} == {p.pk for p in people}
    events = AuditEvent.objects.filter(action="ledger.account_open").order_by("pk")
    assert events.count() == before + 4
    assert {e.target_id for e in events[before:]} == {str(opened[p.pk].pk) for p in people[1:]}
    audit_inserts = [q for q in captured.captured_queries if "core_auditevent" in q["sql"]]
    assert len(audit_inserts) == 1, audit_inserts


def _stored(posted: LedgerTransaction) -> dict[str, object]:
    fields = ["id", "source_key", "memo", "reverses_id", "reason", "actor_id", "posted_at"]
    return {name: getattr(posted, name) for name in fields}


def test_each_posting_returned_is_the_row_stored_system_by_a_person_and_a_reversal(person, project):
    finance = make_user(Role.FINANCE, mfa=True)
    system = accrue(person, project, 3_500, "annotation:1")
    by_person = ledger_post(
        source_key="adjustment:1",
        legs=[
            Leg(account=pending_of(person), amount=Micros(700, "USD")),
            Leg(account=expense_of(project), amount=Micros(-700, "USD")),
        ],
        actor=finance,
        memo="Adjustment",
    )
    reversal = ledger_reverse(transaction=system, reason="rejected by review", actor=finance)

    for posted in (system, by_person, reversal):
        assert _stored(posted) == _stored(LedgerTransaction.objects.get(pk=posted.pk))
    assert (system.actor_id, system.reverses_id, system.reason) == (None, None, "")
    assert by_person.actor == finance and reversal.reverses == system


@pytest.mark.postgres
def test_postings_of_one_shape_compose_their_statement_once(project):
    people = [make_user(Role.ANNOTATOR) for _ in range(3)]
    accrue(make_user(Role.ANNOTATOR), project, 1, "annotation:warm")
    composed = _posting_shape.cache_info().misses

    for number, someone in enumerate(people):
        accrue(someone, project, 3_500 + number, f"annotation:{number}")

    assert _posting_shape.cache_info().misses == composed
    assert [ledger_account_balance(pending_of(p)).amount for p in people] == [3_500, 3_501, 3_502]
