"""A task's import job is no longer checked by the database.

The only reference the database leaves unchecked, because an import checks it for every task it
stores: about 4 us of the 37 us of PostgreSQL CPU a task took, measured by dropping each of the
import's checks in turn (200,000 tasks each, 2 cores), with bench/queue.py's import below its
30,000 tasks/s budget. The reference is provenance only (which batch brought a task); jobs are
deleted only through the ORM, which sets it to NULL. Going back checks it again (rows naming a
missing job would have to be set to NULL first, as 0019 does).
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("labeling", "0028_slot_task_project_reference"),
    ]

    operations = [
        migrations.AlterField(
            model_name="task",
            name="import_job",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                null=True,
                on_delete=models.deletion.SET_NULL,
                related_name="tasks",
                to="labeling.importjob",
            ),
        ),
    ]
