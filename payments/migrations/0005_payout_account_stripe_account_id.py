from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("payments", "0004_payout_accounts"),
    ]

    operations = [
        migrations.AddField(
            model_name="payoutaccount",
            name="stripe_account_id",
            field=models.CharField(blank=True, max_length=255),
        ),
    ]
