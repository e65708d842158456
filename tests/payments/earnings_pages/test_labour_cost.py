"""Label quality per cost: the ledger's labour expense per project next to quality's measures."""

from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse

from accounts.models import Role
from quality.performance.models import ProjectHour
from tests.factories import make_user
from tests.payments.incentives.helpers import accrual, work

pytestmark = pytest.mark.django_db


def test_a_manager_sees_cost_per_final_task_next_to_quality(client, project):
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(days=2)
    person = make_user(Role.ANNOTATOR)
    work(person, project, hour=hour, final_tasks=4, reviews_passed=3, reviews_failed=1)
    ProjectHour.objects.create(project=project, hour=hour, final_tasks=4)
    accrual(person, project, 2_500_000, "a", hour + timedelta(minutes=5))
    accrual(person, project, 2_500_000, "b", hour + timedelta(minutes=6))
    client.force_login(make_user(Role.MANAGER, mfa=True))

    page = client.get(reverse("payments:labour_cost"))

    row = next(r for r in page.context["rows"] if r.measures.subject == project.pk)
    assert row.cost_texts == ["5.00 USD"]
    assert row.cost_per_final_task == "1.25 USD"
    assert row.review_pass == "75.0%"


def test_annotators_and_finance_do_not_see_the_cost_page(client):
    for role in (Role.ANNOTATOR, Role.FINANCE):
        client.force_login(make_user(role, mfa=True))
        assert client.get(reverse("payments:labour_cost")).status_code == 403
