"""The rollup job: idempotent, catches up after a gap, finds rows stored late, and the rebuild
command; rollups equal a recomputation from raw data after random sequences of work."""

import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import CommandError, call_command
from django.db import connections, transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from labeling.models import GoldAnswer, GoldScore, Task
from quality.models import PersonHour, ProjectAgreement, ProjectHour, RollupMark
from quality.performance.rollups import rollups_catch_up, rollups_rebuild
from quality.services.agreement import project_agreements_refresh
from tests.labeling.factories import make_project, make_worker
from tests.quality.factories import (
    task_finalise,
    work_gold,
    work_lease,
    work_review,
    work_submit,
)

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)


def snapshot():
    people = sorted(
        (row.user_id, row.project_id, row.hour, row.counters()) for row in PersonHour.objects.all()
    )
    projects = sorted(ProjectHour.objects.values_list("project_id", "hour", "final_tasks"))
    return people, projects


def test_running_the_job_twice_leaves_the_same_rows(hand_dataset):
    rollups_catch_up(now=T0 + timedelta(hours=3))
    first = snapshot()
    ids = sorted(PersonHour.objects.values_list("pk", flat=True))

    rollups_catch_up(now=T0 + timedelta(hours=3))

    assert snapshot() == first
    assert sorted(PersonHour.objects.values_list("pk", flat=True)) == ids
    assert first[0]


def test_the_job_catches_up_on_the_hours_it_missed_while_down():
    project, person = make_project(), make_worker()
    work_submit(project, person, at=T0 + timedelta(minutes=5))
    rollups_catch_up(now=T0 + timedelta(hours=1))
    work_submit(project, person, at=T0 + timedelta(hours=9))
    work_submit(project, person, at=T0 + timedelta(hours=30))

    rollups_catch_up(now=T0 + timedelta(days=2))

    hours = sorted(PersonHour.objects.values_list("hour", flat=True))
    assert hours == [T0, T0 + timedelta(hours=9), T0 + timedelta(hours=30)]
    assert RollupMark.objects.get().rolled_until == T0 + timedelta(days=2, minutes=-2)


def test_the_job_finds_work_stored_late_with_an_earlier_time():
    project, person = make_project(), make_worker()
    work_submit(project, person, at=T0)
    rollups_catch_up(now=T0 + timedelta(hours=1))
    rollups_catch_up(now=T0 + timedelta(days=10))
    work_submit(project, person, at=T0 + timedelta(days=2))  # far behind the recent hours

    rollups_catch_up(now=T0 + timedelta(days=10, minutes=5))

    assert PersonHour.objects.filter(hour=T0 + timedelta(days=2)).exists()


def test_the_job_recounts_the_hours_of_a_gold_answer_fixed_later():
    project, person = make_project(), make_worker()
    score = work_gold(project, person, 1.0, at=T0)
    GoldAnswer.objects.create(task_id=score.task_id, result={"label": "cat"})
    rollups_catch_up(now=T0 + timedelta(hours=1))
    rollups_catch_up(now=T0 + timedelta(days=5))
    GoldScore.objects.filter(pk=score.pk).update(value=0.0)
    GoldAnswer.objects.filter(task_id=score.task_id).update(
        version=2, updated_at=T0 + timedelta(days=5, minutes=1)
    )

    rollups_catch_up(now=T0 + timedelta(days=5, minutes=3))

    assert PersonHour.objects.get(hour=T0).gold_score_micros == 0


def test_rows_the_raw_data_no_longer_has_are_removed():
    project, person = make_project(), make_worker()
    work = work_submit(project, person, at=T0)
    rollups_catch_up(now=T0 + timedelta(hours=1))
    work.lease.delete()
    work.delete()

    rollups_rebuild(now=T0 + timedelta(hours=1))

    assert not PersonHour.objects.exists()


def test_the_rebuild_command_recomputes_one_project_since_a_date(capsys):
    project, other, person = make_project(), make_project(), make_worker()
    work_submit(project, person, at=T0)
    work_submit(other, person, at=T0)

    call_command("rollups_rebuild", "--project", str(project.pk), "--since", "2026-11-01")

    assert list(PersonHour.objects.values_list("project_id", flat=True)) == [project.pk]
    assert ProjectAgreement.objects.filter(project=project).exists()
    assert "person-hour rows written" in capsys.readouterr().out


def test_the_rebuild_command_names_a_bad_option():
    with pytest.raises(CommandError, match="--since"):
        call_command("rollups_rebuild", "--since", "yesterday-ish")
    with pytest.raises(CommandError, match="--project"):
        call_command("rollups_rebuild", "--project", "999999")


def test_the_agreement_job_stores_alpha_with_its_time_for_projects_with_new_work():
    project, a, b = make_project(), make_worker(), make_worker()
    task = Task.objects.create(project=project, data={"text": "x"})
    work_submit(project, a, at=T0, task=task)
    work_submit(project, b, at=T0, task=task)
    rollups_catch_up(now=T0 + timedelta(hours=1))

    computed = project_agreements_refresh(now=T0 + timedelta(hours=1))
    again = project_agreements_refresh(now=T0 + timedelta(hours=2))

    stored = ProjectAgreement.objects.get(project=project)
    assert computed == 1 and again == 0
    assert stored.alpha == pytest.approx(1.0)  # both said "cat"
    assert stored.computed_at == T0 + timedelta(hours=1)


@pytest.mark.django_db(transaction=True)
@pytest.mark.postgres  # row locking and ON CONFLICT are exercised on PostgreSQL
def test_jobs_running_at_once_leave_the_rows_one_run_leaves():
    project, people = make_project(), [make_worker() for _ in range(3)]
    for i in range(30):
        work_submit(project, people[i % 3], at=T0 + timedelta(minutes=37 * i))
    now = T0 + timedelta(days=1)
    errors = []
    start = threading.Barrier(4)

    def run():
        try:
            start.wait()
            rollups_catch_up(now=now)
        except Exception as exc:  # reported to the test thread
            errors.append(repr(exc))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    together = snapshot()
    rollups_rebuild(now=now)

    assert errors == []
    assert together == snapshot()
    assert RollupMark.objects.count() == 1


# --- Rollups equal a recomputation, whatever happened ------------------------------------------

STEP = st.one_of(
    st.tuples(st.just("submit"), st.integers(0, 1), st.integers(0, 5000)),
    st.tuples(st.just("review"), st.sampled_from(["approve", "correct", "reject"]), st.just(0)),
    st.tuples(st.just("rework"), st.integers(0, 1), st.integers(0, 600)),
    st.tuples(st.just("final"), st.just(0), st.floats(0, 1)),
    st.tuples(st.just("gold"), st.integers(0, 1), st.floats(0, 1)),
    st.tuples(st.just("lease"), st.sampled_from(["skipped", "expired"]), st.integers(0, 300)),
    st.tuples(st.just("backdated"), st.integers(0, 1), st.integers(1, 24 * 20)),
    st.tuples(st.just("run"), st.just(0), st.just(0)),
)


@pytest.fixture
def cast():
    return make_project(), [make_worker(), make_worker()], make_worker()


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    steps=st.lists(st.tuples(STEP, st.integers(0, 400)), min_size=1, max_size=25),
)
def test_rollups_equal_a_recomputation_after_any_sequence_of_work(cast, steps):
    project, people, reviewer = cast
    with transaction.atomic():
        clock = T0
        works = []
        for (kind, a, b), minutes in steps:
            clock += timedelta(minutes=minutes)
            if kind == "submit":
                works.append(work_submit(project, people[a], at=clock, seconds=b))
            elif kind == "review" and works:
                work_review(works[-1], a, at=clock, reviewer=reviewer)
            elif kind == "rework" and works:
                last = works[-1]
                works.append(
                    work_submit(
                        project,
                        last.author,
                        at=clock,
                        seconds=b,
                        task=last.task,
                        revision=last.revision + 1,
                    )
                )
            elif kind == "final" and works:
                task_finalise(works[-1].task, at=clock, work=works[-1], agreement=b)
            elif kind == "gold":
                work_gold(project, people[a], b, at=clock)
            elif kind == "lease":
                work_lease(project, people[0], at=clock, seconds=b, state=a)
            elif kind == "backdated":
                works.append(work_submit(project, people[a], at=clock - timedelta(hours=b)))
            elif kind == "run":
                rollups_catch_up(now=clock)
        rollups_catch_up(now=clock + timedelta(hours=1))
        kept = snapshot()

        rollups_rebuild(now=clock + timedelta(hours=1))

        assert kept == snapshot()
        transaction.set_rollback(True)
