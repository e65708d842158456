"""The statistics step of the bulk jobs: a failed ANALYZE is logged and the caller goes on, its
transaction intact (PostgreSQL; elsewhere the step does nothing)."""

import logging

import pytest
from django.db import connection

from core import table_statistics
from core.models import AuditEvent
from core.table_statistics import tables_analyze_stale

pytestmark = pytest.mark.django_db


@pytest.mark.postgres
def test_a_failed_analysis_is_logged_and_the_callers_transaction_goes_on(monkeypatch, caplog):
    def failing(tables, changed):
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE no_such_table_here")  # a real error from PostgreSQL
        return []

    monkeypatch.setattr(table_statistics, "_analyze_stale", failing)

    with caplog.at_level(logging.ERROR, logger="core.table_statistics"):
        analysed = tables_analyze_stale([AuditEvent], purpose="before the test's job")

    assert analysed == []
    assert "analysing before the test's job failed" in caplog.text
    assert AuditEvent.objects.count() >= 0  # the test's transaction is still usable


def test_nothing_is_analysed_off_postgresql():
    if connection.vendor == "postgresql":
        pytest.skip("SQLite only")
    assert tables_analyze_stale([AuditEvent], purpose="before the test's job") == []
