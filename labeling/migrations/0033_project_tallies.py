from django.db import migrations, models


class Migration(migrations.Migration):
    """A project's counts of annotations and final tasks spread over rows chosen by who did the
    work, so that submits do not all lock the project's row (labeling.models.projects)."""

    dependencies = [
        ("labeling", "0032_project_deadline"),
    ]

    operations = [
        migrations.CreateModel(
            name="ProjectTally",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("shard", models.PositiveSmallIntegerField()),
                ("annotations", models.BigIntegerField(default=0)),
                ("completed", models.BigIntegerField(default=0)),
                (
                    "project",
                    models.ForeignKey(
                        on_delete=models.deletion.CASCADE,
                        related_name="tallies",
                        to="labeling.project",
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        fields=("project", "shard"), name="labeling_projecttally_one_per_shard"
                    )
                ],
            },
        ),
    ]
