"""The rollup jobs refresh the planner's statistics of the raw tables they read and of the rollups
they write, when those changed much since their last analysis (PostgreSQL)."""

from datetime import UTC, datetime, timedelta

import pytest

from quality.performance.rollups import rollups_catch_up, rollups_rebuild
from tests.labeling.factories import make_project, make_worker
from tests.quality.factories import work_submit
from tests.table_statistics import analyse_now, analyze_counts

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]

T0 = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
RAW = ("labeling_annotation", "labeling_lease", "labeling_task")
ROLLUPS = ("quality_personhour",)


@pytest.fixture
def fresh_statistics():
    analyse_now(RAW + ROLLUPS)


def hours_of_work(hours):
    project, person = make_project(), make_worker()
    for hour in range(hours):
        work_submit(project, person, at=T0 + timedelta(hours=hour, minutes=5))


@pytest.mark.parametrize(
    "job",
    [
        lambda: rollups_catch_up(now=T0 + timedelta(days=1)),
        lambda: rollups_rebuild(now=T0 + timedelta(days=1)),
    ],
    ids=["catch_up", "rebuild"],
)
def test_a_rollup_job_after_many_changes_analyses_what_it_reads_and_writes(
    settings, fresh_statistics, job
):
    settings.ANALYZE_AFTER_ROWS = 10
    hours_of_work(12)  # 12 annotations, leases and tasks; 12 person-hours to write
    before = analyze_counts(RAW + ROLLUPS)

    job()

    after = analyze_counts(RAW + ROLLUPS)
    assert {table: after[table] - before[table] for table in after} == dict.fromkeys(
        RAW + ROLLUPS, 1
    )


def test_a_rollup_job_after_few_changes_leaves_the_statistics_alone(settings, fresh_statistics):
    settings.ANALYZE_AFTER_ROWS = 100
    hours_of_work(12)
    before = analyze_counts(RAW + ROLLUPS)

    rollups_catch_up(now=T0 + timedelta(days=1))

    assert analyze_counts(RAW + ROLLUPS) == before
