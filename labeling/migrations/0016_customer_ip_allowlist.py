from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("labeling", "0015_customer_member_is_admin"),
    ]

    operations = [
        migrations.AddField(
            model_name="customer",
            name="ip_allowlist",
            field=models.JSONField(
                blank=True,
                default=list,
                help_text=(
                    "Networks (CIDR, IPv4 or IPv6) the customer's users may use the portal and "
                    "API from; empty: anywhere. Written only by labeling.services.access."
                ),
            ),
        ),
    ]
