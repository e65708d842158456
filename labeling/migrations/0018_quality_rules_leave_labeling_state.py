"""The quality rule, action and appeal models move to the quality app (its migration 0001).

State only: their tables (labeling_qualityrule, labeling_ruleaction, labeling_appeal) and data
stay; quality's models keep those table names. Reversible: going back puts the models back into
labeling's state, and again no table changes.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("labeling", "0017_project_queue_order_depth_first"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name="Appeal"),
                migrations.DeleteModel(name="RuleAction"),
                migrations.DeleteModel(name="QualityRule"),
            ],
            database_operations=[],
        ),
    ]
