"""A project's counts live in tally rows chosen by who did the work, not in the project's row
(which every submit of the project would lock until it commits): the counts stay exact."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import Role
from labeling.models import Project, ProjectTally, Task, TaskStatus, projects_with_counts
from labeling.models.projects import TALLY_SHARDS, tally_shard
from tests.factories import make_user
from tests.labeling.factories import add_tasks, annotate, make_project, make_worker, review
from tests.labeling.factories import review_project as make_review_project

pytestmark = pytest.mark.django_db


def _counts(project: Project) -> tuple[int, int]:
    fresh = Project.objects.get(pk=project.pk)
    listed = projects_with_counts(Project.objects.filter(pk=project.pk)).get()
    assert (listed.annotations_total, listed.tasks_completed) == (
        fresh.annotations_total,
        fresh.tasks_completed,
    )
    return fresh.annotations_total, fresh.tasks_completed


def test_each_persons_work_is_counted_in_their_own_row_and_the_counts_are_exact():
    project = make_project()
    add_tasks(project, 4)
    first, second = make_worker(), make_worker()
    for worker in (first, second, first):
        annotate(project, worker)

    assert _counts(project) == (3, 3)
    assert (
        _counts(project)[1]
        == Task.objects.filter(project=project, status=TaskStatus.COMPLETED).count()
    )
    rows = {t.shard: (t.annotations, t.completed) for t in ProjectTally.objects.all()}
    if tally_shard(first.pk) != tally_shard(second.pk):
        assert rows == {tally_shard(first.pk): (2, 2), tally_shard(second.pk): (1, 1)}
    assert set(rows) <= set(range(TALLY_SHARDS))


def test_counts_from_before_the_tallies_are_kept_and_added_to():
    project = make_project()
    add_tasks(project, 2)
    Project.objects.filter(pk=project.pk).update(annotations_folded=40, tasks_completed_folded=30)

    annotate(project, make_worker())

    assert _counts(project) == (41, 31)


def test_a_task_made_final_in_review_counts_once_with_no_write_to_the_project_row():
    project = make_review_project()
    add_tasks(project, 1)
    annotate(project, make_worker())
    assert _counts(project) == (1, 0)  # in review: not final yet

    with CaptureQueriesContext(connection) as captured:
        review(project, make_user(Role.REVIEWER, level=1), "approve")

    assert _counts(project) == (1, 1)
    assert not any("UPDATE labeling_project" in q["sql"] for q in captured.captured_queries)


def test_a_project_read_alone_counts_in_one_query_until_it_is_refreshed():
    project = make_project()
    add_tasks(project, 2)
    annotate(project, make_worker())
    fresh = Project.objects.get(pk=project.pk)

    with CaptureQueriesContext(connection) as reads:
        counts = [fresh.tasks_completed, fresh.annotations_total, fresh.tasks_completed]
    assert counts == [1, 1, 1] and len(reads) == 1  # a page showing them reads them once

    annotate(project, make_worker())
    fresh.refresh_from_db()
    assert (fresh.tasks_completed, fresh.annotations_total) == (2, 2)
