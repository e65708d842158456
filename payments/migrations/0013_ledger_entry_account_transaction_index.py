import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    """An account's entries are indexed with their transaction (the Earnings pages read a
    person's entries after a transaction id); that index replaces the one on the account alone,
    so postings keep the same number of indexes to write. The new index is built first."""

    dependencies = [
        ("payments", "0012_earning_and_entry_redundant_indexes_dropped"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="ledgerentry",
            index=models.Index(fields=["account", "transaction"], name="ledger_entry_account_txn"),
        ),
        migrations.AlterField(
            model_name="ledgerentry",
            name="account",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="entries",
                to="payments.ledgeraccount",
            ),
        ),
    ]
