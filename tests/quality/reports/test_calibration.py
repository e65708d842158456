"""Calibration on gold: each gold task replayed through the project's aggregation, its delivered
label's confidence compared with the gold answer (ECE and reliability bins)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from labeling.models import Annotation, AnnotationStatus, GoldAnswer, Task, WorkerConfusion
from quality.reports.calibration import ECE_WARNING, gold_calibration
from tests.labeling.factories import make_project, make_worker

pytestmark = pytest.mark.django_db


def consensus(**settings):
    return make_project(
        **{"pipeline": "consensus", "overlap": 3, "max_overlap": 3, "gold_warmup": 0, **settings}
    )


def gold_task(project, answer, labels, people):
    """A gold task answered `answer`, labelled `labels` in this order by `people` (one each)."""
    task = Task.objects.create(project=project, data={"text": "gold"}, is_gold=True)
    GoldAnswer.objects.create(task=task, result={"label": answer})
    Annotation.objects.bulk_create(
        [
            Annotation(
                task=task,
                project=project,
                author=person,
                result={"label": label},
                status=AnnotationStatus.ACCEPTED,
            )
            for person, label in zip(people, labels, strict=False)
        ]
    )
    return task


@pytest.fixture
def people():
    return [make_worker() for _ in range(4)]


def test_majority_vote_calibration_is_the_vote_share_against_gold(people):
    project = consensus()
    gold_task(project, "cat", ["cat", "cat", "cat"], people)  # 1.0, right
    gold_task(project, "dog", ["cat", "cat", "dog"], people)  # 0.667, wrong
    gold_task(project, "cat", ["cat", "dog", "cat"], people)  # 0.667, right
    gold_task(project, "cat", ["cat", "cat"], people)  # too few labels
    gold_task(project, "cat", ["cat", "dog", "bird"], people)  # a tie: review, not delivered

    measured = gold_calibration(project=project)

    assert measured.applies
    assert measured.confidence_method == "vote_share"
    assert (measured.gold_tasks, measured.measured, measured.right) == (5, 3, 2)
    assert (measured.too_few_labels, measured.undecided) == (1, 1)
    # Bin 0.6-0.7: two at 2/3, one right (gap 1/6, weight 2/3); bin 0.9-1.0: exact.
    assert measured.ece == pytest.approx(1 / 9, abs=1e-6)
    assert measured.is_warning
    assert [(b.low, b.count) for b in measured.bins if b.count] == [(0.6, 2), (0.9, 1)]


def test_an_escalated_tie_is_replayed_with_the_next_label(people):
    project = consensus(overlap=2, max_overlap=3, tie_rule="escalate")
    gold_task(project, "cat", ["cat", "dog", "cat", "dog"], people)  # tie at 2, cat at 3
    gold_task(project, "cat", ["cat", "dog"], people)  # tied with no third label

    measured = gold_calibration(project=project)

    assert (measured.measured, measured.right, measured.too_few_labels) == (1, 1, 1)
    assert measured.bins[6].count == 1
    assert measured.bins[6].mean_confidence == pytest.approx(2 / 3, abs=1e-6)


def test_leave_unlabelled_ties_are_not_measured(people):
    project = consensus(overlap=2, max_overlap=2, tie_rule="leave_unlabelled")
    gold_task(project, "cat", ["cat", "dog"], people)

    measured = gold_calibration(project=project)

    assert (measured.measured, measured.undecided) == (0, 1)
    assert measured.ece is None
    assert not measured.is_warning


def test_a_confidence_that_matches_the_share_right_raises_no_warning(people):
    project = consensus()
    for _ in range(4):
        gold_task(project, "cat", ["cat", "cat", "cat"], people)

    measured = gold_calibration(project=project)

    assert measured.ece == pytest.approx(0.0)
    assert measured.ece <= ECE_WARNING
    assert not measured.is_warning


def test_dawid_skene_is_measured_on_its_posterior_with_the_stored_estimates(people):
    project = consensus(aggregation_method="dawid_skene")
    classes = ["cat", "dog", "bird"]
    for person in people:
        WorkerConfusion.objects.create(
            user=person,
            project=project,
            classes=classes,
            matrix=[[0.8 if i == j else 0.1 for j in range(3)] for i in range(3)],
            accuracy=0.8,
        )
    gold_task(project, "cat", ["cat", "cat", "dog"], people)

    measured = gold_calibration(project=project)

    # Uniform priors: posterior of cat = 0.8*0.8*0.1 / (0.064 + 0.008 + 0.001) = 0.8767.
    assert measured.confidence_method == "posterior"
    assert measured.right == 1
    assert measured.mean_confidence == pytest.approx(0.064 / 0.073, abs=1e-5)


def test_calibration_does_not_apply_outside_single_label_consensus():
    measured = gold_calibration(project=make_project())

    assert not measured.applies
    assert measured.measured == 0


def test_calibration_takes_a_fixed_number_of_queries(people):
    small, large = (
        consensus(aggregation_method="dawid_skene"),
        consensus(aggregation_method="dawid_skene"),
    )
    gold_task(small, "cat", ["cat", "cat", "dog"], people)
    for _ in range(12):
        gold_task(large, "dog", ["dog", "cat", "dog"], people)
    counts = []
    for project in (small, large):
        with CaptureQueriesContext(connection) as queries:
            gold_calibration(project=project)
        counts.append(len(queries))

    assert counts[0] == counts[1] <= 4
