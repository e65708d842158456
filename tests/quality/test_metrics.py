"""Quality selectors against hand-computed figures on small projects made through the services.

The consensus project of `seed_consensus`: three annotators A, B, C label four tasks (batch 1),
then A and B label a fifth (batch 2); C never sees it.

    task  A     B     C      final
    T0    cat   cat   cat    cat
    T1    cat   cat   dog    cat
    T2    dog   dog   dog    dog
    T3    cat   dog   bird   (a tie: final, without a label)
    T4    dog   bird  -      (open: two of three)
"""

from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Role
from labeling.models import ImportJob, Project
from labeling.services.gold import gold_answer_set
from labeling.services.queue import lease_skip, lease_submit, slot_claim_next
from labeling.services.review import review_claim_next, review_submit
from quality import metrics
from tests.factories import make_user
from tests.labeling.factories import add_tasks, make_project, make_worker

pytestmark = pytest.mark.django_db

ALWAYS = {"probation": 1.0, "regular": 1.0, "trusted": 1.0}
NEVER = {"probation": 0.0, "regular": 0.0, "trusted": 0.0}
TABLE = {
    "A": ["cat", "cat", "dog", "cat", "dog"],
    "B": ["cat", "cat", "dog", "dog", "bird"],
    "C": ["cat", "dog", "dog", "bird"],
}


@dataclass
class Seeded:
    project: Project
    people: dict
    tasks: list
    batches: list


def label_each(project, worker, label_of, *, seconds_of=None, start=None):
    """Let `worker` claim and label `len(label_of)` tasks; the queue picks the order, so the
    label (and, with `seconds_of`, the active time spent) is looked up by task."""
    now = start or timezone.now()
    for _ in range(len(label_of)):
        lease = slot_claim_next(project=project, user=worker, now=now).lease
        now += timedelta(seconds=(seconds_of or {}).get(lease.task_id, 0))
        lease_submit(
            lease_id=lease.pk, user=worker, result={"label": label_of[lease.task_id]}, now=now
        )
    return now


def seed_consensus(customer=None, **settings):
    settings = {
        "pipeline": "consensus",
        "overlap": 3,
        "max_overlap": 3,
        "gold_warmup": 0,
    } | settings
    project = make_project(customer, **settings)
    tasks = add_tasks(project, 4)
    people = {name: make_worker() for name in "ABC"}
    for name, worker in people.items():
        label_each(project, worker, dict(zip(tasks, TABLE[name][:4], strict=True)))
    tasks = add_tasks(project, 1)
    for name in "AB":
        label_each(project, people[name], {tasks[4]: TABLE[name][4]})
    batches = list(ImportJob.objects.filter(project=project).order_by("pk"))
    return Seeded(project, people, tasks, batches)


@pytest.fixture
def seeded():
    return seed_consensus()


def person(report, user):
    return next(p for p in report.people if p.user_id == user.pk)


def test_fleiss_kappa_uses_the_tasks_with_the_most_common_number_of_annotations(seeded):
    report = metrics.agreement_report(project=seeded.project)

    # P-bar = (1 + 1/3 + 1 + 0) / 4 = 7/12; P-e = (1/2)^2 + (5/12)^2 + (1/12)^2 = 31/72.
    assert report.fleiss_kappa == pytest.approx(11 / 41)
    assert (report.fleiss_raters, report.fleiss_tasks) == (3, 4)
    assert "1 task with another number of annotations left out" in report.fleiss_note
    assert (report.tasks, report.annotations) == (5, 14)


def test_krippendorff_alpha_takes_every_task_with_missing_annotations_allowed(seeded):
    report = metrics.agreement_report(project=seeded.project)

    # 14 values; coinciding pairs 7; n_c = cat 6, dog 6, bird 2: (13*7 - 62) / (14*13 - 62).
    assert report.alpha == pytest.approx(29 / 120)
    assert report.alpha_label == "Krippendorff's alpha (nominal)"


def test_pairwise_cohen_kappa_lists_the_pairs_with_the_most_tasks_in_common(seeded):
    a, b, c = (seeded.people[n].pk for n in "ABC")

    report = metrics.agreement_report(project=seeded.project, min_pair_items=2)

    # A-B on 5 tasks: 1/3; A-C on 4: 3/11; B-C on 4: 1/5.
    assert [(p.first, p.second, p.items) for p in report.pairs] == [(a, b, 5), (a, c, 4), (b, c, 4)]
    assert [p.kappa for p in report.pairs] == pytest.approx([1 / 3, 3 / 11, 1 / 5])
    assert report.pairwise_kappa == pytest.approx((1 / 3 + 3 / 11 + 1 / 5) / 3)
    assert report.pairs_count == 3


def test_pairs_with_too_few_tasks_in_common_are_left_out(seeded):
    report = metrics.agreement_report(project=seeded.project, min_pair_items=5)

    assert report.pairs_count == 1
    assert report.pairwise_kappa == pytest.approx(1 / 3)


def test_a_batch_has_its_own_agreement(seeded):
    report = metrics.agreement_report(project=seeded.project, batch_id=seeded.batches[1].pk)

    # One task, dog against bird: observed agreement 0, expected 1/2.
    assert report.fleiss_kappa == pytest.approx(-1.0)
    assert report.alpha == pytest.approx(0.0)
    assert (report.tasks, report.annotations, report.batch_id) == (1, 2, seeded.batches[1].pk)


def test_each_person_is_compared_with_the_final_labels(seeded):
    report = metrics.people_report(project=seeded.project)

    a, c = person(report, seeded.people["A"]), person(report, seeded.people["C"])
    # Final: T0 cat, T1 cat, T2 dog; T3 is a tie (no label) and T4 is open.
    assert (a.agreement_share, a.agreement_kappa, a.agreement_items) == (1.0, 1.0, 3)
    assert c.agreement_share == pytest.approx(2 / 3)
    assert c.agreement_kappa == pytest.approx(0.4)
    assert c.mean_agreement == pytest.approx(2 / 3)
    assert (a.labels, c.labels) == (5, 4)


def test_a_person_without_work_in_a_batch_is_not_listed(seeded):
    report = metrics.people_report(project=seeded.project, batch_id=seeded.batches[1].pk)

    assert {p.user_id for p in report.people} == {seeded.people["A"].pk, seeded.people["B"].pk}
    assert person(report, seeded.people["A"]).labels == 1


def test_the_cap_keeps_only_the_newest_annotations_and_says_so(seeded):
    report = metrics.agreement_report(project=seeded.project, rows_max=2)

    assert report.is_capped
    assert (report.tasks, report.annotations) == (1, 2)  # the two labels of T4


def test_the_number_of_queries_does_not_grow_with_people_or_tasks():
    small = seed_consensus()
    with CaptureQueriesContext(connection) as few:
        metrics.project_quality(project=small.project)
    large = seed_consensus()
    add_tasks(large.project, 3)
    for _ in range(3):
        worker = make_worker()
        for _ in range(3):
            lease = slot_claim_next(project=large.project, user=worker).lease
            lease_submit(lease_id=lease.pk, user=worker, result={"label": "cat"})

    with CaptureQueriesContext(connection) as many:
        report = metrics.project_quality(project=large.project)

    assert len(report.people.people) == 6
    assert len(many) == len(few) == 6


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

    report = metrics.agreement_report(project=project)

    # Final: [cat] twice; A's [cat, dog] scores F1 2/3 against it, the rest 1.
    assert report.alpha == pytest.approx((1 + 1 + 2 / 3 + 1) / 4)
    assert report.alpha_label == "Mean agreement with the final result"
    assert report.fleiss_kappa is None
    assert report.fleiss_note.startswith("n/a")
    assert report.pairwise_kappa is None


def seed_reviewed(customer=None):
    """A standard project with two review levels and two gold tasks (answers cat and dog).

    W answers both gold tasks "cat" (10 s each), then labels T2 cat (40 s) and T3 dog (20 s).
    R1 approves both at level 1; R2 approves T2 and corrects T3 to bird at level 2.
    V takes a task and skips it.
    """
    project = make_project(
        customer,
        review_levels=[{"rates": ALWAYS}, {"rates": ALWAYS}],
        gold_warmup=2,
        gold_rates=NEVER,
    )
    tasks = add_tasks(project, 4)
    gold_answer_set(task=project.tasks.get(pk=tasks[0]), result={"label": "cat"}, actor=None)
    gold_answer_set(task=project.tasks.get(pk=tasks[1]), result={"label": "dog"}, actor=None)
    worker, skipper = make_worker(), make_worker()
    first, second = make_user(Role.REVIEWER, level=1), make_user(Role.REVIEWER, level=2)
    label_each(
        project,
        worker,
        {tasks[0]: "cat", tasks[1]: "cat", tasks[2]: "cat", tasks[3]: "dog"},
        seconds_of={tasks[0]: 10, tasks[1]: 10, tasks[2]: 40, tasks[3]: 20},
    )
    for _ in range(2):
        lease = review_claim_next(project=project, user=first).lease
        review_submit(lease_id=lease.pk, user=first, verdict="approve")
    for _ in range(2):
        lease = review_claim_next(project=project, user=second).lease
        if lease.task_id == tasks[2]:
            review_submit(lease_id=lease.pk, user=second, verdict="approve")
        else:
            review_submit(
                lease_id=lease.pk, user=second, verdict="correct", result={"label": "bird"}
            )
    lease = slot_claim_next(project=project, user=skipper).lease
    lease_skip(lease_id=lease.pk, user=skipper)
    people = {"W": worker, "V": skipper, "R1": first, "R2": second}
    return Seeded(project, people, tasks, [])


def test_gold_accuracy_review_pass_rate_active_time_and_skips_per_person():
    seeded = seed_reviewed()

    report = metrics.people_report(project=seeded.project)

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

    report = metrics.people_report(project=seeded.project)

    first, second = person(report, seeded.people["R1"]), person(report, seeded.people["R2"])
    assert (first.reviews_given, first.reviews_audited, first.reviews_upheld) == (2, 2, 1)
    assert first.reviewer_accuracy == 0.5
    assert (second.reviews_given, second.reviews_audited, second.reviewer_accuracy) == (2, 0, None)
    assert second.is_reviewer and not second.is_annotator  # a correction is not their label


def test_the_gold_set_lists_answers_with_their_scores():
    seeded = seed_reviewed()

    rows, total = metrics.gold_set(project=seeded.project)

    assert total == 2
    assert [(r.task_id, r.result, r.scores, r.mean_score) for r in rows] == [
        (seeded.tasks[1], {"label": "dog"}, 1, 0.0),
        (seeded.tasks[0], {"label": "cat"}, 1, 1.0),
    ]


def test_people_sort_by_a_column_with_the_empty_ones_last(seeded):
    report = metrics.people_report(project=seeded.project)
    a, b, c = (seeded.people[n].pk for n in "ABC")

    by_kappa, applied = metrics.people_sorted(report.people, "kappa")
    unknown, fallback = metrics.people_sorted(report.people, "salary")

    assert [p.user_id for p in by_kappa] == [c, a, b]
    assert applied == "kappa"
    assert fallback == metrics.DEFAULT_PEOPLE_SORT
    assert [p.user_id for p in unknown] == [a, b, c]
