"""Finance's Stripe events page: what arrived, what failed, and retrying it."""

from datetime import UTC, datetime

import pytest
from django.utils import timezone

from accounts.models import Role
from core.models import AuditEvent
from payments.models import StripeEvent, StripeEventStatus
from tests.factories import make_user

pytestmark = pytest.mark.django_db


def _event(n, *, status=StripeEventStatus.PROCESSED, type="account.updated", error=""):
    now = timezone.now()
    return StripeEvent.objects.create(
        id=f"evt_{n}",
        type=type,
        account=f"acct_{n}",
        created=datetime(2026, 12, 1, tzinfo=UTC),
        object_type="account",
        object_id=f"acct_{n}",
        payload={"id": f"evt_{n}", "object": "event", "type": type, "data": {"object": {}}},
        received_at=now,
        status=status,
        processed_at=now if status == StripeEventStatus.PROCESSED else None,
        attempts=8 if status == StripeEventStatus.FAILED else 1,
        last_error=error,
    )


def test_finance_sees_events_with_counts_and_failures(finance_client, settings):
    settings.STRIPE_WEBHOOK_SECRET = ""
    _event(1)
    _event(2, status=StripeEventStatus.FAILED, error="APIConnectionError: Stripe is down")

    page = finance_client.get("/finance/stripe/events/")

    assert page.status_code == 200
    html = page.content.decode()
    assert "evt_1" in html and "evt_2" in html
    assert "Stripe is down" in html
    assert "/api/v1/stripe/webhook/" in html
    assert "every delivery is refused" in html
    assert page.context["counts"] == {"pending": 0, "processed": 1, "failed": 1}


def test_finance_filters_events_by_status_and_id(finance_client):
    _event(1)
    _event(2, status=StripeEventStatus.FAILED)

    failed = finance_client.get("/finance/stripe/events/", {"status": "failed"})
    found = finance_client.get("/finance/stripe/events/", {"search": "acct_1"})

    assert [e.pk for e in failed.context["page"]] == ["evt_2"]
    assert [e.pk for e in found.context["page"]] == ["evt_1"]


def test_the_list_takes_a_fixed_number_of_queries(finance_client, django_assert_max_num_queries):
    for n in range(3):
        _event(n)
    with django_assert_max_num_queries(20) as few:
        finance_client.get("/finance/stripe/events/")
    for n in range(3, 40):
        _event(n, status=StripeEventStatus.FAILED)

    with django_assert_max_num_queries(len(few.captured_queries)):
        finance_client.get("/finance/stripe/events/")


def test_finance_sees_one_event_with_its_payload(finance_client):
    _event(1, status=StripeEventStatus.FAILED, error="RuntimeError: boom")

    page = finance_client.get("/finance/stripe/events/evt_1/")

    assert page.status_code == 200
    assert b"RuntimeError: boom" in page.content and b"Retry now" in page.content
    assert finance_client.get("/finance/stripe/events/evt_nope/").status_code == 404


def test_finance_retries_a_failed_event_and_it_is_audited(
    finance_client, finance, fake_stripe, django_capture_on_commit_callbacks
):
    _event(1, status=StripeEventStatus.FAILED, type="charge.succeeded", error="boom")

    with django_capture_on_commit_callbacks(execute=True):
        answer = finance_client.post("/finance/stripe/events/evt_1/retry/")

    assert answer.status_code == 302
    event = StripeEvent.objects.get()
    assert event.status == StripeEventStatus.PROCESSED  # nothing handles its type
    assert AuditEvent.objects.filter(action="stripe_event.retry", actor=finance).exists()


def test_a_processed_event_is_not_retried(finance_client):
    _event(1)

    answer = finance_client.post("/finance/stripe/events/evt_1/retry/", follow=True)

    assert b"already processed" in answer.content
    assert StripeEvent.objects.get().attempts == 1


@pytest.mark.parametrize("role", [Role.ANNOTATOR, Role.MANAGER, Role.CUSTOMER])
def test_people_without_the_right_cannot_see_or_retry_events(client, role):
    _event(1, status=StripeEventStatus.FAILED)
    client.force_login(make_user(role, mfa=True))

    assert client.get("/finance/stripe/events/").status_code == 403
    assert client.get("/finance/stripe/events/evt_1/").status_code == 403
    assert client.post("/finance/stripe/events/evt_1/retry/").status_code == 403
    assert StripeEvent.objects.get().status == StripeEventStatus.FAILED


def test_an_admin_may_see_the_events(client):
    client.force_login(make_user(Role.ADMIN, mfa=True))

    assert client.get("/finance/stripe/events/").status_code == 200


def test_the_django_admin_lists_events_and_retries_failed_ones(
    client, fake_stripe, django_capture_on_commit_callbacks
):
    admin = make_user(Role.ADMIN, mfa=True)
    client.force_login(admin)
    _event(1, status=StripeEventStatus.FAILED, type="charge.succeeded")
    _event(2)

    listing = client.get("/django-admin/payments/stripeevent/")
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            "/django-admin/payments/stripeevent/",
            {"action": "retry_processing", "_selected_action": ["evt_1", "evt_2"]},
        )

    assert listing.status_code == 200 and b"evt_1" in listing.content
    assert StripeEvent.objects.get(pk="evt_1").status == StripeEventStatus.PROCESSED
    assert StripeEvent.objects.get(pk="evt_2").attempts == 1  # processed ones are left alone
    assert AuditEvent.objects.filter(action="stripe_event.retry", actor=admin).count() == 1
