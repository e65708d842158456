"""Agreement of a project or a batch against hand-computed figures (the consensus project of `seed_consensus` and the reviewed one of `seed_reviewed`, in tests/quality/factories.py)."""

import pytest

from labeling.services.claim import slot_claim_next
from labeling.services.submit import lease_submit
from quality.reports.agreement import agreement_report
from tests.labeling.factories import add_tasks, make_project, make_worker

pytestmark = pytest.mark.django_db


def test_fleiss_kappa_uses_the_tasks_with_the_most_common_number_of_annotations(seeded):
    report = agreement_report(project=seeded.project)

    # P-bar = (1 + 1/3 + 1 + 0) / 4 = 7/12; P-e = (1/2)^2 + (5/12)^2 + (1/12)^2 = 31/72.
    assert report.fleiss_kappa == pytest.approx(11 / 41)
    assert (report.fleiss_raters, report.fleiss_tasks) == (3, 4)
    assert "1 task with another number of annotations left out" in report.fleiss_note
    assert (report.tasks, report.annotations) == (5, 14)


def test_krippendorff_alpha_takes_every_task_with_missing_annotations_allowed(seeded):
    report = agreement_report(project=seeded.project)

    # 14 values; coinciding pairs 7; n_c = cat 6, dog 6, bird 2: (13*7 - 62) / (14*13 - 62).
    assert report.alpha == pytest.approx(29 / 120)
    assert report.alpha_label == "Krippendorff's alpha (nominal)"


def test_pairwise_cohen_kappa_lists_the_pairs_with_the_most_tasks_in_common(seeded):
    a, b, c = (seeded.people[n].pk for n in "ABC")

    report = agreement_report(project=seeded.project, min_pair_items=2)

    # A-B on 5 tasks: 1/3; A-C on 4: 3/11; B-C on 4: 1/5.
    assert [(p.first, p.second, p.items) for p in report.pairs] == [(a, b, 5), (a, c, 4), (b, c, 4)]
    assert [p.kappa for p in report.pairs] == pytest.approx([1 / 3, 3 / 11, 1 / 5])
    assert report.pairwise_kappa == pytest.approx((1 / 3 + 3 / 11 + 1 / 5) / 3)
    assert report.pairs_count == 3


def test_pairs_with_too_few_tasks_in_common_are_left_out(seeded):
    report = agreement_report(project=seeded.project, min_pair_items=5)

    assert report.pairs_count == 1
    assert report.pairwise_kappa == pytest.approx(1 / 3)


def test_a_batch_has_its_own_agreement(seeded):
    report = agreement_report(project=seeded.project, batch_id=seeded.batches[1].pk)

    # One task, dog against bird: observed agreement 0, expected 1/2.
    assert report.fleiss_kappa == pytest.approx(-1.0)
    assert report.alpha == pytest.approx(0.0)
    assert (report.tasks, report.annotations, report.batch_id) == (1, 2, seeded.batches[1].pk)


def test_the_cap_keeps_only_the_newest_annotations_and_says_so(seeded):
    report = agreement_report(project=seeded.project, rows_max=2)

    assert report.is_capped
    assert (report.tasks, report.annotations) == (1, 2)  # the two labels of T4


def test_spans_boxes_and_multi_labels_get_the_mean_agreement_score_instead_of_alpha():
    project = make_project(
        task_type="multi_label", pipeline="consensus", overlap=2, max_overlap=2, gold_warmup=0
    )
    first, second = add_tasks(project, 2)
    answers = {
        "A": {first: ["cat"], second: ["cat", "dog"]},
        "B": {first: ["cat"], second: ["cat"]},
    }
    for name in "AB":
        worker = make_worker()
        for _ in range(2):
            lease = slot_claim_next(project=project, user=worker).lease
            lease_submit(
                lease_id=lease.pk,
                user=worker,
                result={"labels": answers[name][lease.task_id]},
            )

    report = agreement_report(project=project)

    # Final: [cat] twice; A's [cat, dog] scores F1 2/3 against it, the rest 1.
    assert report.alpha == pytest.approx((1 + 1 + 2 / 3 + 1) / 4)
    assert report.alpha_label == "Mean agreement with the final result"
    assert report.fleiss_kappa is None
    assert report.fleiss_note.startswith("n/a")
    assert report.pairwise_kappa is None
