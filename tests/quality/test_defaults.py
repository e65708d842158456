"""The default rules of new projects, and how they judge a simulated crowd through the product's
own path: Dawid-Skene estimates stored by labeling, spammer scores, the rule's dry run."""

from datetime import timedelta

import numpy as np
import pytest
from django.utils import timezone

from kit.consensus import simulate_population
from labeling.models import Annotation, AnnotationStatus, Task
from labeling.services.consensus import consensus_confusions_estimate
from quality.defaults import DEFAULT_RULES, default_rules_create
from quality.models import QualityRule, RuleMetric
from quality.services.evaluation import rule_dry_run
from quality.services.rules import rule_update
from tests.labeling.factories import make_project, make_worker
from tests.quality.factories import make_manager

pytestmark = pytest.mark.django_db

CLASSES = ["pos", "neg", "mixed", "off"]


@pytest.mark.default_rules
def test_a_new_project_starts_with_the_default_rules_on_and_editable():
    project = make_project(pipeline="consensus", overlap=3, max_overlap=3, labels=CLASSES)

    rules = list(QualityRule.objects.filter(project=project).order_by("pk"))

    assert [r.metric for r in rules] == [RuleMetric.SPAMMER_SCORE, RuleMetric.GOLD_ACCURACY_UPPER]
    assert all(r.is_active for r in rules)
    assert rules[0].threshold == 0.65 and rules[0].min_sample == 20
    rule_update(rule=rules[0], actor=make_manager(), is_active=False)
    rules[0].refresh_from_db()
    assert not rules[0].is_active
    assert default_rules_create(project=project) == []  # once only


def test_without_the_setting_a_new_project_has_no_rules():
    project = make_project()

    assert not QualityRule.objects.filter(project=project).exists()


@pytest.fixture
def crowd_project():
    """60 people (heavy-tailed activity; 75% honest, 10% weak, 15% spammers), 1,500 tasks of four
    skewed classes, five labels each; labeling's estimates fitted. Fixed seeds."""
    n_people, n_tasks = 60, 1_500
    population = simulate_population(
        n_tasks,
        n_people,
        len(CLASSES),
        shares={"honest": 0.75, "weak": 0.10, "spammer": 0.15},
        seed=11,
        class_priors=[0.5, 0.25, 0.15, 0.1],
    )
    rng = np.random.default_rng(12)
    activity = rng.pareto(1.2, n_people) + 1
    activity /= activity.sum()
    chosen = np.array(
        [rng.choice(n_people, size=5, replace=False, p=activity) for _ in range(n_tasks)]
    )
    task_index = np.repeat(np.arange(n_tasks), 5)
    labels = population.label(rng, task_index, chosen.ravel())
    project = make_project(pipeline="consensus", overlap=5, max_overlap=5, labels=CLASSES)
    tasks = Task.objects.bulk_create(
        Task(project=project, data={"text": f"Item {i}"}, status="completed")
        for i in range(n_tasks)
    )
    people = [make_worker() for _ in range(n_people)]
    start = timezone.now() - timedelta(days=1)
    Annotation.objects.bulk_create(
        Annotation(
            task=tasks[t],
            project=project,
            author=people[p],
            result={"label": CLASSES[label]},
            status=AnnotationStatus.SUBMITTED,
            submitted_at=start + timedelta(seconds=i),
        )
        for i, (t, p, label) in enumerate(
            zip(task_index.tolist(), chosen.ravel().tolist(), labels.tolist(), strict=True)
        )
    )
    consensus_confusions_estimate(project=project)
    kinds = {person.pk: kind for person, kind in zip(people, population.kinds, strict=True)}
    return project, kinds


def test_the_default_spam_rule_catches_spammers_with_95_percent_precision(crowd_project):
    project, kinds = crowd_project
    default_rules_create(project=project)
    rule = QualityRule.objects.get(project=project, metric=RuleMetric.SPAMMER_SCORE)

    hits = rule_dry_run(rule=rule)

    flagged = {hit.person.pk for hit in hits if hit.would_fire}
    spammers = {pk for pk, kind in kinds.items() if kind == "spammer"}
    precision = len(flagged & spammers) / max(len(flagged), 1)
    # A spammer with enough labels is caught: those with fewer than min_sample are not judged.
    judged = {hit.person.pk for hit in hits if hit.sample >= rule.min_sample}
    recall = len(flagged & spammers) / max(len(spammers & judged), 1)
    assert flagged, "the rule caught nobody"
    assert precision >= 0.95
    # Measured: 6 of 6 flagged are spammers; 6 of the 9 judged spammers are caught (the others
    # score 0.60-0.64: their estimates are shrunk towards the crowd's).
    assert recall >= 0.6
    assert not {pk for pk in flagged if kinds[pk] == "weak"}  # weak but honest: never flagged
    assert all(hit.sample >= rule.min_sample for hit in hits if hit.would_fire)


def test_the_default_rules_keep_their_documented_settings():
    assert [r["metric"] for r in DEFAULT_RULES] == ["spammer_score", "gold_accuracy_upper"]
