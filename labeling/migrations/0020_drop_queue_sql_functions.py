"""Drop the PL/pgSQL claim and submit functions of migration 0008.

The ordinary claim and submit are now single SQL statements composed in Python from the queue's
conditions (labeling/services/claim.py and submit.py): no business rule lives in the database.
Reversing this migration recreates the functions exactly as 0008 made them (nothing calls them).
"""

import importlib

from django.db import migrations

_functions = importlib.import_module("labeling.migrations.0008_queue_sql_functions")


class Migration(migrations.Migration):
    dependencies = [("labeling", "0019_restore_foreign_keys")]

    operations = [
        migrations.RunPython(_functions.drop_functions, _functions.create_functions),
    ]
