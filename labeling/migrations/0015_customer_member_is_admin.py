from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("labeling", "0014_gold_tasks_index"),
    ]

    operations = [
        migrations.AddField(
            model_name="customermember",
            name="is_admin",
            field=models.BooleanField(
                default=False,
                help_text=(
                    "Administers the customer's settings (IP allowlist); set by Quorum administrators."
                ),
            ),
        ),
    ]
