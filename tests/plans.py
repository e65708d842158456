"""How PostgreSQL plans a statement that the product prepares once per connection (core.statements):
the generic plan a connection keeps, as tests of plans that must not depend on statistics read it."""

from __future__ import annotations

from typing import Any

from django.db import connection


def prepared_plan_reads(statement_contains: str, table: str) -> tuple[set[str], int]:
    """The indexes through which the generic plan of the statement prepared on this connection
    whose text contains `statement_contains` reads `table`, and how many sequential scans of
    `table` it has. Call inside the test's transaction
    (the plan mode is set for it alone)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT name, parameter_types::text[] FROM pg_prepared_statements"
            " WHERE statement LIKE %s",
            [f"%{statement_contains}%"],
        )
        [(name, types)] = cursor.fetchall()
        cursor.execute("SET LOCAL plan_cache_mode = force_generic_plan")
        arguments = ", ".join(f"NULL::{kind}" for kind in types)
        cursor.execute(f"EXPLAIN (FORMAT JSON) EXECUTE {name} ({arguments})")
        [plan] = cursor.fetchone()[0]
    indexes: set[str] = set()
    sequential = 0

    def bitmap_indexes(node: dict[str, Any]) -> set[str]:
        found = {node["Index Name"]} if "Index Name" in node else set()
        for child in node.get("Plans", []):
            found |= bitmap_indexes(child)
        return found

    def walk(node: dict[str, Any]) -> None:
        nonlocal sequential
        if node.get("Relation Name") == table:
            if node["Node Type"] == "Seq Scan":
                sequential += 1
            elif node["Node Type"] == "Bitmap Heap Scan":
                indexes.update(bitmap_indexes(node))
            elif "Index Name" in node:
                indexes.add(node["Index Name"])
        for child in node.get("Plans", []):
            walk(child)

    walk(plan["Plan"])
    return indexes, sequential
