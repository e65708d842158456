"""Holds of discounted work: the cause "discounted" (work discarded by a quality rule) and the
rule action that discarded it, as the hold's evidence."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("payments", "0010_hold_earning_may_be_held_again"),
        ("quality", "0005_project_agreement"),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="hold",
            name="payments_hold_cause_known",
        ),
        migrations.AlterField(
            model_name="hold",
            name="cause",
            field=models.CharField(
                choices=[
                    ("suspended", "The person is suspended"),
                    ("appeal", "The person has an open appeal"),
                    ("dispute", "The task is under dispute"),
                    ("discounted", "Work discarded by a quality rule"),
                ],
                max_length=10,
            ),
        ),
        migrations.AddConstraint(
            model_name="hold",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("cause__in", ["suspended", "appeal", "dispute", "discounted"])
                ),
                name="payments_hold_cause_known",
            ),
        ),
        migrations.AddField(
            model_name="hold",
            name="rule_action",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="quality.ruleaction",
            ),
        ),
        migrations.AddConstraint(
            model_name="hold",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("rule_action__isnull", True), ("cause", "discounted"), _connector="OR"
                ),
                name="payments_hold_rule_action_discounted",
            ),
        ),
    ]
