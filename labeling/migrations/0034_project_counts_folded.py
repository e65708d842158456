from django.db import migrations


class Migration(migrations.Migration):
    """The project's own counters keep what was counted before the tallies: renamed, with their
    values, so that the exact counts (folded plus tallies) keep the old names as properties."""

    dependencies = [
        ("labeling", "0033_project_tallies"),
    ]

    operations = [
        migrations.RenameField(
            model_name="project", old_name="tasks_completed", new_name="tasks_completed_folded"
        ),
        migrations.RenameField(
            model_name="project", old_name="annotations_total", new_name="annotations_folded"
        ),
    ]
