"""The consensus model's scores as rule conditions: spammer score, agreement with the confident
consensus, the chance-corrected gold accuracy upper bound; scoped to the rule's project."""

from datetime import timedelta

import pytest
from django.utils import timezone

from core.errors import ValidationFailed
from labeling.models import Annotation, AnnotationStatus, Task, WorkerConfusion
from quality.models import RuleAction
from quality.services.evaluation import rule_dry_run, rules_evaluate, spammer_scores
from quality.services.rules import rule_build
from tests.labeling.factories import make_project, make_worker
from tests.quality.factories import gold_record, make_manager, spam_rule

pytestmark = pytest.mark.django_db

SPAMMER = [[0.25] * 4] * 4  # the same row whatever the truth: a spammer
HONEST = [[0.9 if g == t else 0.1 / 3 for g in range(4)] for t in range(4)]
CLASSES = ["a", "b", "c", "d"]


def _labels(project, person, count, *, label="a", task_result=None, confidence=None):
    now = timezone.now()
    tasks = Task.objects.bulk_create(
        Task(
            project=project,
            data={"text": f"t{i}"},
            result=task_result,
            confidence=confidence,
            annotations_count=1,
        )
        for i in range(count)
    )
    rows = Annotation.objects.bulk_create(
        Annotation(
            task=task,
            project=project,
            author=person,
            result={"label": label},
            status=AnnotationStatus.SUBMITTED,
            submitted_at=now - timedelta(minutes=count - i),
        )
        for i, task in enumerate(tasks)
    )
    return [row.pk for row in rows]


def _confusion(project, person, matrix):
    WorkerConfusion.objects.create(
        user=person, project=project, classes=CLASSES, matrix=matrix, accuracy=0.25, labels_seen=30
    )


def test_a_spammer_score_rule_suspends_with_the_labels_as_evidence():
    manager, project = (
        make_manager(),
        make_project(pipeline="consensus", overlap=3, max_overlap=3, labels=CLASSES),
    )
    spammer, honest = make_worker(), make_worker()
    ids = _labels(project, spammer, 25)
    _labels(project, honest, 25)
    _confusion(project, spammer, SPAMMER)
    _confusion(project, honest, HONEST)
    spam_rule(
        manager,
        project,
        metric="spammer_score",
        window_size=50,
        min_sample=20,
        comparator="gt",
        threshold=0.65,
        action="suspend_project",
    )

    [action] = rules_evaluate(user=spammer, project=project)

    assert action.metric_value == pytest.approx(1.0)
    assert action.sample_size == 25 and sorted(action.item_ids) == sorted(ids)
    assert action.evidence["items"] == "annotation"
    # Suspended for spam: their work on open tasks stops counting and the tasks are labelled again.
    assert sorted(action.evidence["discounted_annotation_ids"]) == sorted(ids)
    assert not Task.objects.filter(annotations__pk__in=ids, annotations_count__gt=0).exists()
    assert rules_evaluate(user=honest, project=project) == []


def test_too_few_labels_or_no_estimate_judges_nobody():
    manager, project = (
        make_manager(),
        make_project(pipeline="consensus", overlap=3, max_overlap=3, labels=CLASSES),
    )
    few, unknown = make_worker(), make_worker()
    _labels(project, few, 19)
    _confusion(project, few, SPAMMER)
    _labels(project, unknown, 30)  # no estimate of their own
    rule = spam_rule(
        manager, project, metric="spammer_score", min_sample=20, comparator="gt", threshold=0.65
    )

    hits = {hit.person.pk: hit for hit in rule_dry_run(rule=rule)}

    assert not hits[few.pk].would_fire and hits[few.pk].sample == 19
    assert hits[unknown.pk].value is None and not hits[unknown.pk].would_fire


def test_the_spammer_score_reads_only_the_rule_s_project():
    manager = make_manager()
    here = make_project(pipeline="consensus", overlap=3, max_overlap=3, labels=CLASSES)
    elsewhere = make_project(pipeline="consensus", overlap=3, max_overlap=3, labels=CLASSES)
    person = make_worker()
    _labels(here, person, 25)
    _confusion(here, person, HONEST)
    _confusion(elsewhere, person, SPAMMER)  # a spammer elsewhere is not judged here
    spam_rule(manager, here, metric="spammer_score", comparator="gt", threshold=0.65)

    assert rules_evaluate(user=person, project=here) == []
    assert spammer_scores(project_id=elsewhere.pk) == {person.pk: pytest.approx(1.0)}
    assert not RuleAction.objects.exists()


def test_agreement_with_the_confident_consensus_counts_only_confident_tasks():
    manager, project = (
        make_manager(),
        make_project(pipeline="consensus", overlap=3, max_overlap=3, labels=CLASSES),
    )
    person = make_worker()
    agreed = _labels(project, person, 5, task_result={"label": "a"}, confidence=0.95)
    disagreed = _labels(project, person, 15, task_result={"label": "b"}, confidence=0.97)
    _labels(project, person, 30, task_result={"label": "a"}, confidence=0.6)  # not confident
    rule = spam_rule(
        manager,
        project,
        metric="consensus_agreement",
        min_sample=20,
        comparator="lt",
        threshold=0.5,
    )

    [hit] = rule_dry_run(rule=rule)

    assert hit.sample == 20 and hit.value == pytest.approx(0.25) and hit.would_fire
    [action] = rules_evaluate(user=person, project=project)
    assert sorted(action.item_ids) == sorted(agreed + disagreed)


def test_gold_accuracy_upper_bound_is_chance_corrected():
    manager, project = make_manager(), make_project(labels=CLASSES)
    guesser = make_worker()
    gold_record(project, guesser, [1.0, 0.0, 0.0, 0.0] * 5)  # 25%: what guessing among 4 gives
    rule = spam_rule(
        manager,
        project,
        metric="gold_accuracy_upper",
        min_sample=10,
        comparator="lt",
        threshold=0.2,
    )

    [hit] = rule_dry_run(rule=rule)

    # Wilson upper bound of 5/20 is 0.4687; above chance (1/4): (0.4687 - 0.25) / 0.75 = 0.2916.
    assert hit.value == pytest.approx(0.2916, abs=0.001)
    assert not hit.would_fire  # 20 items cannot show it is below 0.2


@pytest.mark.parametrize("metric", ["spammer_score", "consensus_agreement", "gold_accuracy_upper"])
def test_a_global_rule_cannot_use_the_model_s_scores(metric):
    with pytest.raises(ValidationFailed) as caught:
        rule_build(
            project=None,
            name="Global",
            metric=metric,
            window_kind="items",
            window_size=20,
            min_sample=10,
            comparator="gt",
            threshold=0.5,
            action="notify",
        )
    assert "metric" in caught.value.extra["fields"]


def test_a_share_metric_refuses_a_threshold_above_one():
    with pytest.raises(ValidationFailed) as caught:
        rule_build(
            project=make_project(labels=CLASSES),
            name="Too high",
            metric="spammer_score",
            window_kind="items",
            window_size=20,
            min_sample=10,
            comparator="gt",
            threshold=1.5,
            action="notify",
        )
    assert "threshold" in caught.value.extra["fields"]
