"""The database checks the references that 0009 and 0013 left unchecked again.

Slot -> task, task -> import job, and the project copies on slots, leases and annotations get
their foreign-key constraints back. Measured on two busy cores (load 5 to 10, bench/queue.py's
import of 100,000 tasks, five runs each way): an import's PostgreSQL CPU went from about 51 to
61 us a task, Python's stayed at 25 to 29 us; the three checks an import makes (task -> import
job, slot -> task, slot -> project) cost about the same each, so none is kept off alone.

While unchecked, only SQL run by hand could have left a reference to a missing row (the product
deletes none of these rows but through the ORM, which cascades or sets NULL). The first step
repairs such rows as the ORM would have, so that the constraints can be added: a task's missing
import job becomes NULL, a slot of a missing task goes (with its leases), and a project copy
naming a missing project takes its task's project. Going back drops the constraints and leaves
the data as it is.
"""

from django.db import migrations, models


def orphans_repair(apps, schema_editor):
    """Make every reference the next operations constrain point at an existing row."""
    Task = apps.get_model("labeling", "Task")
    ImportJob = apps.get_model("labeling", "ImportJob")
    Project = apps.get_model("labeling", "Project")

    # Through the ORM, so that a deleted slot's leases go too and their annotations keep no lease.
    apps.get_model("labeling", "WorkSlot").objects.filter(
        ~models.Exists(Task.objects.filter(pk=models.OuterRef("task_id")))
    ).delete()
    for name in ("WorkSlot", "Lease", "Annotation"):
        apps.get_model("labeling", name).objects.filter(
            ~models.Exists(Project.objects.filter(pk=models.OuterRef("project_id")))
        ).update(
            project_id=models.Subquery(
                Task.objects.filter(pk=models.OuterRef("task_id")).values("project_id")[:1]
            )
        )
    Task.objects.filter(import_job_id__isnull=False).exclude(
        models.Exists(ImportJob.objects.filter(pk=models.OuterRef("import_job_id")))
    ).update(import_job_id=None)
    if schema_editor.connection.vendor == "postgresql":
        # Run the deferred checks of the deletes above now rather than at commit: PostgreSQL
        # refuses to alter a table with trigger events still queued in the transaction.
        with schema_editor.connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")


class Migration(migrations.Migration):
    dependencies = [
        ("labeling", "0018_quality_rules_leave_labeling_state"),
    ]

    operations = [
        migrations.RunPython(orphans_repair, migrations.RunPython.noop, elidable=False),
        migrations.AlterField(
            model_name="annotation",
            name="project",
            field=models.ForeignKey(
                db_index=False,
                on_delete=models.CASCADE,
                related_name="+",
                to="labeling.project",
            ),
        ),
        migrations.AlterField(
            model_name="lease",
            name="project",
            field=models.ForeignKey(
                on_delete=models.CASCADE, related_name="+", to="labeling.project"
            ),
        ),
        migrations.AlterField(
            model_name="task",
            name="import_job",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=models.SET_NULL,
                related_name="tasks",
                to="labeling.importjob",
            ),
        ),
        migrations.AlterField(
            model_name="workslot",
            name="project",
            field=models.ForeignKey(
                on_delete=models.CASCADE, related_name="+", to="labeling.project"
            ),
        ),
        migrations.AlterField(
            model_name="workslot",
            name="task",
            field=models.ForeignKey(
                on_delete=models.CASCADE, related_name="slots", to="labeling.task"
            ),
        ),
    ]
