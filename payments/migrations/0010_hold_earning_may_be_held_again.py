"""An earning may be held more than once over its life (one open hold at a time): pay released
by finance can be held again when its work is discarded by a quality rule later."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("payments", "0009_payout_runs"),
    ]

    operations = [
        migrations.AlterField(
            model_name="hold",
            name="earning",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT,
                related_name="holds",
                to="payments.earning",
            ),
        ),
        migrations.AddConstraint(
            model_name="hold",
            constraint=models.UniqueConstraint(
                condition=models.Q(("resolved_at__isnull", True)),
                fields=("earning",),
                name="payments_hold_one_open_per_earning",
            ),
        ),
    ]
