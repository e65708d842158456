"""Drop two indexes that others cover: every insert and slot update paid for them.

labeling_task(project_id) is the first column of labeling_task_proj_status; the slot's assignee
index held a NULL entry for every slot, while labeling_slot_rework_of (non-null only) serves
every lookup by assignee.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("labeling", "0009_unconstrained_project_copies"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterField(
            model_name="task",
            name="project",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="tasks",
                to="labeling.project",
            ),
        ),
        migrations.AlterField(
            model_name="workslot",
            name="assignee",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                help_text="Rework: the only person who may take this slot.",
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
    ]
