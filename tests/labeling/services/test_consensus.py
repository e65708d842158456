"""Consensus with confusion estimates: dynamic overlap, posterior confidence, and the estimates job."""

import pytest

from labeling.models import (
    AnnotationStatus,
    ConsensusPriors,
    SlotKind,
    SlotState,
    Task,
    TaskStatus,
    WorkerConfusion,
    WorkSlot,
)
from labeling.services.claim import slot_claim_next
from labeling.services.consensus import consensus_confusions_estimate
from labeling.services.submit import lease_submit
from tests.labeling.factories import add_tasks, make_project, make_worker

pytestmark = pytest.mark.django_db

CLASSES = ["cat", "dog", "bird"]


def dynamic_project(**settings):
    settings = {
        "pipeline": "consensus",
        "overlap": 2,
        "max_overlap": 4,
        "confidence_threshold": 0.95,
        "aggregation_method": "dawid_skene",
        "gold_warmup": 0,
        **settings,
    }
    return make_project(**settings)


def estimate(project, person, accuracy):
    off = (1 - accuracy) / 2
    matrix = [[accuracy if i == j else off for j in range(3)] for i in range(3)]
    WorkerConfusion.objects.create(
        user=person, project=project, classes=CLASSES, matrix=matrix, accuracy=accuracy
    )


def label(project, person, value):
    lease = slot_claim_next(project=project, user=person).lease
    return lease_submit(lease_id=lease.pk, user=person, result={"label": value})


def open_slots(task_id):
    return WorkSlot.objects.filter(
        task_id=task_id, kind=SlotKind.ANNOTATE, state=SlotState.OPEN
    ).count()


def test_two_reliable_people_who_agree_finish_the_task_at_the_minimum():
    project = dynamic_project()
    [task_id] = add_tasks(project, 1)
    a, b = make_worker(), make_worker()
    estimate(project, a, 0.95)
    estimate(project, b, 0.95)

    label(project, a, "cat")
    label(project, b, "cat")

    task = Task.objects.get(pk=task_id)
    assert task.status == TaskStatus.COMPLETED
    assert task.result == {"label": "cat"}
    assert task.confidence >= 0.95
    assert task.annotations_count == 2


def test_a_disagreement_adds_one_more_slot_until_the_posterior_is_confident():
    project = dynamic_project()
    [task_id] = add_tasks(project, 1)
    people = [make_worker() for _ in range(3)]
    for person in people:
        estimate(project, person, 0.95)

    label(project, people[0], "cat")
    label(project, people[1], "dog")
    assert Task.objects.get(pk=task_id).status == TaskStatus.OPEN
    assert open_slots(task_id) == 1
    label(project, people[2], "cat")

    task = Task.objects.get(pk=task_id)
    assert task.status == TaskStatus.COMPLETED
    assert task.result == {"label": "cat"}
    assert task.annotations_count == 3


def test_a_task_still_unsure_at_the_maximum_goes_to_review():
    project = dynamic_project(max_overlap=3)
    [task_id] = add_tasks(project, 1)
    people = [make_worker() for _ in range(3)]

    for person, value in zip(people, ["cat", "dog", "bird"], strict=True):
        label(project, person, value)

    task = Task.objects.get(pk=task_id)
    assert task.status == TaskStatus.IN_REVIEW
    assert task.confidence < 0.95
    assert WorkSlot.objects.filter(task_id=task_id, kind=SlotKind.REVIEW, level=1).exists()
    assert open_slots(task_id) == 0


def test_unknown_people_count_with_the_default_accuracy():
    project = dynamic_project()
    [task_id] = add_tasks(project, 1)

    label(project, make_worker(), "cat")
    label(project, make_worker(), "cat")

    # Two unknown people at the default accuracy do not reach 0.95 together.
    assert Task.objects.get(pk=task_id).status == TaskStatus.OPEN
    assert open_slots(task_id) == 1


def test_fixed_overlap_stores_a_confidence_and_each_annotations_agreement():
    project = make_project(pipeline="consensus", overlap=3, max_overlap=3, gold_warmup=0)
    [task_id] = add_tasks(project, 1)

    notes = [label(project, make_worker(), value) for value in ["cat", "cat", "dog"]]

    task = Task.objects.get(pk=task_id)
    assert task.status == TaskStatus.COMPLETED
    assert task.confidence == pytest.approx(2 / 3)
    agreements = [type(n).objects.get(pk=n.pk).agreement for n in notes]
    assert agreements == [1.0, 1.0, 0.0]
    assert {type(n).objects.get(pk=n.pk).status for n in notes} == {AnnotationStatus.ACCEPTED}


def test_the_estimates_job_learns_who_is_reliable():
    project = make_project(
        pipeline="consensus", overlap=3, max_overlap=3, aggregation_method="dawid_skene"
    )
    add_tasks(project, 12)
    good = [make_worker() for _ in range(2)]
    spammer = make_worker()
    truth = ["cat", "dog", "bird"] * 4
    for person in [*good, spammer]:
        for _ in range(12):
            lease = slot_claim_next(project=project, user=person).lease
            value = "dog" if person == spammer else truth[(lease.task_id - 1) % 12]
            lease_submit(lease_id=lease.pk, user=person, result={"label": value})

    summary = consensus_confusions_estimate(project=project)

    assert summary["people"] == 3
    accuracy = dict(WorkerConfusion.objects.values_list("user_id", "accuracy"))
    assert accuracy[spammer.pk] < min(accuracy[p.pk] for p in good)


def test_a_completed_consensus_task_lets_the_rules_judge_each_authors_agreement(
    django_capture_on_commit_callbacks,
):
    from accounts.models import Role
    from quality.models import RuleAction
    from quality.services.rules import rule_create
    from tests.factories import make_user

    project = make_project(pipeline="consensus", overlap=3, max_overlap=3, gold_warmup=0)
    add_tasks(project, 3)
    rule_create(
        actor=make_user(Role.MANAGER),
        project=project,
        name="Disagrees with the crowd",
        metric="agreement",
        window_kind="items",
        window_size=10,
        min_sample=3,
        comparator="lt",
        threshold=0.5,
        action="notify",
    )
    honest, also_honest, contrarian = make_worker(), make_worker(), make_worker()

    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(3):
            label(project, honest, "cat")
            label(project, also_honest, "cat")
            label(project, contrarian, "dog")

    hit = RuleAction.objects.get()
    assert hit.user_id == contrarian.pk
    assert hit.sample_size == 3


# --- Class priors and the crowd's matrix -------------------------------------------------------


def store_priors(project, priors, crowd_accuracy):
    off = (1 - crowd_accuracy) / 2
    crowd = [[crowd_accuracy if i == j else off for j in range(3)] for i in range(3)]
    ConsensusPriors.objects.create(
        project=project, classes=CLASSES, class_priors=priors, crowd_matrix=crowd
    )


def test_a_posterior_at_submission_uses_the_class_priors_and_the_crowds_matrix():
    project = dynamic_project(overlap=2, max_overlap=2, confidence_threshold=None)
    [task_id] = add_tasks(project, 1)
    store_priors(project, [0.8, 0.1, 0.1], crowd_accuracy=0.9)

    label(project, make_worker(), "dog")
    label(project, make_worker(), "dog")

    # Two people without estimates count as the crowd (right 90%, else 5% per wrong class), and
    # dogs are rare: P(dog) = 0.1 * 0.9^2 / (0.1 * 0.9^2 + 0.8 * 0.05^2 + 0.1 * 0.05^2).
    task = Task.objects.get(pk=task_id)
    assert task.result == {"label": "dog"}
    assert task.confidence == pytest.approx(0.081 / (0.081 + 0.9 * 0.0025), abs=1e-6)


def test_weighted_vote_at_submission_uses_the_class_priors():
    project = dynamic_project(
        overlap=2, max_overlap=2, confidence_threshold=None, aggregation_method="weighted"
    )
    [task_id] = add_tasks(project, 1)
    store_priors(project, [0.6, 0.2, 0.2], crowd_accuracy=0.8)

    label(project, make_worker(), "dog")
    label(project, make_worker(), "dog")

    # The crowd's accuracy weighted by the priors is 0.8, so each vote multiplies the odds of its
    # class by 0.8 * 2 / 0.2 = 8: dog 0.2 * 64 against cat 0.6 and bird 0.2.
    task = Task.objects.get(pk=task_id)
    assert task.result == {"label": "dog"}
    assert task.confidence == pytest.approx(12.8 / (12.8 + 0.6 + 0.2), abs=1e-6)


def test_priors_stored_for_other_labels_are_ignored():
    project = dynamic_project(overlap=2, max_overlap=2, confidence_threshold=None)
    [task_id] = add_tasks(project, 1)
    ConsensusPriors.objects.create(
        project=project,
        classes=["cat", "dog"],
        class_priors=[0.9, 0.1],
        crowd_matrix=[[0.9, 0.1], [0.1, 0.9]],
    )

    label(project, make_worker(), "dog")
    label(project, make_worker(), "dog")

    # Uniform priors and the default accuracy (0.7, else 0.15 per wrong class) instead.
    confidence = Task.objects.get(pk=task_id).confidence
    assert confidence == pytest.approx(0.49 / (0.49 + 2 * 0.15**2), abs=1e-6)


def test_the_estimates_job_stores_the_class_priors_and_the_crowds_matrix():
    project = make_project(
        pipeline="consensus", overlap=2, max_overlap=2, aggregation_method="dawid_skene"
    )
    add_tasks(project, 8)
    people = [make_worker() for _ in range(2)]
    for person in people:
        for _ in range(8):
            lease = slot_claim_next(project=project, user=person).lease
            value = "bird" if lease.task_id % 4 == 0 else "cat"
            lease_submit(lease_id=lease.pk, user=person, result={"label": value})

    summary = consensus_confusions_estimate(project=project)

    stored = ConsensusPriors.objects.get(project=project)
    assert stored.classes == CLASSES
    assert stored.labels_seen == 16
    assert summary["iterations"] >= 1
    cat, dog, bird = stored.class_priors
    # Six cats, no dog, two birds, with one pseudo-count per class: (6+1)/11, 1/11, (2+1)/11.
    assert (cat, dog, bird) == pytest.approx((7 / 11, 1 / 11, 3 / 11), abs=0.01)
    assert all(sum(row) == pytest.approx(1) for row in stored.crowd_matrix)
    assert stored.crowd_matrix[0][0] > 0.7


def test_a_newcomer_after_an_estimate_counts_as_the_crowd():
    project = dynamic_project(overlap=2, max_overlap=2, confidence_threshold=None)
    [task_id] = add_tasks(project, 1)
    store_priors(project, [1 / 3, 1 / 3, 1 / 3], crowd_accuracy=0.85)
    veteran = make_worker()
    estimate(project, veteran, 0.99)

    label(project, veteran, "bird")
    label(project, make_worker(), "bird")

    # The veteran's own matrix (0.99, 0.005 per wrong class), the newcomer's the crowd's (0.85, 0.075).
    confidence = Task.objects.get(pk=task_id).confidence
    assert confidence == pytest.approx(0.99 * 0.85 / (0.99 * 0.85 + 2 * 0.005 * 0.075), abs=1e-6)
