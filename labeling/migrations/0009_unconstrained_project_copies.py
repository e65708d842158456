"""Lease, annotation and slot copy their task's project: no database constraint on that copy.

Checking it share-locked the one project row from every concurrent claim and submit, and
PostgreSQL then builds multixacts for that row that cost more than the claim itself; for imports
the check was a third of the database's time. The services set the copy from the task; Django
still cascades a project's deletion to these rows.
"""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("labeling", "0008_queue_sql_functions"),
    ]

    operations = [
        migrations.AlterField(
            model_name="annotation",
            name="project",
            field=models.ForeignKey(
                db_constraint=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to="labeling.project",
            ),
        ),
        migrations.AlterField(
            model_name="lease",
            name="project",
            field=models.ForeignKey(
                db_constraint=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to="labeling.project",
            ),
        ),
        migrations.AlterField(
            model_name="workslot",
            name="project",
            field=models.ForeignKey(
                db_constraint=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to="labeling.project",
            ),
        ),
    ]
