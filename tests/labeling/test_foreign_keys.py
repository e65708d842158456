"""The database checks the queue's references (migrations 0019, 0028, 0029), and the ORM's deletes
still work."""

from importlib import import_module

import pytest
from django.apps import apps
from django.db import IntegrityError, connection, transaction

from labeling.models import Annotation, ImportJob, Lease, Project, Task, WorkSlot
from labeling.services.claim import slot_claim_next
from labeling.services.submit import lease_submit
from tests.labeling.factories import add_tasks, make_project, make_worker

pytestmark = pytest.mark.django_db

restore_foreign_keys = import_module("labeling.migrations.0019_restore_foreign_keys")
slot_reference = import_module("labeling.migrations.0028_slot_task_project_reference")

# (model, field, referenced table): single-column references the database checks. A slot's task
# and project are checked together (0028); a task's import job is not checked (0029).
RESTORED = [
    (Lease, "project", "labeling_project"),
    (Annotation, "project", "labeling_project"),
]
MISSING_ID = 10**12


def submitted_work():
    """A project with one task annotated through the queue: a task, slot, lease and annotation."""
    project = make_project()
    add_tasks(project, 1)
    worker = make_worker()
    lease = slot_claim_next(project=project, user=worker).lease
    annotation = lease_submit(lease_id=lease.pk, user=worker, result={"label": "cat"})
    return project, annotation


def check_deferred_constraints():
    """Check now what the database would check at commit; raise IntegrityError on a violation."""
    connection.check_constraints()


@pytest.mark.postgres
@pytest.mark.parametrize(("model", "field", "referenced"), RESTORED)
def test_the_database_has_the_foreign_key(model, field, referenced):
    column = model._meta.get_field(field).column

    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT confrelid::regclass::text
            FROM pg_constraint
            WHERE contype = 'f' AND conrelid = %s::regclass
              AND conkey = ARRAY[(
                  SELECT attnum FROM pg_attribute WHERE attrelid = %s::regclass AND attname = %s
              )]
            """,
            [model._meta.db_table, model._meta.db_table, column],
        )
        found = [row[0] for row in cursor.fetchall()]

    assert found == [referenced]


def _references_of(table):
    """{column tuple: referenced table} of `table`'s foreign keys."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT ARRAY(
                       SELECT attname FROM unnest(conkey) WITH ORDINALITY AS k(attnum, n)
                       JOIN pg_attribute a ON a.attrelid = conrelid AND a.attnum = k.attnum
                       ORDER BY n
                   ),
                   confrelid::regclass::text
            FROM pg_constraint WHERE contype = 'f' AND conrelid = %s::regclass
            """,
            [table],
        )
        return {tuple(columns): referenced for columns, referenced in cursor.fetchall()}


@pytest.mark.postgres
def test_a_slot_references_its_task_and_project_together_and_nothing_else_about_them():
    references = _references_of("labeling_workslot")

    assert references[("task_id", "project_id")] == "labeling_task"
    assert ("task_id",) not in references
    assert ("project_id",) not in references


@pytest.mark.postgres
def test_a_task_s_import_job_is_the_one_reference_left_unchecked():
    references = _references_of("labeling_task")

    assert ("import_job_id",) not in references
    assert references[("project_id",)] == "labeling_project"


@pytest.mark.postgres
def test_the_database_refuses_a_slot_whose_project_copy_is_not_its_task_s_project():
    project = make_project()
    (task_id,) = add_tasks(project, 1)
    other = make_project()

    with pytest.raises(IntegrityError), transaction.atomic():
        WorkSlot.objects.create(project=other, task_id=task_id, order_key=1)
        check_deferred_constraints()


@pytest.mark.postgres
def test_the_database_refuses_a_slot_of_a_missing_task():
    project = make_project()

    with pytest.raises(IntegrityError), transaction.atomic():
        WorkSlot.objects.create(project=project, task_id=MISSING_ID, order_key=1)
        check_deferred_constraints()


@pytest.mark.postgres
@pytest.mark.parametrize(("model", "field", "referenced"), RESTORED)
def test_the_database_refuses_a_reference_to_a_missing_row(model, field, referenced):
    _, annotation = submitted_work()
    row = {
        Task: annotation.task_id,
        WorkSlot: Lease.objects.get(pk=annotation.lease_id).slot_id,
        Lease: annotation.lease_id,
        Annotation: annotation.pk,
    }[model]

    with pytest.raises(IntegrityError), transaction.atomic():
        model.objects.filter(pk=row).update(**{f"{field}_id": MISSING_ID})
        check_deferred_constraints()


def test_deleting_a_project_deletes_its_tasks_slots_leases_and_annotations():
    project, annotation = submitted_work()
    other_project, other_annotation = submitted_work()

    project.delete()

    check_deferred_constraints()
    assert not Annotation.objects.filter(pk=annotation.pk).exists()
    assert not Task.objects.filter(project_id=project.pk).exists()
    assert not WorkSlot.objects.filter(project_id=project.pk).exists()
    assert not Lease.objects.filter(project_id=project.pk).exists()
    assert not Annotation.objects.filter(project_id=project.pk).exists()
    assert Annotation.objects.filter(pk=other_annotation.pk).exists()
    assert Project.objects.filter(pk=other_project.pk).exists()


def test_deleting_an_import_job_keeps_its_tasks_without_a_job():
    project = make_project()
    task_ids = add_tasks(project, 2)
    job = ImportJob.objects.get(project=project)

    job.delete()

    check_deferred_constraints()
    tasks = Task.objects.filter(pk__in=task_ids)
    assert [task.import_job_id for task in tasks] == [None, None]
    assert WorkSlot.objects.filter(task_id__in=task_ids).count() == 2


def test_the_migration_repairs_references_to_missing_rows_before_adding_the_constraints():
    # Given what SQL run by hand could have left while the references were unchecked (inside
    # this test's transaction the constraints are deferred, so the database takes it for now):
    project, annotation = submitted_work()
    lease = Lease.objects.get(pk=annotation.lease_id)
    Task.objects.filter(pk=annotation.task_id).update(import_job_id=MISSING_ID)
    for model in (WorkSlot, Lease, Annotation):
        model.objects.filter(task_id=annotation.task_id).update(project_id=MISSING_ID)
    (other_task_id,) = add_tasks(make_project(), 1)
    orphan_slot = WorkSlot.objects.get(task_id=other_task_id)
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM labeling_task WHERE id = %s", [other_task_id])

    restore_foreign_keys.orphans_repair(apps, connection.schema_editor())

    check_deferred_constraints()
    assert Task.objects.get(pk=annotation.task_id).import_job_id is None
    assert WorkSlot.objects.get(pk=lease.slot_id).project_id == project.pk
    assert Lease.objects.get(pk=lease.pk).project_id == project.pk
    assert Annotation.objects.get(pk=annotation.pk).project_id == project.pk
    assert not WorkSlot.objects.filter(pk=orphan_slot.pk).exists()


def test_the_slot_reference_migration_gives_a_wrong_project_copy_its_task_s_project():
    # Given a copy that only SQL run by hand could have left (deferred inside this transaction):
    project, annotation = submitted_work()
    slot_id = Lease.objects.get(pk=annotation.lease_id).slot_id
    other = make_project()
    WorkSlot.objects.filter(pk=slot_id).update(project_id=other.pk)

    slot_reference.copies_repair(apps, connection.schema_editor())

    check_deferred_constraints()
    assert WorkSlot.objects.get(pk=slot_id).project_id == project.pk
