"""The engine tells customers' webhooks when tasks, projects and imports finish."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from labeling.models import WebhookDelivery
from labeling.services.claim import slot_claim_next
from labeling.services.imports.batches import import_create_from_upload
from labeling.services.submit import lease_submit
from labeling.services.webhooks import webhook_endpoint_create
from tests.labeling.factories import add_tasks, make_project, make_worker

pytestmark = pytest.mark.django_db


@pytest.fixture
def no_sending(monkeypatch):
    """Record deliveries without sending them (sending is tested in test_webhooks)."""
    from labeling.services import webhooks

    monkeypatch.setattr(webhooks, "_enqueue_delivery", lambda delivery_id: None)


def events():
    return list(WebhookDelivery.objects.order_by("pk").values_list("event", flat=True))


def test_completing_tasks_emits_task_completed_and_the_last_one_project_completed(no_sending):
    project = make_project()
    webhook_endpoint_create(
        customer=project.customer, url="https://hooks.example.com/q", events=[], actor=None
    )
    add_tasks(project, 2)
    worker = make_worker()

    for _ in range(2):
        lease = slot_claim_next(project=project, user=worker).lease
        lease_submit(lease_id=lease.pk, user=worker, result={"label": "cat"})

    assert events() == ["task.completed", "task.completed", "project.completed"]
    payload = WebhookDelivery.objects.filter(event="task.completed").first().payload["data"]
    assert payload["project_id"] == project.pk
    assert payload["result"] == {"label": "cat"}
    assert (
        WebhookDelivery.objects.get(event="project.completed").payload["data"]["tasks_completed"]
        == 2
    )


def test_no_endpoint_means_no_delivery_rows(no_sending):
    project = make_project()
    add_tasks(project, 1)
    worker = make_worker()

    lease = slot_claim_next(project=project, user=worker).lease
    lease_submit(lease_id=lease.pk, user=worker, result={"label": "cat"})

    assert events() == []


def test_a_finished_import_emits_import_finished(no_sending, django_capture_on_commit_callbacks):
    project = make_project()
    webhook_endpoint_create(
        customer=project.customer,
        url="https://hooks.example.com/q",
        events=["import.finished"],
        actor=None,
    )

    with django_capture_on_commit_callbacks(execute=True):
        import_create_from_upload(
            project=project, upload=SimpleUploadedFile("t.jsonl", b'{"text": "a"}\n'), actor=None
        )

    assert events() == ["import.finished"]
    data = WebhookDelivery.objects.get().payload["data"]
    assert (data["status"], data["tasks_created"]) == ("succeeded", 1)
