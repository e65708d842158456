"""The stored Krippendorff's alpha of each project, with the time it was computed."""

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("labeling", "0027_webhook_event_task_updated"),
        ("quality", "0004_hourly_rollups"),
    ]

    operations = [
        migrations.CreateModel(
            name="ProjectAgreement",
            fields=[
                (
                    "project",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="+",
                        serialize=False,
                        to="labeling.project",
                    ),
                ),
                ("alpha", models.FloatField(blank=True, null=True)),
                ("label", models.CharField(max_length=100)),
                (
                    "note",
                    models.TextField(blank=True, help_text='What it covers, or "n/a: " and why.'),
                ),
                ("annotations", models.PositiveIntegerField(default=0)),
                ("tasks", models.PositiveIntegerField(default=0)),
                ("is_capped", models.BooleanField(default=False)),
                ("computed_at", models.DateTimeField(default=django.utils.timezone.now)),
            ],
        ),
    ]
