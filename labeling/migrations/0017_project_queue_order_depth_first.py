from django.db import migrations, models
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps


def depth_first_back_to_oldest(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    # Unapplying: the older code knows no depth-first order, and "depth_first" does not fit the
    # old column; "oldest" is the older order that also finishes started tasks first.
    Project = apps.get_model("labeling", "Project")
    Project.objects.filter(queue_order="depth_first").update(queue_order="oldest")


class Migration(migrations.Migration):
    """Add the depth-first queue order (a longer choice), keeping every project's order."""

    dependencies = [
        ("labeling", "0016_customer_ip_allowlist"),
    ]

    operations = [
        migrations.AlterField(
            model_name="project",
            name="queue_order",
            field=models.CharField(
                choices=[
                    ("oldest", "Oldest first"),
                    ("random", "Random"),
                    ("depth_first", "Depth-first: finish started tasks first"),
                ],
                default="random",
                max_length=20,
            ),
        ),
        # Runs first when unapplying, before the column shrinks back.
        migrations.RunPython(migrations.RunPython.noop, depth_first_back_to_oldest),
    ]
