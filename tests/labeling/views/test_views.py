"""The labeling portal pages: projects, instructions, imports, exports and tasks, scoped by customer."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import Role
from labeling.models import ExportJob, ExportStatus, ImportJob, ImportStatus, Project, Task
from labeling.services.claim import slot_claim_next
from labeling.services.gold import gold_answer_set
from labeling.services.imports.batches import import_create_from_upload
from labeling.services.submit import lease_submit
from tests.factories import make_user
from tests.labeling.factories import (
    add_tasks,
    make_customer,
    make_project,
    make_worker,
    project_form,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_of_the_test")]


def jsonl(*records):
    body = "\n".join(json.dumps(r) for r in records) + "\n"
    return SimpleUploadedFile("batch.jsonl", body.encode(), content_type="application/x-ndjson")


def complete(project, task_count, label="cat"):
    """Have one worker label `task_count` tasks of `project` (standard pipeline: each becomes final)."""
    worker = make_worker()
    done = []
    for _ in range(task_count):
        claim = slot_claim_next(project=project, user=worker)
        lease_submit(lease_id=claim.lease.pk, user=worker, result={"label": label})
        done.append(claim.lease.task_id)
    return done


def test_a_customer_creates_a_project_with_labels_from_the_textarea(customer_client, customer):
    form = project_form(labels="positive, #2ca02c, p\nnegative, #d62728\n\nneutral\n")

    response = customer_client.post("/projects/new/", form)

    project = Project.objects.get(name="Reviews")
    assert response.status_code == 302
    assert response["Location"] == f"/projects/{project.pk}/"
    assert project.customer == customer
    assert project.labels == [
        {"name": "positive", "color": "#2ca02c", "hotkey": "p"},
        {"name": "negative", "color": "#d62728", "hotkey": "2"},
        {"name": "neutral", "color": "#2ca02c", "hotkey": "3"},
    ]


def test_a_customer_does_not_choose_a_customer_but_a_manager_does(client, customer):
    other = make_customer("Other Co")
    client.force_login(make_user(Role.MANAGER, mfa=True))

    page = client.get("/projects/new/")
    response = client.post(
        "/projects/new/",
        project_form(customer=str(other.pk), preset="sentiment", task_type="", labels=""),
    )

    assert 'name="customer"' in page.content.decode()
    assert response.status_code == 302
    project = Project.objects.get(name="Reviews")
    assert project.customer == other
    assert [label["name"] for label in project.labels] == ["positive", "neutral", "negative"]


def test_a_bad_labels_line_is_reported_with_its_line_number_and_nothing_is_created(
    customer_client,
):
    form = project_form(labels="cat\n\ndog, blue\n")

    response = customer_client.post("/projects/new/", form)

    assert response.status_code == 200
    assert response.context["form"].errors["labels"] == [
        "Line 3: 'blue' is not a colour like #1f77b4."
    ]
    html = response.content.decode()
    assert '<ul class="errorlist" id="id_labels_errors" role="alert"><li>Line 3: ' in html
    assert not Project.objects.exists()


def test_a_labels_line_with_too_many_parts_is_reported_before_anything_else_is_checked(
    customer_client,
):
    form = project_form(labels="cat, #ff0000\ndog\nbird, #00ff00, x, extra\n")

    response = customer_client.post("/projects/new/", form)

    assert response.context["form"].errors["labels"] == [
        "Line 3: too many commas; write name, #colour, hotkey (a label name cannot contain a comma)."
    ]
    assert not Project.objects.exists()


@pytest.mark.parametrize(
    "page",
    [
        "/projects/{project}/",
        "/projects/{project}/edit/",
        "/projects/{project}/tasks/",
        "/tasks/{task}/",
        "/imports/{batch}/",
        "/imports/{batch}/row/",
    ],
)
def test_another_customers_project_task_and_import_pages_are_not_found(customer_client, page):
    project = make_project(make_customer("Someone Else"))
    task = add_tasks(project, 1)[0]
    batch = ImportJob.objects.get(project=project)

    response = customer_client.get(page.format(project=project.pk, task=task, batch=batch.pk))

    assert response.status_code == 404


def test_another_customers_project_cannot_be_changed_or_imported_into(customer_client):
    project = make_project(make_customer("Someone Else"), status="draft")

    status = customer_client.post(f"/projects/{project.pk}/status/", {"status": "active"})
    upload = customer_client.post(
        f"/projects/{project.pk}/imports/upload/", {"file": jsonl({"data": {"text": "x"}})}
    )

    assert (status.status_code, upload.status_code) == (404, 404)
    project.refresh_from_db()
    assert project.status == "draft"
    assert not ImportJob.objects.exists()


def test_visitors_are_sent_to_sign_in(client):
    project = make_project()

    response = client.get(f"/projects/{project.pk}/")

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize("role", [Role.ANNOTATOR, Role.FINANCE])
def test_annotators_and_finance_are_refused_the_projects_pages(client, role):
    client.force_login(make_user(role, mfa=role == Role.FINANCE))
    project = make_project()

    listing = client.get("/projects/")
    detail = client.get(f"/projects/{project.pk}/")

    assert (listing.status_code, detail.status_code) == (403, 403)


def test_the_project_list_shows_only_own_projects_and_filters_by_status(customer_client, customer):
    make_project(customer, status="active")
    paused = make_project(customer, status="paused")
    make_project(make_customer("Someone Else"), status="paused")

    everything = customer_client.get("/projects/")
    only_paused = customer_client.get("/projects/?status=paused")

    assert everything.context["page"].paginator.count == 2
    assert [p.pk for p in only_paused.context["page"]] == [paused.pk]
    assert "New project" in everything.content.decode()


def test_uploading_a_jsonl_file_imports_its_tasks_and_the_import_page_shows_the_counts(
    customer_client, customer, django_capture_on_commit_callbacks
):
    project = make_project(customer)
    upload = jsonl(
        {"external_id": "r-1", "data": {"text": "Great phone"}},
        {"external_id": "r-2", "data": {"text": "Awful battery"}},
        {"external_id": "r-1", "data": {"text": "Great phone, again"}},
    )

    with django_capture_on_commit_callbacks(execute=True):
        response = customer_client.post(
            f"/projects/{project.pk}/imports/upload/", {"file": upload, "format": ""}
        )

    assert response.status_code == 302
    assert response["Location"] == f"/projects/{project.pk}/#imports"
    job = ImportJob.objects.get(project=project)
    assert (job.status, job.tasks_created, job.duplicates) == (ImportStatus.SUCCEEDED, 2, 1)
    assert sorted(project.tasks.values_list("external_id", flat=True)) == ["r-1", "r-2"]
    page = customer_client.get(f"/imports/{job.pk}/")
    html = " ".join(page.content.decode().split())
    assert page.context["progress"]["lines_read"] == 3
    assert "<td>3</td> <td>2</td> <td>1</td> <td>0</td>" in html
    assert "Imported 2 task(s)." in html


def test_an_import_with_bad_lines_lists_each_bad_line_number(
    customer_client, customer, django_capture_on_commit_callbacks
):
    project = make_project(customer)
    body = (
        '{"data": {"text": "fine"}}\n'
        '{"data": {"text": ""}}\n'
        "not json\n"
        '{"data": {"text": "also fine"}}\n'
    )
    upload = SimpleUploadedFile("bad.jsonl", body.encode())

    with django_capture_on_commit_callbacks(execute=True):
        customer_client.post(f"/projects/{project.pk}/imports/upload/", {"file": upload})

    job = ImportJob.objects.get(project=project)
    assert job.status == ImportStatus.FAILED
    assert not project.tasks.exists()
    detail = customer_client.get(f"/projects/{project.pk}/")
    assert f'href="/imports/{job.pk}/"' in detail.content.decode()
    page = customer_client.get(f"/imports/{job.pk}/")
    html = page.content.decode()
    assert (
        "<tr><td>2</td><td><code>data.text</code></td><td>Text is missing or empty.</td></tr>"
        in html
    )
    assert "<tr><td>3</td>" in html
    assert "<tr><td>1</td>" not in html and "<tr><td>4</td>" not in html


def test_an_upload_in_an_unknown_format_is_refused_next_to_the_format_field(
    customer_client, customer
):
    project = make_project(customer)
    upload = SimpleUploadedFile("tasks.txt", b'{"data": {"text": "x"}}\n')

    response = customer_client.post(f"/projects/{project.pk}/imports/upload/", {"file": upload})

    assert response.status_code == 200
    assert response.context["upload_form"].errors["format"] == [
        "One of jsonl, csv, json (from the file name or given)."
    ]
    assert not ImportJob.objects.exists()


def test_the_import_row_partial_is_just_a_table_row_that_polls_only_while_running(
    customer_client, customer, django_capture_on_commit_callbacks
):
    project = make_project(customer)
    with django_capture_on_commit_callbacks() as callbacks:
        job = import_create_from_upload(
            project=project, upload=jsonl({"data": {"text": "x"}}), actor=None
        )

    waiting = customer_client.get(f"/imports/{job.pk}/row/").content.decode().strip()
    for callback in callbacks:
        callback()
    finished = customer_client.get(f"/imports/{job.pk}/row/").content.decode().strip()

    assert waiting.startswith(f'<tr id="import-{job.pk}"') and waiting.endswith("</tr>")
    assert "<html" not in waiting and "<table" not in waiting
    assert f'hx-get="/imports/{job.pk}/row/" hx-trigger="every 2s"' in waiting
    assert finished.startswith("<tr") and "Succeeded" in finished
    assert "hx-trigger" not in finished


def test_activating_and_pausing_a_project_changes_its_status(customer_client, customer):
    project = make_project(customer, status="draft")

    activated = customer_client.post(f"/projects/{project.pk}/status/", {"status": "active"})
    project.refresh_from_db()
    status_after_activating = project.status
    customer_client.post(f"/projects/{project.pk}/status/", {"status": "paused"})
    project.refresh_from_db()

    assert activated["Location"] == f"/projects/{project.pk}/"
    assert status_after_activating == "active"
    assert project.status == "paused"
    page = customer_client.get(f"/projects/{project.pk}/").content.decode()
    assert "The project is now paused." in page
    assert 'name="status" value="active"' in page


def test_publishing_instructions_makes_version_two_and_shows_sanitized_html(
    customer_client, customer
):
    project = make_project(customer, instructions="First version.")
    markdown = "Pick **one** label.\n\n<script>alert('x')</script>\n\n[x](javascript:alert(1))"

    response = customer_client.post(
        f"/projects/{project.pk}/instructions/", {"instructions": markdown}
    )

    assert response.status_code == 302
    assert list(project.instruction_versions.values_list("version", flat=True)) == [2, 1]
    html = customer_client.get(f"/projects/{project.pk}/").content.decode()
    assert "Version 2, published" in html
    assert "<strong>one</strong>" in html
    assert "<script>alert" not in html
    assert "javascript:alert" not in html.split('class="instructions"')[1].split("</div>")[0]


def test_empty_instructions_are_refused_next_to_the_field(customer_client, customer):
    project = make_project(customer)

    response = customer_client.post(f"/projects/{project.pk}/instructions/", {"instructions": ""})

    assert response.status_code == 200
    assert response.context["instructions_form"].errors["instructions"]
    assert not project.instruction_versions.exists()


def test_export_from_the_portal_downloads_jsonl_with_the_completed_tasks(customer_client, customer):
    project = make_project(customer)
    add_tasks(project, 3)
    done = complete(project, 2)

    response = customer_client.post(
        f"/projects/{project.pk}/export/", {"format": "jsonl", "status": "final"}
    )

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/x-ndjson")
    assert "attachment" in response["Content-Disposition"]
    rows = [json.loads(line) for line in b"".join(response.streaming_content).splitlines()]
    assert [row["task_id"] for row in rows] == sorted(done)
    assert all(row["result"] == {"label": "cat"} for row in rows)


def test_a_large_export_becomes_a_file_to_download_from_the_project_page(
    customer_client, customer, settings, django_capture_on_commit_callbacks
):
    settings.EXPORT_DIRECT_MAX_ROWS = 1
    project = make_project(customer)
    add_tasks(project, 3)
    complete(project, 2)

    with django_capture_on_commit_callbacks(execute=True):
        response = customer_client.post(
            f"/projects/{project.pk}/export/", {"format": "csv", "status": "final"}
        )

    job = ExportJob.objects.get(project=project)
    assert response["Location"] == f"/projects/{project.pk}/#exports"
    assert (job.status, job.rows_written) == (ExportStatus.SUCCEEDED, 2)
    page = customer_client.get(f"/projects/{project.pk}/").content.decode()
    assert f'href="/exports/{job.pk}/download/"' in page
    download = customer_client.get(f"/exports/{job.pk}/download/")
    assert b"".join(download.streaming_content).startswith(b"task_id,external_id")


def test_conll_is_offered_only_for_named_entity_projects(customer_client, customer):
    project = make_project(customer)

    response = customer_client.post(
        f"/projects/{project.pk}/export/", {"format": "conll", "status": "final"}
    )

    assert response.status_code == 200
    assert "format" in response.context["export_form"].errors
    assert 'value="conll"' not in response.content.decode()


def test_removing_a_label_that_was_used_is_refused_next_to_the_labels_field(
    customer_client, customer
):
    project = make_project(customer)
    add_tasks(project, 1)
    complete(project, 1, label="cat")
    form = project_form(name=project.name, labels="dog\nbird", status="active")
    del form["preset"], form["instructions"]

    response = customer_client.post(f"/projects/{project.pk}/edit/", form)

    assert response.status_code == 200
    assert response.context["form"].errors["labels"] == [
        "Labels that annotators have used cannot be removed or renamed; add new ones instead."
    ]
    assert response.context["form"].fields["task_type"].disabled
    project.refresh_from_db()
    assert [label["name"] for label in project.labels] == ["cat", "dog", "bird"]


def test_editing_settings_changes_only_what_was_changed(customer_client, customer):
    project = make_project(customer, lease_seconds=90)
    initial = customer_client.get(f"/projects/{project.pk}/edit/").context["form"].initial
    form = {k: "" if v is None else v for k, v in initial.items()}
    form["required_skill"] = ""
    form["priority"] = "5"

    response = customer_client.post(f"/projects/{project.pk}/edit/", form)

    assert response.status_code == 302
    project.refresh_from_db()
    assert (project.priority, project.lease_seconds) == (5, 90)


def test_the_tasks_list_does_a_constant_number_of_queries(customer_client, customer):
    project = make_project(customer)
    add_tasks(project, 3)
    complete(project, 1)
    with CaptureQueriesContext(connection) as few:
        customer_client.get(f"/projects/{project.pk}/tasks/")
    add_tasks(project, 27)
    complete(project, 5)

    with CaptureQueriesContext(connection) as many:
        response = customer_client.get(f"/projects/{project.pk}/tasks/")

    assert len(response.context["rows"]) == 30
    assert len(many) == len(few)


def test_the_tasks_list_filters_by_status_and_batch(customer_client, customer):
    project = make_project(customer)
    first = add_tasks(project, 2)
    add_tasks(project, 2)
    batch = ImportJob.objects.filter(project=project).order_by("pk").first()
    done = complete(project, 1)

    completed = customer_client.get(f"/projects/{project.pk}/tasks/?status=completed")
    of_batch = customer_client.get(f"/projects/{project.pk}/tasks/?batch={batch.pk}")

    assert [task.pk for task, _ in completed.context["rows"]] == done
    assert [task.pk for task, _ in of_batch.context["rows"]] == first


def test_the_task_page_shows_data_meta_result_and_annotations(customer_client, customer):
    project = make_project(customer, instructions="Label the animal.")
    task_id = add_tasks(project, 1)[0]
    project.tasks.filter(pk=task_id).update(meta={"source": "crm"})
    worker = make_worker()
    claim = slot_claim_next(project=project, user=worker)
    lease_submit(lease_id=claim.lease.pk, user=worker, result={"label": "dog"})

    response = customer_client.get(f"/tasks/{task_id}/")

    html = response.content.decode()
    assert "Item number 0 of the batch." in html
    assert "&quot;source&quot;: &quot;crm&quot;" in html
    assert f"annotator {worker.pk}" in html
    assert "version 1" in html
    assert "&quot;label&quot;: &quot;dog&quot;" in html


def test_the_project_page_promises_no_gold_and_no_review_the_project_does_not_have(
    customer_client, customer
):
    project = make_project(customer, gold_warmup=5)
    add_tasks(project, 2)

    html = customer_client.get(f"/projects/{project.pk}/").content.decode()

    assert "No review levels" in html
    assert "then review" not in html
    assert "Standard: one annotation per task, final when submitted (no review)" in html
    assert "the first 5 tasks" not in html and "first 5 task" not in html
    assert "Gold: none yet" in html


def test_the_project_page_describes_its_gold_tasks_and_review_levels(customer_client, customer):
    rates = {"probation": 1.0, "regular": 0.5, "trusted": 0.1}
    project = make_project(
        customer,
        gold_warmup=3,
        review_levels=[{"level": 1, "rates": rates}, {"level": 2, "rates": rates}],
        gold_rates={"probation": 0.2, "regular": 0.05, "trusted": 0.05},
    )
    add_tasks(project, 2, gold={"label": "cat"})

    html = customer_client.get(f"/projects/{project.pk}/").content.decode()

    assert "Standard: one annotation per task, then 2 review levels" in html
    assert (
        "Gold: 2 tasks; each person&#x27;s first 3 tasks are gold while they have gold tasks "
        "left to see; then a share by standing (20% probation, 5% regular, 5% trusted)"
    ) in html


def test_the_audit_trail_names_the_project_of_a_task(client, customer):
    project = make_project(customer)
    make_project(customer)  # ids of tasks and projects drift apart
    [task_id] = add_tasks(project, 1)
    admin = make_user(Role.ADMIN, mfa=True)
    gold_answer_set(task=Task.objects.get(pk=task_id), result={"label": "cat"}, actor=admin)
    client.force_login(admin)

    html = client.get("/audit/", {"action": "gold."}).content.decode()

    assert f"Task {task_id} of project {project.pk}" in html


def test_operators_can_inspect_the_labeling_engine_in_the_django_admin(client):
    from accounts.models import Role
    from tests.factories import make_user

    project = make_project()
    add_tasks(project, 2)
    client.force_login(make_user(Role.ADMIN, mfa=True))

    pages = [
        "/django-admin/labeling/project/",
        f"/django-admin/labeling/project/{project.pk}/change/",
        "/django-admin/labeling/task/",
        "/django-admin/labeling/lease/",
        "/django-admin/labeling/annotation/",
        "/django-admin/labeling/importjob/",
        "/django-admin/labeling/webhookdelivery/",
    ]

    assert [client.get(page).status_code for page in pages] == [200] * len(pages)
    assert client.post(f"/django-admin/labeling/project/{project.pk}/delete/").status_code == 403
