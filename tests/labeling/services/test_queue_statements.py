"""The claim and submit rules exist once: the one-statement writers (PostgreSQL) and the
transactional writer (every database) apply the same conditions and write the same rows.

The rest of the queue's behaviour suite (test_queue.py, test_gold.py) runs on both writers too.
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection, connections, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from core.errors import NotFound, ValidationFailed
from labeling import policy
from labeling.api.work import claim_body, leased_body
from labeling.errors import LeaseExpired, NotQualified, NoWorkAvailable
from labeling.models import (
    Annotation,
    Lease,
    LeaseState,
    Project,
    Task,
    TaskParticipation,
    WorkerProjectState,
    WorkSlot,
)
from labeling.services import submit
from labeling.services.claim import slot_claim_by_id, slot_claim_next
from labeling.services.claim_conditions import CLAIM_CONDITIONS, claim_context
from labeling.services.claim_statement import claim_statement, claim_statements_forget
from labeling.services.claimed import Claim, ClaimOutcome
from labeling.services.gold import gold_answer_set
from labeling.services.projects import project_update
from labeling.services.submit import lease_submit
from labeling.services.webhooks import webhook_endpoint_create
from tests.labeling.factories import add_tasks, make_customer_user, make_project, make_worker
from tests.plans import prepared_plan_reads
from workforce.models import Skill

pytestmark = pytest.mark.django_db
postgres_only = pytest.mark.postgres  # the one-statement writers exist on PostgreSQL only

T0 = timezone.now().replace(microsecond=0)


def _rows(project: Project, users: list[Any]) -> dict[str, Any]:
    """Everything the queue wrote for `project`, with ids replaced by positions."""
    tasks = list(project.tasks.order_by("pk"))
    task_at = {t.pk: i for i, t in enumerate(tasks)}
    who = {u.pk: i for i, u in enumerate(users)}
    project.refresh_from_db()
    return {
        "project": (project.tasks_completed, project.annotations_total),
        "tasks": [
            (t.status, t.annotations_count, t.result, t.completed_at, t.agreement, t.is_tie)
            for t in tasks
        ],
        "annotations": sorted(
            (
                task_at[a.task_id],
                who[a.author_id],
                a.revision,
                a.result,
                a.status,
                a.instructions_version,
                a.active_seconds,
                a.submitted_at,
            )
            for a in Annotation.objects.filter(project=project)
        ),
        "leases": sorted(
            (
                task_at[lease.task_id],
                who[lease.user_id],
                lease.state,
                lease.claimed_at,
                lease.expires_at,
                lease.last_seen_at,
                lease.ended_at,
                lease.active_seconds,
            )
            for lease in Lease.objects.filter(project=project)
        ),
        "slots": sorted(
            (task_at[s.task_id], s.kind, s.level, s.state, s.lease_expires_at)
            for s in WorkSlot.objects.filter(project=project)
        ),
        "participations": sorted(
            (task_at[p.task_id], who[p.user_id])
            for p in TaskParticipation.objects.filter(task__project=project)
        ),
        "states": sorted(
            (who[s.user_id], s.tasks_claimed, s.gold_claimed)
            for s in WorkerProjectState.objects.filter(project=project)
        ),
    }


def _work_through(settings: Any, *, statements: bool, **project_settings: Any) -> dict[str, Any]:
    settings.QUORUM_QUEUE_STATEMENTS = statements
    project = make_project(
        instructions="Label the animal.", queue_order="oldest", **project_settings
    )
    add_tasks(project, 4)
    users = [make_worker() for _ in range(3)]
    labels = ["cat", "dog", "cat"]
    now = T0
    for _ in range(6):
        for user, label in zip(users, labels, strict=True):
            now += timedelta(seconds=7)
            try:
                lease = slot_claim_next(project=project, user=user, now=now, draw=0.99).lease
            except NoWorkAvailable:
                continue  # this person has done every task left to them
            lease_submit(
                lease_id=lease.pk,
                user=user,
                result={"label": label},
                now=now + timedelta(seconds=3),
            )
    return _rows(project, users)


@postgres_only
@pytest.mark.parametrize(
    "project_settings",
    [
        {"pipeline": "standard", "overlap": 1},
        {"pipeline": "consensus", "overlap": 3, "max_overlap": 3},
        {"pipeline": "collection", "overlap": 2},
    ],
    ids=["standard", "consensus", "collection"],
)
def test_both_writers_write_the_same_rows(settings, project_settings):
    one_statement = _work_through(settings, statements=True, **project_settings)
    transactional = _work_through(settings, statements=False, **project_settings)

    assert one_statement == transactional
    assert one_statement["annotations"]  # the work really happened


@postgres_only
def test_an_ordinary_claim_and_submit_are_one_statement_each():
    project = make_project(instructions="Label the **animal**.")
    add_tasks(project, 3)
    user = make_worker()
    # A first cycle creates the person's state and prepares both statements on this connection
    # (once per connection: PREPARE, then EXECUTE from then on).
    first = slot_claim_by_id(project_id=project.pk, user=user)
    lease_submit(lease_id=first.leased.lease_id, user=user, result={"label": "cat"})

    with CaptureQueriesContext(connection) as claim_queries:
        outcome = slot_claim_by_id(project_id=project.pk, user=user)
    with CaptureQueriesContext(connection) as submit_queries:
        lease_submit(lease_id=outcome.leased.lease_id, user=user, result={"label": "dog"})

    assert len(claim_queries) == 1, [q["sql"][:80] for q in claim_queries]
    # The submit is one statement of labeling's, the project's counts included (in the
    # submitter's tally row: no row of the project's is written); announcing it (payments prices
    # work) adds the savepoint around it and payments' rate lookup, one statement for a project
    # with no card (prepared too: EXECUTE payments_...).
    labeling_own = [
        q["sql"]
        for q in submit_queries
        if "SAVEPOINT" not in q["sql"] and "payments_" not in q["sql"]
    ]
    assert len(labeling_own) == 1, [q["sql"][:80] for q in submit_queries]
    assert len(submit_queries) == 4, [q["sql"][:80] for q in submit_queries]
    assert not any("UPDATE labeling_project" in q["sql"] for q in submit_queries)
    assert outcome.leased.instructions_html  # read by the same statement
    project.refresh_from_db()
    assert (project.annotations_total, project.tasks_completed) == (2, 2)


@postgres_only
def test_the_claim_response_is_the_same_from_both_writers(settings):
    project = make_project(instructions="Label the **animal**.")
    add_tasks(project, 2)
    one_statement = slot_claim_by_id(project_id=project.pk, user=make_worker())
    settings.QUORUM_QUEUE_STATEMENTS = False
    transactional = slot_claim_next(project=project, user=make_worker()).lease

    def shape(body: dict[str, Any]) -> dict[str, Any]:
        body["lease"].pop("id")
        body["task"].pop("id")
        body["task"].pop("data")
        body["lease"].pop("claimed_at")
        body["lease"].pop("expires_at")
        return body

    assert shape(leased_body(one_statement)) == shape(
        claim_body(Claim(lease=transactional, resumed=False))
    )


def _nothing_written(project: Project, user: Any) -> None:
    assert not Lease.objects.filter(project=project, user=user).exists()
    assert not TaskParticipation.objects.filter(task__project=project, user=user).exists()
    assert not WorkSlot.objects.filter(project=project, state="leased").exists()


def _statement(project: Project, user: Any, *, draw: float = 0.99) -> dict[str, Any]:
    WorkerProjectState.objects.get_or_create(user=user, project=project)
    row = claim_statement(user=user, project_id=project.pk, now=T0, prefetch=False, draw=draw)
    assert row is not None
    return row


def _failing(row: dict[str, Any]) -> list[str]:
    return [name for name in CLAIM_CONDITIONS if not row[name]]


@postgres_only
@pytest.mark.parametrize(
    "case", ["paused", "not_working", "unqualified", "suspended", "retraining", "gold_due"]
)
def test_the_claim_statement_writes_nothing_when_a_condition_fails_and_says_which(case):
    skill = Skill.objects.create(name="Birds")
    project = make_project(
        status="paused" if case == "paused" else "active",
        required_skill=skill if case == "unqualified" else None,
        required_level=2,
        gold_warmup=3,
    )
    task_ids = add_tasks(project, 3)
    if case == "gold_due":
        gold_answer_set(task=Task.objects.get(pk=task_ids[0]), result={"label": "cat"}, actor=None)
    user = make_worker(status="suspended" if case == "not_working" else "active")
    WorkerProjectState.objects.create(
        user=user,
        project=project,
        is_suspended=case == "suspended",
        needs_retraining=case == "retraining",
    )

    row = _statement(project, user)

    expected = {
        "paused": "c_active",
        "not_working": "c_working",
        "unqualified": "c_qualified",
        "suspended": "c_not_suspended",
        "retraining": "c_not_retraining",
        "gold_due": "c_no_gold_due",
    }[case]
    assert _failing(row) == [expected]
    assert row["lease_id"] is None
    _nothing_written(project, user)


@postgres_only
def test_at_the_lease_limit_the_statement_writes_nothing_and_the_claim_resumes():
    project = make_project()
    add_tasks(project, 3)
    user = make_worker()
    first = slot_claim_by_id(project_id=project.pk, user=user)

    row = _statement(project, user)
    again = slot_claim_by_id(project_id=project.pk, user=user)

    assert _failing(row) == ["c_under_limit"] and row["lease_id"] is None
    assert again.resumed and again.leased.lease_id == first.leased.lease_id
    assert Lease.objects.filter(user=user).count() == 1


@pytest.mark.django_db(transaction=True)
@postgres_only
def test_one_persons_simultaneous_claims_never_hold_more_leases_than_allowed():
    """Sixteen claims of one person at once (double clicks, several tabs): each statement waits
    for the person's state, and one that waited judges afresh, so one lease is handed out."""
    project = make_project(max_leases_per_person=1)
    add_tasks(project, 40)
    user = make_worker()
    WorkerProjectState.objects.create(user=user, project=project)
    leases: list[int] = []
    errors: list[str] = []
    barrier = threading.Barrier(16)

    def claim() -> None:
        try:
            barrier.wait()
            leases.append(slot_claim_by_id(project_id=project.pk, user=user).leased.lease_id)
        except Exception as exc:  # reported to the test thread
            errors.append(repr(exc))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=claim) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert len(set(leases)) == 1
    assert Lease.objects.filter(user=user, state=LeaseState.ACTIVE).count() == 1


@pytest.mark.django_db(transaction=True)
@postgres_only
def test_a_claim_that_waited_for_another_claim_of_the_same_person_judges_afresh():
    """The interleaving that matters, made certain: the first claim holds the person's state
    until it commits; the second, started meanwhile, waits for it and must then count the first
    claim's lease (its own snapshot predates it), so it hands that lease back, not a second one."""
    project = make_project(max_leases_per_person=1)
    add_tasks(project, 5)
    user = make_worker()
    WorkerProjectState.objects.create(user=user, project=project)
    first_holds = threading.Event()
    second: list[Any] = []

    def claim_second() -> None:
        try:
            first_holds.wait()
            second.append(slot_claim_by_id(project_id=project.pk, user=user))
        except Exception as exc:  # reported to the test thread
            second.append(exc)
        finally:
            connections.close_all()

    thread = threading.Thread(target=claim_second)
    thread.start()
    with transaction.atomic():
        first = slot_claim_by_id(project_id=project.pk, user=user)
        first_holds.set()
        time.sleep(1.0)  # the second claim is now waiting for the person's state
    thread.join()

    (outcome,) = second
    assert isinstance(outcome, ClaimOutcome), outcome
    assert outcome.leased.lease_id == first.leased.lease_id and outcome.resumed
    assert Lease.objects.filter(user=user, state=LeaseState.ACTIVE).count() == 1


def test_the_access_policy_decides_every_claim(monkeypatch, request):
    """A rule added to the policy holds for the claim on every database (one statement or not)."""
    hidden, shown = make_project(), make_project()
    add_tasks(hidden, 2)
    add_tasks(shown, 2)
    user = make_worker()
    in_scope = policy.projects_in_scope
    monkeypatch.setattr(
        policy, "projects_in_scope", lambda scope: in_scope(scope).exclude(pk=hidden.pk)
    )
    claim_statements_forget()  # the policy's code changed: compile the claim again
    request.addfinalizer(claim_statements_forget)  # and once more when it is back

    with pytest.raises(NotFound):
        slot_claim_by_id(project_id=hidden.pk, user=user)
    assert slot_claim_by_id(project_id=shown.pk, user=user).leased.project_id == shown.pk
    _nothing_written(hidden, user)


def test_only_people_the_policy_lets_work_may_claim():
    project = make_project()
    add_tasks(project, 2)
    customer_user = make_customer_user(project.customer)

    with pytest.raises(NotFound):
        slot_claim_by_id(project_id=project.pk, user=customer_user)
    _nothing_written(project, customer_user)


def test_a_claim_in_a_paused_project_says_so_on_every_database():
    project = make_project(status="paused")
    add_tasks(project, 2)
    user = make_worker()

    with pytest.raises(NoWorkAvailable) as refused:
        slot_claim_by_id(project_id=project.pk, user=user)

    assert refused.value.extra["reason"] == "project_not_active"
    _nothing_written(project, user)


def test_a_restriction_is_refused_in_its_own_words():
    project = make_project()
    add_tasks(project, 2)
    user = make_worker()
    until = T0 + timedelta(days=2)
    WorkerProjectState.objects.create(
        user=user, project=project, is_suspended=True, suspended_until=until
    )

    with pytest.raises(NotQualified) as refused:
        slot_claim_by_id(project_id=project.pk, user=user)

    assert f"until {until:%Y-%m-%d %H:%M} UTC" in str(refused.value)


@pytest.mark.parametrize(
    ("project_settings", "override", "draw", "due"),
    [
        ({"gold_warmup": 2}, None, 0.99, True),  # the warm-up is all gold
        ({"gold_warmup": 0, "gold_rates": {"regular": 0.3}}, None, 0.2, True),
        ({"gold_warmup": 0, "gold_rates": {"regular": 0.3}}, None, 0.5, False),
        ({"gold_warmup": 0, "gold_rates": {"regular": 0.3}}, 0.8, 0.5, True),  # a rule raised it
        ({"gold_warmup": 0, "gold_rates": {"probation": 0.9}}, None, 0.5, False),  # not hers
        ({"gold_warmup": 0, "gold_rates": {}}, None, 0.0, False),  # no rate: no gold
    ],
)
def test_the_gold_mix_follows_warm_up_rate_by_standing_and_override(
    project_settings, override, draw, due
):
    project = make_project(**project_settings)
    task_ids = add_tasks(project, 4)
    gold_answer_set(task=Task.objects.get(pk=task_ids[0]), result={"label": "cat"}, actor=None)
    user = make_worker()
    if override is not None:
        WorkerProjectState.objects.create(user=user, project=project, gold_rate_override=override)

    flags = claim_context(
        user_id=user.pk,
        scope=policy.work_scope(user, "annotate"),
        project_id=project.pk,
        now=T0,
        prefetch=False,
        draw=draw,
        kind="annotate",
    ).first()
    served = slot_claim_next(project=project, user=user, now=T0, draw=draw).lease

    assert flags is not None and flags["c_no_gold_due"] is (not due)
    assert Task.objects.get(pk=served.task_id).is_gold is due


@postgres_only
@pytest.mark.parametrize("statistics", ["missing", "fresh"])
def test_the_submit_statement_reads_leases_by_key_and_live_leases_only(statistics):
    # A connection prepares the statement once and keeps its plan: a plan made while the lease
    # table has no statistics (a fresh database before autovacuum reaches it) must not read
    # every lease of the person or of the project on each submit, nor one made with them.
    project = make_project(queue_order="oldest")
    add_tasks(project, 80)
    people = [make_worker() for _ in range(4)]
    now = T0
    for _ in range(20):
        for person in people:
            now += timedelta(seconds=5)
            lease = slot_claim_next(project=project, user=person, now=now).lease
            lease_submit(lease_id=lease.pk, user=person, result={"label": "cat"}, now=now)
    assert Lease.objects.filter(project=project, state=LeaseState.SUBMITTED).count() == 80
    # Then the table grows (the plan above is kept), with or without a new look at it.
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO labeling_lease (slot_id, task_id, project_id, user_id, state, claimed_at,"
            " expires_at, last_seen_at, active_seconds, ended_at, skip_reason)"
            " SELECT slot_id, task_id, project_id, user_id, 'submitted', claimed_at, expires_at,"
            " last_seen_at, 0, ended_at, '' FROM labeling_lease, generate_series(1, 250)"
            " WHERE project_id = %s",
            [project.pk],
        )
        if statistics == "fresh":
            cursor.execute("ANALYZE labeling_lease")

    indexes, sequential = prepared_plan_reads("reserved AS (", "labeling_lease")

    # By its key, and the person's other live leases through an index of live leases only.
    live_only = {"labeling_lease_active_user", "labeling_lease_one_active_per_slot"}
    assert "labeling_lease_pkey" in indexes
    assert indexes - {"labeling_lease_pkey"} <= live_only, indexes
    assert len(indexes) == 2
    assert sequential == 0


@postgres_only
def test_the_submit_statement_writes_nothing_for_someone_elses_lease(monkeypatch):
    project = make_project()
    add_tasks(project, 1)
    owner, stranger = make_worker(), make_worker()
    lease = slot_claim_next(project=project, user=owner, now=T0).lease
    owners_check = submit._check_read(lease.pk, owner, T0)
    # The statement's own condition, even when the read before it is fooled into passing.
    monkeypatch.setattr(submit, "_check_read", lambda lease_id, user, now: owners_check)

    stored = submit._submit_statement(
        lease_id=lease.pk, user=stranger, result={"label": "cat"}, now=T0
    )

    assert stored is None
    assert not Annotation.objects.exists()
    lease.refresh_from_db()
    assert (lease.state, lease.ended_at) == (LeaseState.ACTIVE, None)
    monkeypatch.undo()
    with pytest.raises(NotFound):
        lease_submit(lease_id=lease.pk, user=stranger, result={"label": "cat"}, now=T0)
    assert not Annotation.objects.exists()


@postgres_only
def test_the_submit_statement_writes_nothing_for_an_expired_lease():
    project = make_project(lease_seconds=60)
    add_tasks(project, 1)
    user = make_worker()
    lease = slot_claim_next(project=project, user=user, now=T0).lease

    with pytest.raises(LeaseExpired):
        lease_submit(
            lease_id=lease.pk, user=user, result={"label": "cat"}, now=T0 + timedelta(minutes=2)
        )
    assert not Annotation.objects.exists()
    assert Lease.objects.get(pk=lease.pk).state == LeaseState.EXPIRED


def test_review_levels_and_webhooks_take_their_pipeline_step():
    reviewed = make_project(review_levels=[{"level": 1, "rates": {"regular": 1.0}}])
    announced = make_project()
    webhook_endpoint_create(
        customer=announced.customer,
        url="https://hooks.example.test/quorum",
        events=["task.completed"],
        actor=None,
    )
    user = make_worker()
    statuses = {}
    for project in (reviewed, announced):
        add_tasks(project, 1)
        lease = slot_claim_next(project=project, user=user, now=T0).lease
        statuses[project.pk] = lease_submit(
            lease_id=lease.pk, user=user, result={"label": "cat"}, now=T0
        ).task.status

    assert statuses == {reviewed.pk: "in_review", announced.pk: "completed"}
    delivery = announced.customer.webhook_endpoints.get().deliveries.get()
    assert delivery.event == "task.completed"


def test_a_bad_result_is_refused_by_name_and_nothing_is_stored():
    project = make_project()
    add_tasks(project, 1)
    user = make_worker()
    lease = slot_claim_by_id(project_id=project.pk, user=user).leased

    with pytest.raises(ValidationFailed) as refused:
        lease_submit(lease_id=lease.lease_id, user=user, result={"label": "horse"}, now=T0)

    assert "label" in str(refused.value.extra["fields"])
    assert not Annotation.objects.exists()
    assert Lease.objects.get(pk=lease.lease_id).state == LeaseState.ACTIVE


def test_a_submit_judges_its_result_by_the_labels_of_now_not_of_the_claim():
    project = make_project()  # cat, dog, bird
    add_tasks(project, 2)
    user = make_worker()
    first = slot_claim_by_id(project_id=project.pk, user=user).leased
    project_update(project=project, actor=None, labels=["cat", "dog"])  # nothing labelled yet

    with pytest.raises(ValidationFailed):
        lease_submit(lease_id=first.lease_id, user=user, result={"label": "bird"})
    lease_submit(lease_id=first.lease_id, user=user, result={"label": "dog"})
    second = slot_claim_by_id(project_id=project.pk, user=user).leased
    project_update(project=project, actor=None, labels=["cat", "dog", "fish"])
    stored = lease_submit(lease_id=second.lease_id, user=user, result={"label": "fish"})

    assert stored.result == {"label": "fish"}
    assert sorted(Annotation.objects.values_list("result__label", flat=True)) == ["dog", "fish"]


def test_claim_outcome_of_a_held_lease_is_its_plain_view():
    project = make_project()
    add_tasks(project, 1)
    user = make_worker()
    claim = slot_claim_next(project=project, user=user)

    outcome = ClaimOutcome.of_claim(claim)

    assert (outcome.leased.lease_id, outcome.leased.project_name) == (claim.lease.pk, project.name)


def _show_synchronous_commit() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        return str(cursor.fetchone()[0])


def _claim_sql(project: Project, user: Any) -> list[str]:
    with CaptureQueriesContext(connection) as captured:
        slot_claim_by_id(project_id=project.pk, user=user)
    return [query["sql"] for query in captured.captured_queries]


@pytest.mark.django_db(transaction=True)
@postgres_only
def test_a_claim_commits_without_waiting_for_the_flush_only_when_the_setting_says_so(settings):
    """QUORUM_CLAIM_SYNCHRONOUS_COMMIT (default on: claims wait, like every write). Off, the
    claim's own implicit transaction turns `synchronous_commit` off with SET LOCAL in the same
    round trip; nothing after it inherits that (the submit, the connection's next work)."""
    assert settings.QUORUM_CLAIM_SYNCHRONOUS_COMMIT is True  # the documented default
    settings.QUORUM_CLAIM_SYNCHRONOUS_COMMIT = False
    project = make_project(max_leases_per_person=2)
    add_tasks(project, 3)
    user = make_worker()
    WorkerProjectState.objects.create(user=user, project=project)

    sent = _claim_sql(project, user)
    claims = [sql for sql in sent if "EXECUTE" in sql]
    assert len(claims) == 1 and claims[0].startswith("SET LOCAL synchronous_commit TO OFF; ")
    assert _show_synchronous_commit() == "on"  # SET LOCAL ended with the claim
    lease = Lease.objects.get(user=user)  # committed: read on a fresh statement
    with CaptureQueriesContext(connection) as captured:
        lease_submit(lease_id=lease.pk, user=user, result={"label": "cat"})
    assert not any("synchronous_commit" in q["sql"] for q in captured.captured_queries)

    settings.QUORUM_CLAIM_SYNCHRONOUS_COMMIT = True
    assert not any("synchronous_commit" in sql for sql in _claim_sql(project, user))
    settings.QUORUM_CLAIM_SYNCHRONOUS_COMMIT = False
    with transaction.atomic():  # the caller's transaction decides: nothing is added to it
        assert not any("synchronous_commit" in sql for sql in _claim_sql(project, user))
    assert Lease.objects.filter(user=user).count() == 3
