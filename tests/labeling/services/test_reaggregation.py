"""Re-aggregation: when the estimates refresh, the tasks whose label or confidence change get the
new values, once, each change recorded, announced and sent to the customer's webhooks."""

from datetime import timedelta

import pytest
from django.utils import timezone

from core.models import AuditEvent
from labeling.events import work_updated
from labeling.jobs.consensus import consensus_confusions_estimate
from labeling.models import (
    ConsensusPriors,
    Review,
    Task,
    TaskStatus,
    WebhookDelivery,
    WorkerConfusion,
)
from labeling.models.work import Reaggregation
from labeling.services.claim import slot_claim_next
from labeling.services.reaggregation import project_reaggregate, reaggregation_progress
from labeling.services.submit import lease_submit
from labeling.services.webhooks import webhook_endpoint_create
from tests.labeling.factories import add_tasks, make_project, make_worker

pytestmark = pytest.mark.django_db

CLASSES = ["cat", "dog", "bird"]
NOW = timezone.now()


def ds_project(**settings):
    return make_project(
        **{
            "pipeline": "consensus",
            "overlap": 3,
            "max_overlap": 3,
            "aggregation_method": "dawid_skene",
            "gold_warmup": 0,
            "review_levels": [],
            **settings,
        }
    )


def label_all(project, person, labels):
    """`person` labels every task of `labels` (task id -> label) they are given."""
    for _ in labels:
        lease = slot_claim_next(project=project, user=person).lease
        lease_submit(lease_id=lease.pk, user=person, result={"label": labels[lease.slot.task_id]})


def matrix(accuracy):
    off = (1 - accuracy) / 2
    return [[accuracy if i == j else off for j in range(3)] for i in range(3)]


def refresh_estimates(project, accuracies, at):
    """What the estimates job stores: people's matrices, the priors and the crowd's matrix."""
    WorkerConfusion.objects.filter(project=project).delete()
    for person, accuracy in accuracies.items():
        WorkerConfusion.objects.create(
            user=person,
            project=project,
            classes=CLASSES,
            matrix=matrix(accuracy),
            accuracy=accuracy,
        )
    ConsensusPriors.objects.update_or_create(
        project=project,
        defaults={
            "classes": CLASSES,
            "class_priors": [1 / 3] * 3,
            "crowd_matrix": matrix(0.7),
            "labels_seen": 9,
            "updated_at": at,
        },
    )


@pytest.fixture
def finished():
    """Three tasks labelled by a, b, c under no estimates: the split one came out dog."""
    project = ds_project()
    split, agreed, other = add_tasks(project, 3)
    a, b, c = make_worker(), make_worker(), make_worker()
    label_all(project, a, {split: "cat", agreed: "dog", other: "bird"})
    label_all(project, b, {split: "dog", agreed: "dog", other: "bird"})
    label_all(project, c, {split: "dog", agreed: "dog", other: "bird"})
    assert Task.objects.get(pk=split).result == {"label": "dog"}
    assert set(Task.objects.filter(project=project).values_list("status", flat=True)) == {
        TaskStatus.COMPLETED
    }
    return project, (split, agreed, other), (a, b, c)


def test_new_estimates_change_the_tasks_they_should_once_and_record_each_change(finished):
    project, (split, _, _), (a, b, c) = finished
    refresh_estimates(project, {a: 0.99, b: 0.4, c: 0.4}, NOW)
    before = {t.pk: (t.result, t.confidence) for t in Task.objects.filter(project=project)}

    summary = project_reaggregate(project=project, now=NOW)

    flipped = Task.objects.get(pk=split)
    assert flipped.result == {"label": "cat"}
    assert flipped.status == TaskStatus.COMPLETED
    record = Reaggregation.objects.get(task_id=split)
    assert (record.before_result, record.after_result) == ({"label": "dog"}, {"label": "cat"})
    assert record.before_confidence == before[split][1]
    assert record.after_confidence == flipped.confidence
    assert record.estimates_at == NOW
    changed = set(Reaggregation.objects.values_list("task_id", flat=True))
    for task in Task.objects.filter(project=project).exclude(pk__in=changed):
        assert (task.result, task.confidence) == before[task.pk]
    assert summary.changed == len(changed) >= 1
    assert summary.examined == 3

    again = project_reaggregate(project=project, now=NOW + timedelta(minutes=5))

    assert again.changed == 0
    assert Reaggregation.objects.count() == len(changed)
    assert Task.objects.get(pk=split).result == {"label": "cat"}


def test_estimates_that_change_nothing_record_nothing(finished):
    project, _, (a, b, c) = finished
    refresh_estimates(project, {a: 0.9, b: 0.9, c: 0.9}, NOW)
    project_reaggregate(project=project, now=NOW)
    count = Reaggregation.objects.count()
    # The next refresh computes the same estimates at a later time: the outcomes stay as they are.
    refresh_estimates(project, {a: 0.9, b: 0.9, c: 0.9}, NOW + timedelta(hours=1))

    summary = project_reaggregate(project=project, now=NOW + timedelta(hours=1))

    assert summary.changed == 0
    assert Reaggregation.objects.count() == count


def test_each_change_is_announced_in_the_transaction_and_audited(finished):
    project, (split, _, _), (a, b, c) = finished
    refresh_estimates(project, {a: 0.99, b: 0.4, c: 0.4}, NOW)
    seen = []

    def receiver(**kwargs):
        seen.append(kwargs)

    work_updated.connect(receiver)
    try:
        project_reaggregate(project=project, now=NOW)
    finally:
        work_updated.disconnect(receiver)

    by_task = {event["task_id"]: event for event in seen}
    assert set(by_task) == set(Reaggregation.objects.values_list("task_id", flat=True))
    event = by_task[split]
    assert (event["before_label"], event["after_label"]) == ("dog", "cat")
    assert event["reaggregation_id"] == Reaggregation.objects.get(task_id=split).pk
    assert event["project_id"] == project.pk
    assert event["estimates_at"] == NOW
    audit = AuditEvent.objects.filter(action="tasks.reaggregated").get()
    assert split in audit.after["task_ids"]


def test_the_customer_is_told_by_a_task_updated_webhook(finished, settings):
    project, (split, _, _), (a, b, c) = finished
    webhook_endpoint_create(
        customer=project.customer,
        url="https://hooks.example.test/quorum",
        events=["task.updated"],
        actor=None,
    )
    refresh_estimates(project, {a: 0.99, b: 0.4, c: 0.4}, NOW)

    project_reaggregate(project=project, now=NOW)

    deliveries = WebhookDelivery.objects.filter(event="task.updated")
    payloads = {d.payload["data"]["task_id"]: d.payload["data"] for d in deliveries}
    assert set(payloads) == set(Reaggregation.objects.values_list("task_id", flat=True))
    assert payloads[split]["result"] == {"label": "cat"}
    assert payloads[split]["before"]["result"] == {"label": "dog"}
    assert not WebhookDelivery.objects.exclude(event="task.updated").exists()


def test_old_final_tasks_wait_for_a_request_or_the_project_setting(finished, settings):
    project, (split, _, _), (a, b, c) = finished
    settings.QUORUM_REAGGREGATE_RECENT_HOURS = 24
    Task.objects.filter(project=project).update(completed_at=NOW - timedelta(days=2))
    refresh_estimates(project, {a: 0.99, b: 0.4, c: 0.4}, NOW)

    automatic = project_reaggregate(project=project, now=NOW)

    assert (automatic.examined, automatic.changed) == (0, 0)
    assert Task.objects.get(pk=split).result == {"label": "dog"}

    project.reaggregate_final = True
    project.save(update_fields=["reaggregate_final"])
    by_setting = project_reaggregate(project=project, now=NOW)

    assert by_setting.examined == 3
    assert Task.objects.get(pk=split).result == {"label": "cat"}


def test_on_request_final_tasks_are_re_aggregated_too(finished, settings):
    project, (split, _, _), (a, b, c) = finished
    settings.QUORUM_REAGGREGATE_RECENT_HOURS = 24
    Task.objects.filter(project=project).update(completed_at=NOW - timedelta(days=2))
    refresh_estimates(project, {a: 0.99, b: 0.4, c: 0.4}, NOW)

    project_reaggregate(project=project, include_final=True, now=NOW)

    assert Task.objects.get(pk=split).result == {"label": "cat"}


def test_small_batches_change_the_same_tasks(finished):
    project, _, (a, b, c) = finished
    refresh_estimates(project, {a: 0.99, b: 0.4, c: 0.4}, NOW)
    seen = []

    summary = project_reaggregate(project=project, now=NOW, batch_size=1, progress=seen.append)

    assert seen == [1, 2, 3]
    assert summary.examined == 3
    assert summary.changed == Reaggregation.objects.count() >= 1


def test_gold_reviewed_and_tied_tasks_are_left_alone(finished):
    project, (split, agreed, _), (a, b, c) = finished
    Task.objects.filter(pk=agreed).update(is_gold=True)
    refresh_estimates(project, {a: 0.99, b: 0.4, c: 0.4}, NOW)
    reviewed = Task.objects.get(pk=split)
    Review.objects.create(
        task=reviewed,
        project=project,
        annotation=reviewed.annotations.first(),
        author=reviewed.annotations.first().author,
        reviewer=a,
        level=1,
        verdict="accept",
    )

    summary = project_reaggregate(project=project, now=NOW)

    assert summary.examined == 1  # the other one only
    assert Task.objects.get(pk=split).result == {"label": "dog"}
    assert not Reaggregation.objects.filter(task_id__in=[split, agreed]).exists()


def test_a_new_outcome_that_would_be_a_tie_leaves_the_label(finished):
    project, (split, _, _), (a, b, c) = finished
    # a's cat weighs as much as b's and c's dog together (2/3 * 1/16 == 1/6 * 1/4).
    refresh_estimates(project, {a: 2 / 3, b: 0.5, c: 0.5}, NOW)

    summary = project_reaggregate(project=project, now=NOW)

    assert summary.ties_left == 1
    assert Task.objects.get(pk=split).result == {"label": "dog"}
    assert not Reaggregation.objects.filter(task_id=split).exists()


def test_projects_without_estimates_or_posteriors_are_not_re_aggregated(finished):
    project, _, _ = finished

    assert project_reaggregate(project=project, now=NOW).estimates_at is None
    majority = make_project(pipeline="consensus", overlap=2, max_overlap=2, gold_warmup=0)
    assert project_reaggregate(project=majority, now=NOW).examined == 0


def test_the_estimates_job_re_aggregates_and_a_repeat_changes_nothing(finished):
    project, _, _ = finished
    first = consensus_confusions_estimate(project.pk)
    records = Reaggregation.objects.count()
    second = consensus_confusions_estimate(project.pk)

    assert first is not None and "reaggregated" in first
    assert first["reaggregated"] == records
    assert second is not None and second["reaggregated"] == 0
    assert Reaggregation.objects.count() == records


def test_a_run_reports_its_progress_batch_by_batch_and_when_it_is_finished(finished):
    project, _, (a, b, c) = finished
    refresh_estimates(project, {a: 0.99, b: 0.4, c: 0.4}, NOW)
    seen = []

    def after_batch(done):
        seen.append(reaggregation_progress(project))

    summary = project_reaggregate(project=project, now=NOW, batch_size=2, progress=after_batch)

    assert [(p["state"], p["done"], p["total"]) for p in seen] == [
        ("running", 2, 3),
        ("running", 3, 3),
    ]
    assert seen[0]["progress"] == pytest.approx(2 / 3, abs=1e-4)
    final = reaggregation_progress(project)
    assert (final["state"], final["done"], final["total"], final["progress"]) == (
        "finished",
        3,
        3,
        1.0,
    )
    assert final["changed"] == summary.changed > 0 and final["include_final"] is False
    assert final["finished_at"] is not None


def test_a_project_with_no_run_reports_idle_and_one_without_estimates_says_why(finished):
    project, _, _ = finished

    assert reaggregation_progress(project)["state"] == "idle"

    project_reaggregate(project=project, now=NOW)

    report = reaggregation_progress(project)
    assert (report["state"], report["total"], report["changed"]) == ("finished", 0, 0)
    assert "refresh the estimates" in report["message"]


def test_a_failed_run_reports_where_it_stopped(finished, monkeypatch):
    project, _, (a, b, c) = finished
    refresh_estimates(project, {a: 0.99, b: 0.4, c: 0.4}, NOW)
    calls = []

    def broken(**kwargs):
        calls.append(kwargs)
        if len(calls) > 1:
            raise RuntimeError("database went away")
        return 0, 0

    monkeypatch.setattr("labeling.services.reaggregation._reaggregate_batch", broken)

    with pytest.raises(RuntimeError):
        project_reaggregate(project=project, now=NOW, batch_size=2)

    report = reaggregation_progress(project)
    assert (report["state"], report["done"], report["total"]) == ("failed", 2, 3)
    assert report["message"] == "Stopped after 2 tasks: RuntimeError."
