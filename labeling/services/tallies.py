"""A project's counts of annotations and final tasks, added to its tally rows.

Every submit counts itself: in one row per group of people (`tally_shard`), never in the project's
own row, which every submit of the project would otherwise hold until it commits
(labeling.models.projects). The submit statement adds its count with the same upsert
(`TALLY_UPSERT`) inside its own statement; the transactional writers call `project_tally_add`.
"""

from __future__ import annotations

from django.db import connection

from labeling.models.projects import tally_shard

# Adds to the row of (project, shard), creating it at the first count. The rows' values follow
# `INSERT INTO labeling_projecttally (project_id, shard, annotations, completed)`.
TALLY_INSERT = "INSERT INTO labeling_projecttally (project_id, shard, annotations, completed)"
TALLY_UPSERT = """ON CONFLICT (project_id, shard) DO UPDATE
    SET annotations = labeling_projecttally.annotations + excluded.annotations,
        completed = labeling_projecttally.completed + excluded.completed"""


def project_tally_add(
    *, project_id: int, user_id: int, annotations: int = 0, completed: int = 0
) -> None:
    """Count `annotations` submitted and `completed` tasks made final on the project by
    `user_id`'s work (one statement; call inside the transaction that did the work)."""
    if not annotations and not completed:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            f"{TALLY_INSERT} VALUES (%s, %s, %s, %s) {TALLY_UPSERT}",
            [project_id, tally_shard(user_id), annotations, completed],
        )
