"""Operators inspect earnings and holds in the admin, read-only."""

import pytest

from accounts.models import Role
from tests.factories import make_user
from tests.labeling.factories import add_tasks, annotate, make_project, make_worker
from tests.payments.earnings.helpers import earnings_of, price

pytestmark = pytest.mark.django_db


def test_an_admin_reads_earnings_and_holds_but_cannot_change_them(client):
    project = make_project(gold_warmup=0)
    price(project)
    add_tasks(project, 1)
    worker = make_worker()
    annotate(project, worker)
    (earning,) = earnings_of(worker)
    client.force_login(make_user(Role.ADMIN, mfa=True))

    listed = client.get("/django-admin/payments/earning/")
    shown = client.get(f"/django-admin/payments/earning/{earning.pk}/change/")
    holds = client.get("/django-admin/payments/hold/")

    assert listed.status_code == shown.status_code == holds.status_code == 200
    assert worker.email in listed.content.decode()
    assert client.post(f"/django-admin/payments/earning/{earning.pk}/delete/").status_code == 403
