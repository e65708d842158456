"""PostgreSQL's autovacuum cleans the queue's tables after 1% of their rows changed, not 20%.

Every claim leaves the claim index (`labeling_slot_claim_open`, open slots only) an entry for the
slot version it replaced; until a vacuum removes them, each later claim steps over all of them at
the front of the index. Measured on a 50,000-task project after 20,000 claims with no vacuum: 168
index pages read to find the next open slot (0.5 ms of database time a claim) instead of 2. With
autovacuum's default threshold (20% of the table) a project of 1,000,000 tasks would collect
200,000 such entries before any cleaning. Nothing changes where autovacuum is off (docs/operators
say to keep it on) nor on SQLite.
"""

from django.db import migrations

_TABLES = ("labeling_workslot", "labeling_lease")
_SETTINGS = (
    "autovacuum_vacuum_scale_factor = 0.01, autovacuum_vacuum_threshold = 1000, "
    "autovacuum_analyze_scale_factor = 0.02"
)


def vacuum_sooner(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in _TABLES:
        schema_editor.execute(f"ALTER TABLE {table} SET ({_SETTINGS})")


def vacuum_as_default(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in _TABLES:
        schema_editor.execute(
            f"ALTER TABLE {table} RESET (autovacuum_vacuum_scale_factor, "
            "autovacuum_vacuum_threshold, autovacuum_analyze_scale_factor)"
        )


class Migration(migrations.Migration):
    dependencies = [
        ("labeling", "0029_task_import_job_unchecked"),
    ]

    operations = [migrations.RunPython(vacuum_sooner, vacuum_as_default, elidable=False)]
