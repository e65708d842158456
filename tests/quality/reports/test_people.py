"""Each person's figures against hand-computed ones, and the people table's order (the consensus project of `seed_consensus` and the reviewed one of `seed_reviewed`, in tests/quality/factories.py)."""

import pytest

from quality.reports.people import DEFAULT_PEOPLE_SORT, people_report, people_sorted
from tests.quality.factories import seed_reviewed

pytestmark = pytest.mark.django_db


def person(report, user):
    return next(p for p in report.people if p.user_id == user.pk)


def test_each_person_is_compared_with_the_final_labels(seeded):
    report = people_report(project=seeded.project)

    a, c = person(report, seeded.people["A"]), person(report, seeded.people["C"])
    # Final: T0 cat, T1 cat, T2 dog; T3 is a tie (no label) and T4 is open.
    assert (a.agreement_share, a.agreement_kappa, a.agreement_items) == (1.0, 1.0, 3)
    assert c.agreement_share == pytest.approx(2 / 3)
    assert c.agreement_kappa == pytest.approx(0.4)
    assert c.mean_agreement == pytest.approx(2 / 3)
    assert (a.labels, c.labels) == (5, 4)


def test_a_person_without_work_in_a_batch_is_not_listed(seeded):
    report = people_report(project=seeded.project, batch_id=seeded.batches[1].pk)

    assert {p.user_id for p in report.people} == {seeded.people["A"].pk, seeded.people["B"].pk}
    assert person(report, seeded.people["A"]).labels == 1


def test_gold_accuracy_review_pass_rate_active_time_and_skips_per_person():
    seeded = seed_reviewed()

    report = people_report(project=seeded.project)

    worker = person(report, seeded.people["W"])
    assert (worker.gold_accuracy, worker.gold_scores) == (0.5, 2)
    assert (worker.review_pass_rate, worker.reviews_received) == (0.75, 4)
    assert (worker.labels, worker.active_seconds_per_label) == (4, 20.0)
    # T2 cat = cat, T3 dog against the corrected bird: Cohen's kappa (2 - 1) / (4 - 1).
    assert worker.agreement_share == 0.5
    assert worker.agreement_kappa == pytest.approx(1 / 3)
    assert person(report, seeded.people["V"]).skips == 1
    assert worker.skips == 0


def test_reviewer_accuracy_is_the_share_of_audited_reviews_upheld_above():
    seeded = seed_reviewed()

    report = people_report(project=seeded.project)

    first, second = person(report, seeded.people["R1"]), person(report, seeded.people["R2"])
    assert (first.reviews_given, first.reviews_audited, first.reviews_upheld) == (2, 2, 1)
    assert first.reviewer_accuracy == 0.5
    assert (second.reviews_given, second.reviews_audited, second.reviewer_accuracy) == (2, 0, None)
    assert second.is_reviewer and not second.is_annotator  # a correction is not their label


def test_people_sort_by_a_column_with_the_empty_ones_last(seeded):
    report = people_report(project=seeded.project)
    a, b, c = (seeded.people[n].pk for n in "ABC")

    by_kappa, applied = people_sorted(report.people, "kappa")
    unknown, fallback = people_sorted(report.people, "salary")

    assert [p.user_id for p in by_kappa] == [c, a, b]
    assert applied == "kappa"
    assert fallback == DEFAULT_PEOPLE_SORT
    assert [p.user_id for p in unknown] == [a, b, c]
