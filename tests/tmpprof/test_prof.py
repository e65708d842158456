import cProfile
import pstats
import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from labeling.services.claim import slot_claim_next
from labeling.services.submit import lease_submit
from tests.labeling.factories import add_tasks, annotate, make_project, make_worker
from tests.payments.earnings.helpers import price

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("priced", [False, True])
def test_profile(priced):
    project = make_project(gold_warmup=0)
    if priced:
        price(project)
    add_tasks(project, 420)
    worker = make_worker()
    annotate(project, worker)
    for _ in range(20):
        annotate(project, worker)
    prof = cProfile.Profile()
    t = time.perf_counter()
    n = 300
    with CaptureQueriesContext(connection) as c:
        prof.enable()
        for _ in range(n):
            lease = slot_claim_next(project=project, user=worker).lease
            lease_submit(lease_id=lease.pk, user=worker, result={"label": "cat"})
        prof.disable()
    dt = time.perf_counter() - t
    print(
        f"\npriced={priced} {dt / n * 1000:.2f} ms/cycle, {len(c.captured_queries) / n:.1f} statements/cycle"
    )
    st = pstats.Stats(prof)
    wait = sum(
        v[2] for k, v in st.stats.items() if "psycopg" in k[0] and k[2] in ("wait", "_execute_send")
    )
    print(f"psycopg wait+send {wait / n * 1000:.2f} ms/cycle")
    st.sort_stats("cumulative").print_stats("payments|events|handlers|statements", 40)


def test_explain():
    project = make_project(gold_warmup=0)
    price(project)
    add_tasks(project, 50)
    worker = make_worker()
    for _ in range(30):
        annotate(project, worker)
    from django.db import transaction

    from payments.selectors.earnings import earnings_of_task_to_finalise
    from payments.selectors.holds import with_hold_causes

    with transaction.atomic():
        qs = with_hold_causes(
            earnings_of_task_to_finalise(task_id=5)
            .select_related("project")
            .select_for_update(of=("self",))
        )
        sql, params = qs.query.sql_with_params()
        print(sql % tuple(repr(p) for p in params))
        with connection.cursor() as cur:
            cur.execute("EXPLAIN ANALYZE " + sql, params)
            print("\n".join(r[0] for r in cur.fetchall()))
