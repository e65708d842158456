"""Each person's observed confusion matrix: counts against the final label or the gold answer,
each row's accuracy with a 95% Wilson interval."""

import pytest

from kit.intervals import wilson_interval
from labeling.models import Annotation, AnnotationStatus, GoldAnswer, Task, TaskStatus
from quality.reports.worker_confusion import worker_confusions, worker_confusions_csv
from tests.labeling.factories import make_project, make_worker

pytestmark = pytest.mark.django_db


def single_label(**settings):
    return make_project(**{"pipeline": "consensus", "overlap": 2, "max_overlap": 2, **settings})


def finished_task(project, final, labels):
    """A completed task whose final label is `final` (None: a tie left unlabelled), labelled
    by each (person, label) of `labels`."""
    result = {"label": final} if final else {"label": None, "tied": ["cat", "dog"]}
    task = Task.objects.create(
        project=project, data={"text": "t"}, status=TaskStatus.COMPLETED, result=result
    )
    for person, label in labels:
        Annotation.objects.create(
            task=task,
            project=project,
            author=person,
            result={"label": label},
            status=AnnotationStatus.ACCEPTED,
        )
    return task


def gold_task(project, answer, labels):
    task = Task.objects.create(project=project, data={"text": "g"}, is_gold=True)
    GoldAnswer.objects.create(task=task, result={"label": answer})
    for person, label in labels:
        Annotation.objects.create(
            task=task,
            project=project,
            author=person,
            result={"label": label},
            status=AnnotationStatus.ACCEPTED,
        )
    return task


def test_counts_against_final_labels_with_row_accuracy_and_wilson_intervals():
    project = single_label()
    ann = make_worker()
    for final, given in [("cat", "cat"), ("cat", "dog"), ("dog", "dog"), ("dog", "dog")]:
        finished_task(project, final, [(ann, given)])

    [person] = worker_confusions(project=project, user_ids=[ann.pk])

    assert person.classes == ["cat", "dog", "bird"]
    assert [row.counts for row in person.rows] == [[1, 1, 0], [0, 2, 0], [0, 0, 0]]
    cat = person.rows[0].share
    assert (cat.right, cat.total, cat.accuracy) == (1, 2, 0.5)
    assert (cat.low, cat.high) == pytest.approx(tuple(wilson_interval(1, 2)))
    assert person.rows[2].share.accuracy is None
    assert person.rows[2].share.low is None
    assert (person.overall.right, person.overall.total) == (3, 4)


def test_gold_reference_uses_the_gold_answers_only():
    project = single_label()
    ann = make_worker()
    finished_task(project, "cat", [(ann, "cat")])
    gold_task(project, "bird", [(ann, "dog")])

    [person] = worker_confusions(project=project, user_ids=[ann.pk], reference="gold")

    assert [row.counts for row in person.rows] == [[0, 0, 0], [0, 0, 0], [0, 1, 0]]


def test_ties_left_unlabelled_open_tasks_and_people_outside_the_scope_are_left_out():
    project = single_label()
    ann, other = make_worker(), make_worker()
    finished_task(project, None, [(ann, "cat")])
    open_task = Task.objects.create(project=project, data={"text": "o"})
    Annotation.objects.create(task=open_task, project=project, author=ann, result={"label": "cat"})
    finished_task(project, "cat", [(ann, "cat"), (other, "dog")])

    people = worker_confusions(project=project, user_ids=[ann.pk])

    assert [p.user_id for p in people] == [ann.pk]
    assert people[0].overall.total == 1


def test_labels_renamed_since_are_counted_apart():
    project = single_label()
    ann = make_worker()
    finished_task(project, "cat", [(ann, "kitten")])

    [person] = worker_confusions(project=project, user_ids=[ann.pk])

    assert person.skipped == 1
    assert person.overall.total == 0


def test_the_csv_has_one_line_per_cell_with_the_rows_interval():
    project = single_label()
    ann = make_worker()
    finished_task(project, "cat", [(ann, "cat")])

    lines = worker_confusions_csv(worker_confusions(project=project, user_ids=[ann.pk]))

    rows = lines.strip().split("\n")
    assert rows[0].startswith("user_id,reference_label,given_label,count,row_total")
    assert len(rows) == 1 + 9
    low, high = wilson_interval(1, 1)
    assert rows[1] == f"{ann.pk},cat,cat,1,1,1.0000,{low:.4f},{high:.4f}"
    assert rows[-1] == f"{ann.pk},bird,bird,0,0,,,"


def test_an_unknown_reference_is_refused():
    with pytest.raises(ValueError, match="reference"):
        worker_confusions(project=single_label(), user_ids=[], reference="consensus")
