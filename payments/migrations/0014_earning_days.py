import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    """The daily rollup of people's earnings (EarningDay) and how far it has read the ledger
    (EarningDayMark). Empty at first: the pages read the ledger until the beat job fills it."""

    dependencies = [
        ("labeling", "0032_project_deadline"),
        ("payments", "0013_ledger_entry_account_transaction_index"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="EarningDay",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("currency", models.CharField(max_length=3)),
                ("day", models.DateField()),
                ("earned_micros", models.BigIntegerField(default=0)),
                ("reversed_micros", models.BigIntegerField(default=0)),
                ("pieces", models.IntegerField(default=0)),
                ("bonus_micros", models.BigIntegerField(default=0)),
                (
                    "project",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="labeling.project",
                    ),
                ),
                (
                    "user",
                    models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "ordering": ["user", "day", "project", "currency"],
                "indexes": [models.Index(fields=["user", "day"], name="earning_day_user_day")],
                "constraints": [
                    models.UniqueConstraint(
                        condition=models.Q(("project__isnull", False)),
                        fields=("user", "day", "project", "currency"),
                        name="earning_day_one_per_project",
                    ),
                    models.UniqueConstraint(
                        condition=models.Q(("project__isnull", True)),
                        fields=("user", "day", "currency"),
                        name="earning_day_one_for_bonuses",
                    ),
                ],
            },
        ),
        migrations.CreateModel(
            name="EarningDayMark",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("name", models.CharField(max_length=40, unique=True)),
                ("rolled_through_id", models.BigIntegerField(default=0)),
                ("seen_id", models.BigIntegerField(blank=True, null=True)),
                ("seen_at", models.DateTimeField(blank=True, null=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
            ],
        ),
    ]
