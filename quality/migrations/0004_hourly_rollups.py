"""Hourly rollups of people's work: person x project x hour, a project's final tasks per hour,
and the watermark of the job that keeps them."""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

import quality.performance.models


class Migration(migrations.Migration):
    dependencies = [
        ("labeling", "0027_webhook_event_task_updated"),
        ("quality", "0003_model_rule_metrics"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="RollupMark",
            fields=[
                ("name", models.CharField(max_length=50, primary_key=True, serialize=False)),
                ("rolled_until", models.DateTimeField()),
                ("id_marks", models.JSONField(default=dict)),
                ("gold_fixed_until", models.DateTimeField()),
                ("updated_at", models.DateTimeField(default=django.utils.timezone.now)),
            ],
        ),
        migrations.CreateModel(
            name="PersonHour",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("hour", models.DateTimeField(help_text="The start of the hour, UTC.")),
                ("submissions", models.PositiveIntegerField(default=0)),
                ("reworks", models.PositiveIntegerField(default=0)),
                ("final_tasks", models.PositiveIntegerField(default=0)),
                ("active_seconds", models.PositiveBigIntegerField(default=0)),
                ("gold_scored", models.PositiveIntegerField(default=0)),
                ("gold_score_micros", models.PositiveBigIntegerField(default=0)),
                ("reviews_passed", models.PositiveIntegerField(default=0)),
                ("reviews_failed", models.PositiveIntegerField(default=0)),
                ("corrections", models.PositiveIntegerField(default=0)),
                ("agreement_count", models.PositiveIntegerField(default=0)),
                ("agreement_micros", models.PositiveBigIntegerField(default=0)),
                ("skips", models.PositiveIntegerField(default=0)),
                ("lease_expiries", models.PositiveIntegerField(default=0)),
                (
                    "time_histogram",
                    models.JSONField(
                        default=quality.performance.models._empty_histogram,
                        help_text="Submissions counted by active seconds into the fixed buckets of quality.performance.definitions.TIME_BUCKET_EDGES.",
                    ),
                ),
                (
                    "project",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="labeling.project",
                    ),
                ),
                (
                    "user",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "indexes": [
                    models.Index(fields=["hour"], name="quality_personhour_hour"),
                    models.Index(fields=["project", "hour"], name="quality_personhour_project"),
                ],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("user", "project", "hour"), name="quality_personhour_once"
                    )
                ],
            },
        ),
        migrations.CreateModel(
            name="ProjectHour",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("hour", models.DateTimeField(help_text="The start of the hour, UTC.")),
                ("final_tasks", models.PositiveIntegerField(default=0)),
                (
                    "project",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="labeling.project",
                    ),
                ),
            ],
            options={
                "indexes": [models.Index(fields=["hour"], name="quality_projecthour_hour")],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("project", "hour"), name="quality_projecthour_once"
                    )
                ],
            },
        ),
    ]
