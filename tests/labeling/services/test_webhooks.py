"""Customer webhooks: signed deliveries to a real local HTTP server, retries, give-up, the API."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.core.management import call_command
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import include, path
from django.utils import timezone
from drf_spectacular.drainage import GENERATOR_STATS

from accounts.models import Role
from core.audit import audit_events_about
from core.errors import ValidationFailed
from core.models import AuditEvent
from labeling.jobs.webhooks import webhook_deliver, webhook_deliveries_due
from labeling.models import (
    Customer,
    WebhookDelivery,
    WebhookDeliveryStatus,
    WebhookEndpoint,
    WebhookEvent,
)
from labeling.services.webhook_delivery import (
    RETRY_DELAYS_SECONDS,
    webhook_delivery_attempt,
    webhook_retry_delay,
    webhook_signature_verify,
)
from labeling.services.webhooks import (
    webhook_endpoint_create,
    webhook_endpoint_rotate_secret,
    webhook_endpoint_update,
    webhooks_emit,
)
from tests.factories import make_user
from tests.labeling.factories import make_customer_user

pytestmark = pytest.mark.django_db

# Only the webhook routes, so that the schema test judges this module's views alone.
urlpatterns = [path("api/v1/", include("labeling.api.webhooks"))]

TASK_DONE = WebhookEvent.TASK_COMPLETED


# --- A real HTTP receiver -------------------------------------------------------------------


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """A local webhook endpoint: records each POST and answers with the scripted statuses."""

    host: str
    port: int
    requests: list[Received] = field(default_factory=list)
    statuses: deque[int] = field(default_factory=deque)
    default_status: int = 200
    arrived: threading.Event = field(default_factory=threading.Event)
    gate: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.gate.set()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/hooks/quorum"

    def answer(self, *statuses: int, then: int | None = None) -> None:
        self.statuses.extend(statuses)
        if then is not None:
            self.default_status = then

    def next_status(self) -> int:
        return self.statuses.popleft() if self.statuses else self.default_status


def _handler_for(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            receiver.requests.append(
                Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
            )
            receiver.arrived.set()
            receiver.gate.wait(timeout=5)
            status = receiver.next_status()
            self.send_response(status)
            if 300 <= status < 400:
                self.send_header("Location", "http://127.0.0.1:9/elsewhere")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


@pytest.fixture
def receiver(settings):
    settings.WEBHOOK_ALLOW_HTTP_HOSTS = ["127.0.0.1"]
    settings.WEBHOOK_TIMEOUT_SECONDS = 5
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    rec = Receiver(host="127.0.0.1", port=server.server_address[1])
    server.RequestHandlerClass = _handler_for(rec)
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    yield rec
    rec.gate.set()
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture
def other_customer():
    return Customer.objects.create(name="Globex", slug="globex")


def emit(capture, customer, event=TASK_DONE, data=None):
    """Emit as the engine does, inside a transaction, and run what it queued on commit."""
    with capture(execute=True):
        return webhooks_emit(
            customer_id=customer.pk, event=event, payload=data or {"task_id": 41, "label": "cat"}
        )


def make_due(delivery_id: int) -> None:
    """Skip the backoff wait: the pending retry is due now."""
    WebhookDelivery.objects.filter(pk=delivery_id, status=WebhookDeliveryStatus.PENDING).update(
        next_attempt_at=timezone.now()
    )


def retry(delivery_id: int) -> WebhookDelivery:
    make_due(delivery_id)
    webhook_deliver.delay(delivery_id)
    return WebhookDelivery.objects.get(pk=delivery_id)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- Signed delivery ------------------------------------------------------------------------

DOCS = Path(__file__).resolve().parents[3] / "docs" / "labeling.md"
SIGNATURE_HEADER = re.compile(r"t=(?P<t>\d+),v1=(?P<v1>[0-9a-f]{64})")


def hmac_of_the_documented_format(secret: str, header: str, body: bytes) -> bool:
    """Check a signature from docs/labeling.md's words alone, without the product's code.

    `X-Quorum-Signature: t=<unix time>,v1=<hex>`, where `v1` is the HMAC-SHA256 of `"<t>.<raw body>"`
    keyed with the secret.
    """
    match = SIGNATURE_HEADER.fullmatch(header)
    assert match is not None, f"not t=<unix time>,v1=<hex>: {header!r}"
    message = match["t"].encode() + b"." + body
    return hmac.compare_digest(
        hmac.new(secret.encode(), message, hashlib.sha256).hexdigest(), match["v1"]
    )


def documented_verify() -> Any:
    """The `verify` function docs/labeling.md gives customers, run as they would run it."""
    source = DOCS.read_text()
    [snippet] = [
        block
        for block in re.findall(r"```python\n(.*?)```", source, re.DOTALL)
        if "def verify(" in block
    ]
    namespace: dict[str, Any] = {}
    exec(compile(snippet, str(DOCS), "exec"), namespace)  # noqa: S102 - our own documentation
    return namespace["verify"]


@pytest.fixture
def signed_delivery(receiver, customer, django_capture_on_commit_callbacks):
    """An event delivered to the receiver: (the endpoint's secret, the request it got)."""
    _, secret = webhook_endpoint_create(customer=customer, url=receiver.url, events=[], actor=None)
    emit(django_capture_on_commit_callbacks, customer)
    assert len(receiver.requests) == 1
    return secret, receiver.requests[0]


def test_an_emitted_event_arrives_as_signed_json_with_delivery_headers(
    receiver, customer, django_capture_on_commit_callbacks
):
    endpoint, secret = webhook_endpoint_create(
        customer=customer, url=receiver.url, events=[], actor=None
    )

    [delivery_id] = emit(django_capture_on_commit_callbacks, customer, data={"task_id": 41})

    [request] = receiver.requests
    assert request.path == "/hooks/quorum"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["user-agent"] == "Quorum-Webhooks/1"
    assert request.headers["x-quorum-event"] == "task.completed"
    assert request.headers["x-quorum-delivery"] == str(delivery_id)
    assert hmac_of_the_documented_format(
        secret, request.headers["x-quorum-signature"], request.body
    )
    body = json.loads(request.body)
    assert body["id"] == delivery_id
    assert body["event"] == "task.completed"
    assert body["data"] == {"task_id": 41}
    assert "created_at" in body
    delivery = WebhookDelivery.objects.get(pk=delivery_id)
    assert delivery.endpoint == endpoint
    assert delivery.status == WebhookDeliveryStatus.SUCCEEDED
    assert delivery.delivered_at is not None


def test_the_signature_is_the_hmac_of_the_time_of_sending_and_the_raw_body(signed_delivery):
    secret, request = signed_delivery
    header = request.headers["x-quorum-signature"]

    match = SIGNATURE_HEADER.fullmatch(header)

    assert match is not None, header
    assert abs(time.time() - int(match["t"])) < 60
    expected = hmac.new(
        secret.encode(), f"{match['t']}.".encode() + request.body, hashlib.sha256
    ).hexdigest()
    assert match["v1"] == expected
    assert hmac_of_the_documented_format(secret, header, request.body)
    assert not hmac_of_the_documented_format(secret, header, request.body + b" ")


def test_the_verifier_in_the_documentation_accepts_a_delivery_and_refuses_a_forgery(
    signed_delivery,
):
    secret, request = signed_delivery
    header = request.headers["x-quorum-signature"]
    verify = documented_verify()
    forged_t = re.sub(r"t=(\d+)", lambda m: f"t={int(m[1]) - 1}", header)

    assert verify(secret, header, request.body) is True
    assert verify(secret, header, request.body.replace(b"41", b"42")) is False
    assert verify("whsec_someone-else", header, request.body) is False
    assert verify(secret, forged_t, request.body) is False


def test_the_products_verifier_agrees_with_the_documented_one(signed_delivery):
    # The product's verifier is what the API docs point to; it must judge as customers' code does.
    secret, request = signed_delivery
    header = request.headers["x-quorum-signature"]
    verify = documented_verify()

    for body in (request.body, request.body.replace(b"41", b"42")):
        for key in (secret, "whsec_someone-else"):
            assert webhook_signature_verify(secret=key, header=header, body=body) is verify(
                key, header, body
            )


def test_signature_check_rejects_another_secret(signed_delivery):
    _, request = signed_delivery

    accepted = webhook_signature_verify(
        secret="whsec_someone-else", header=request.headers["x-quorum-signature"], body=request.body
    )

    assert accepted is False


def test_signature_check_rejects_a_tampered_body(signed_delivery):
    secret, request = signed_delivery
    tampered = request.body.replace(b"41", b"42")

    accepted = webhook_signature_verify(
        secret=secret, header=request.headers["x-quorum-signature"], body=tampered
    )

    assert tampered != request.body
    assert accepted is False


def test_signature_check_rejects_an_old_timestamp(signed_delivery):
    secret, request = signed_delivery
    later = timezone.now() + timedelta(seconds=301)

    accepted = webhook_signature_verify(
        secret=secret, header=request.headers["x-quorum-signature"], body=request.body, now=later
    )

    assert accepted is False


def test_signature_check_rejects_a_header_without_a_signature(signed_delivery):
    secret, request = signed_delivery
    timestamp_only = request.headers["x-quorum-signature"].split(",")[0]

    accepted = webhook_signature_verify(secret=secret, header=timestamp_only, body=request.body)

    assert accepted is False


def test_a_rotated_secret_signs_the_next_delivery(
    receiver, customer, django_capture_on_commit_callbacks
):
    endpoint, old_secret = webhook_endpoint_create(
        customer=customer, url=receiver.url, events=[], actor=None
    )

    new_secret = webhook_endpoint_rotate_secret(endpoint=endpoint, actor=None)
    emit(django_capture_on_commit_callbacks, customer)

    [request] = receiver.requests
    header = request.headers["x-quorum-signature"]
    assert new_secret.startswith("whsec_") and new_secret != old_secret
    assert hmac_of_the_documented_format(new_secret, header, request.body)
    assert not hmac_of_the_documented_format(old_secret, header, request.body)


# --- Retries and giving up ------------------------------------------------------------------


def test_a_failed_attempt_is_recorded_and_retried_after_a_backoff(
    receiver, customer, django_capture_on_commit_callbacks
):
    webhook_endpoint_create(customer=customer, url=receiver.url, events=[], actor=None)
    receiver.answer(500)
    before = timezone.now()

    [delivery_id] = emit(django_capture_on_commit_callbacks, customer)

    delivery = WebhookDelivery.objects.get(pk=delivery_id)
    assert len(receiver.requests) == 1  # the retry waits for its time, even with eager tasks
    assert delivery.status == WebhookDeliveryStatus.PENDING
    assert delivery.attempts == 1
    assert delivery.next_attempt_at is not None
    wait = (delivery.next_attempt_at - before).total_seconds()
    assert RETRY_DELAYS_SECONDS[0] * 0.8 - 1 <= wait <= RETRY_DELAYS_SECONDS[0] * 1.2 + 1
    [attempt] = delivery.attempt_log.all()
    assert attempt.status_code == 500
    assert attempt.duration_ms >= 0


def test_an_endpoint_failing_twice_then_answering_succeeds_on_the_third_attempt(
    receiver, customer, django_capture_on_commit_callbacks
):
    webhook_endpoint_create(customer=customer, url=receiver.url, events=[], actor=None)
    receiver.answer(500, 500, then=200)
    [delivery_id] = emit(django_capture_on_commit_callbacks, customer)

    retry(delivery_id)
    delivery = retry(delivery_id)

    assert delivery.status == WebhookDeliveryStatus.SUCCEEDED
    assert delivery.attempts == 3
    assert delivery.next_attempt_at is None
    codes = list(
        delivery.attempt_log.order_by("attempted_at").values_list("status_code", flat=True)
    )
    assert codes == [500, 500, 200]
    assert len(receiver.requests) == 3
    assert len({r.headers["x-quorum-delivery"] for r in receiver.requests}) == 1


def test_a_delivery_gives_up_after_the_maximum_number_of_attempts(
    receiver, customer, settings, django_capture_on_commit_callbacks
):
    settings.WEBHOOK_MAX_ATTEMPTS = 3
    webhook_endpoint_create(customer=customer, url=receiver.url, events=[], actor=None)
    receiver.answer(then=503)
    [delivery_id] = emit(django_capture_on_commit_callbacks, customer)

    retry(delivery_id)
    after_giving_up = retry(delivery_id)
    webhook_deliver.delay(delivery_id)  # a late message changes nothing

    assert after_giving_up.status == WebhookDeliveryStatus.FAILED
    assert after_giving_up.attempts == 3
    assert after_giving_up.next_attempt_at is None
    assert after_giving_up.attempt_log.count() == 3
    assert len(receiver.requests) == 3


def test_a_network_error_is_recorded_as_a_failed_attempt(
    settings, customer, django_capture_on_commit_callbacks
):
    settings.WEBHOOK_ALLOW_HTTP_HOSTS = ["127.0.0.1"]
    webhook_endpoint_create(
        customer=customer, url=f"http://127.0.0.1:{free_port()}/down", events=[], actor=None
    )

    [delivery_id] = emit(django_capture_on_commit_callbacks, customer)

    delivery = WebhookDelivery.objects.get(pk=delivery_id)
    [attempt] = delivery.attempt_log.all()
    assert attempt.status_code is None
    assert "refused" in attempt.error.lower()
    assert delivery.status == WebhookDeliveryStatus.PENDING
    assert delivery.next_attempt_at is not None


def test_a_host_name_that_resolves_to_a_private_address_is_refused_at_send_time(
    monkeypatch, customer, django_capture_on_commit_callbacks
):
    import ipaddress

    import labeling.sources.web

    webhook_endpoint_create(
        customer=customer, url="https://hooks.internal-looking.example/q", events=[], actor=None
    )
    # Only the resolver of the check is faked: nothing else (Redis, the database) is affected,
    # and no connection is attempted because the address is refused first.
    monkeypatch.setattr(
        labeling.sources.web,
        "_resolve",
        lambda host, port, url: [ipaddress.ip_address("10.0.0.5")],
    )

    [delivery_id] = emit(django_capture_on_commit_callbacks, customer)

    [attempt] = WebhookDelivery.objects.get(pk=delivery_id).attempt_log.all()
    assert attempt.status_code is None
    assert "private or local address (10.0.0.5)" in attempt.error


def test_a_redirect_is_recorded_as_a_failure_and_not_followed(
    receiver, customer, django_capture_on_commit_callbacks
):
    webhook_endpoint_create(customer=customer, url=receiver.url, events=[], actor=None)
    receiver.answer(302)

    [delivery_id] = emit(django_capture_on_commit_callbacks, customer)

    delivery = WebhookDelivery.objects.get(pk=delivery_id)
    assert [a.status_code for a in delivery.attempt_log.all()] == [302]
    assert delivery.status == WebhookDeliveryStatus.PENDING
    assert len(receiver.requests) == 1


def test_a_delivered_delivery_is_not_sent_again(
    receiver, customer, django_capture_on_commit_callbacks
):
    webhook_endpoint_create(customer=customer, url=receiver.url, events=[], actor=None)
    [delivery_id] = emit(django_capture_on_commit_callbacks, customer)

    make_due(delivery_id)
    again = webhook_delivery_attempt(delivery_id=delivery_id)

    assert again.status == WebhookDeliveryStatus.SUCCEEDED
    assert again.attempts == 1
    assert len(receiver.requests) == 1


def test_a_retry_is_not_sent_before_it_is_due(
    receiver, customer, django_capture_on_commit_callbacks
):
    webhook_endpoint_create(customer=customer, url=receiver.url, events=[], actor=None)
    receiver.answer(500)
    [delivery_id] = emit(django_capture_on_commit_callbacks, customer)

    early = webhook_delivery_attempt(delivery_id=delivery_id)

    assert early.attempts == 1
    assert len(receiver.requests) == 1


@pytest.mark.django_db(transaction=True)
def test_a_delivery_in_flight_is_not_sent_again_by_a_concurrent_attempt(receiver, customer):
    endpoint, _ = webhook_endpoint_create(
        customer=customer, url=receiver.url, events=[], actor=None
    )
    delivery = WebhookDelivery.objects.create(
        endpoint=endpoint,
        event=TASK_DONE,
        payload={"id": 1, "event": TASK_DONE, "data": {}},
        next_attempt_at=timezone.now(),
    )
    receiver.gate.clear()  # the receiver holds the first request until we let it answer

    def first_attempt() -> None:
        try:
            webhook_delivery_attempt(delivery_id=delivery.pk)
        finally:
            connection.close()

    worker = threading.Thread(target=first_attempt)
    worker.start()
    assert receiver.arrived.wait(timeout=5)
    concurrent = webhook_delivery_attempt(delivery_id=delivery.pk)
    receiver.gate.set()
    worker.join(timeout=10)

    delivery.refresh_from_db()
    assert concurrent.attempts == 1
    assert len(receiver.requests) == 1
    assert delivery.status == WebhookDeliveryStatus.SUCCEEDED
    assert delivery.attempt_log.count() == 1


def test_the_sweep_sends_deliveries_whose_message_was_lost(
    receiver, customer, django_capture_on_commit_callbacks
):
    webhook_endpoint_create(customer=customer, url=receiver.url, events=[], actor=None)
    with django_capture_on_commit_callbacks(execute=False):  # the broker lost the message
        [delivery_id] = webhooks_emit(customer_id=customer.pk, event=TASK_DONE, payload={})
    WebhookDelivery.objects.filter(pk=delivery_id).update(
        next_attempt_at=timezone.now() - timedelta(minutes=5)
    )

    queued = webhook_deliveries_due()

    assert queued == 1
    assert len(receiver.requests) == 1
    assert WebhookDelivery.objects.get(pk=delivery_id).status == WebhookDeliveryStatus.SUCCEEDED


def test_the_sweep_leaves_retries_that_are_not_due(
    receiver, customer, django_capture_on_commit_callbacks
):
    webhook_endpoint_create(customer=customer, url=receiver.url, events=[], actor=None)
    receiver.answer(500)
    emit(django_capture_on_commit_callbacks, customer)

    queued = webhook_deliveries_due()

    assert queued == 0
    assert len(receiver.requests) == 1


def test_a_stale_retry_message_does_nothing(receiver, customer, django_capture_on_commit_callbacks):
    webhook_endpoint_create(customer=customer, url=receiver.url, events=[], actor=None)
    receiver.answer(500)
    [delivery_id] = emit(django_capture_on_commit_callbacks, customer)
    make_due(delivery_id)

    webhook_deliver.delay(delivery_id, 0)  # a duplicate of the first message, redelivered late

    assert WebhookDelivery.objects.get(pk=delivery_id).attempts == 1
    assert len(receiver.requests) == 1


def test_retry_delays_grow_and_stay_within_the_jitter():
    delays = [webhook_retry_delay(n, jitter=0).total_seconds() for n in range(1, 10)]

    assert delays[:5] == [30, 120, 600, 3600, 6 * 3600]
    assert delays == sorted(delays)
    assert webhook_retry_delay(1, jitter=-1).total_seconds() == pytest.approx(24)
    assert webhook_retry_delay(1, jitter=1).total_seconds() == pytest.approx(36)


# --- Who receives what ----------------------------------------------------------------------


def test_an_endpoint_does_not_receive_events_it_did_not_subscribe_to(
    receiver, customer, django_capture_on_commit_callbacks
):
    webhook_endpoint_create(
        customer=customer, url=receiver.url, events=[WebhookEvent.EXPORT_READY], actor=None
    )

    delivery_ids = emit(django_capture_on_commit_callbacks, customer, event=TASK_DONE)

    assert delivery_ids == []
    assert receiver.requests == []


def test_an_endpoint_receives_the_events_it_subscribed_to(
    receiver, customer, django_capture_on_commit_callbacks
):
    webhook_endpoint_create(
        customer=customer, url=receiver.url, events=[WebhookEvent.EXPORT_READY], actor=None
    )

    emit(django_capture_on_commit_callbacks, customer, event=WebhookEvent.EXPORT_READY)

    assert [r.headers["x-quorum-event"] for r in receiver.requests] == ["export.ready"]


def test_an_inactive_endpoint_receives_nothing(
    receiver, customer, django_capture_on_commit_callbacks
):
    endpoint, _ = webhook_endpoint_create(
        customer=customer, url=receiver.url, events=[], actor=None
    )
    webhook_endpoint_update(endpoint=endpoint, actor=None, is_active=False)

    delivery_ids = emit(django_capture_on_commit_callbacks, customer)

    assert delivery_ids == []
    assert receiver.requests == []


def test_another_customers_endpoint_receives_nothing(
    receiver, customer, other_customer, django_capture_on_commit_callbacks
):
    webhook_endpoint_create(customer=other_customer, url=receiver.url, events=[], actor=None)

    delivery_ids = emit(django_capture_on_commit_callbacks, customer)

    assert delivery_ids == []
    assert receiver.requests == []


def test_nothing_is_sent_when_the_emitting_transaction_rolls_back(
    receiver, customer, django_capture_on_commit_callbacks
):
    webhook_endpoint_create(customer=customer, url=receiver.url, events=[], actor=None)

    with django_capture_on_commit_callbacks(execute=True) as queued:
        try:
            with transaction.atomic():
                webhooks_emit(customer_id=customer.pk, event=TASK_DONE, payload={"task_id": 1})
                raise RuntimeError("the task could not be finalised")
        except RuntimeError:
            pass

    assert queued == []
    assert receiver.requests == []
    assert not WebhookDelivery.objects.exists()


def test_a_deactivated_endpoint_does_not_get_its_pending_retries(
    receiver, customer, django_capture_on_commit_callbacks
):
    endpoint, _ = webhook_endpoint_create(
        customer=customer, url=receiver.url, events=[], actor=None
    )
    receiver.answer(500)
    [delivery_id] = emit(django_capture_on_commit_callbacks, customer)
    webhook_endpoint_update(endpoint=endpoint, actor=None, is_active=False)

    delivery = retry(delivery_id)

    assert delivery.status == WebhookDeliveryStatus.FAILED
    assert len(receiver.requests) == 1


# --- Endpoint rules -------------------------------------------------------------------------


def test_plain_http_to_a_host_not_allowed_is_refused_naming_url(customer, settings):
    settings.WEBHOOK_ALLOW_HTTP_HOSTS = ["127.0.0.1"]

    with pytest.raises(ValidationFailed) as refused:
        webhook_endpoint_create(
            customer=customer, url="http://hooks.example.com/quorum", events=[], actor=None
        )

    assert list(refused.value.extra["fields"]) == ["url"]
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.parametrize(
    "url", ["https://127.0.0.1/hook", "https://10.0.0.8/hook", "https://localhost/hook"]
)
def test_a_private_address_is_refused_naming_url(customer, url):
    with pytest.raises(ValidationFailed) as refused:
        webhook_endpoint_create(customer=customer, url=url, events=[], actor=None)

    assert list(refused.value.extra["fields"]) == ["url"]


def test_an_unknown_event_is_refused_naming_events(customer):
    with pytest.raises(ValidationFailed) as refused:
        webhook_endpoint_create(
            customer=customer, url="https://hooks.example.com/q", events=["task.eaten"], actor=None
        )

    assert list(refused.value.extra["fields"]) == ["events"]


def test_creating_and_rotating_are_audited_without_the_secret(customer):
    user = make_customer_user(customer)
    endpoint, secret = webhook_endpoint_create(
        customer=customer, url="https://hooks.example.com/q", events=[], actor=user
    )

    new_secret = webhook_endpoint_rotate_secret(endpoint=endpoint, actor=user)

    events = audit_events_about(AuditEvent.objects.all(), endpoint).order_by("id")
    assert [e.action for e in events] == ["webhook.created", "webhook.secret_rotated"]
    assert all(e.actor == user for e in events)
    trail = str([(e.before, e.after, e.target_repr) for e in events])
    assert secret not in trail
    assert new_secret not in trail


# --- API ------------------------------------------------------------------------------------


def test_api_create_returns_the_secret_once_and_never_lists_it(client, customer):
    client.force_login(make_customer_user(customer))

    created = client.post(
        "/api/v1/webhooks/",
        {"url": "https://hooks.example.com/quorum", "events": ["task.completed"]},
        content_type="application/json",
    )
    listed = client.get("/api/v1/webhooks/")
    shown = client.get(f"/api/v1/webhooks/{created.json()['id']}/")

    assert created.status_code == 201
    secret = created.json()["secret"]
    assert secret.startswith("whsec_")
    assert created.json()["customer"] == customer.pk
    assert created.json()["events"] == ["task.completed"]
    assert listed.status_code == 200
    assert [e["id"] for e in listed.json()["results"]] == [created.json()["id"]]
    assert "secret" not in listed.json()["results"][0]
    assert secret not in listed.content.decode()
    assert shown.status_code == 200
    assert secret not in shown.content.decode()


def test_api_create_refuses_plain_http_naming_url(client, customer):
    client.force_login(make_customer_user(customer))

    response = client.post(
        "/api/v1/webhooks/", {"url": "http://hooks.example.com/q"}, content_type="application/json"
    )

    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"
    assert list(response.json()["extra"]["fields"]) == ["url"]


def test_api_another_customers_endpoint_is_not_found(client, customer, other_customer):
    theirs, _ = webhook_endpoint_create(
        customer=other_customer, url="https://globex.example.com/h", events=[], actor=None
    )
    client.force_login(make_customer_user(customer))

    answers = [
        client.get(f"/api/v1/webhooks/{theirs.pk}/"),
        client.patch(
            f"/api/v1/webhooks/{theirs.pk}/",
            {"is_active": False},
            content_type="application/json",
        ),
        client.delete(f"/api/v1/webhooks/{theirs.pk}/"),
        client.post(f"/api/v1/webhooks/{theirs.pk}/rotate-secret/"),
        client.get(f"/api/v1/webhooks/{theirs.pk}/deliveries/"),
    ]
    listed = client.get("/api/v1/webhooks/")
    filtered = client.get("/api/v1/webhooks/", {"customer": other_customer.pk})

    assert [a.status_code for a in answers] == [404] * 5
    assert listed.json()["results"] == []
    assert filtered.status_code == 200
    assert filtered.json()["results"] == []
    theirs.refresh_from_db()
    assert theirs.is_active is True


def test_api_a_customer_user_cannot_create_for_another_customer(client, customer, other_customer):
    client.force_login(make_customer_user(customer))

    response = client.post(
        "/api/v1/webhooks/",
        {"customer": other_customer.pk, "url": "https://hooks.example.com/q"},
        content_type="application/json",
    )

    assert response.status_code == 400
    assert list(response.json()["extra"]["fields"]) == ["customer"]
    assert not WebhookEndpoint.objects.exists()


def test_api_a_manager_names_the_customer_and_sees_every_customers_endpoints(
    client, customer, other_customer
):
    webhook_endpoint_create(
        customer=other_customer, url="https://globex.example.com/h", events=[], actor=None
    )
    client.force_login(make_user(Role.MANAGER, mfa=True))

    without_customer = client.post(
        "/api/v1/webhooks/", {"url": "https://acme.example.com/h"}, content_type="application/json"
    )
    created = client.post(
        "/api/v1/webhooks/",
        {"customer": customer.pk, "url": "https://acme.example.com/h"},
        content_type="application/json",
    )
    listed = client.get("/api/v1/webhooks/")

    assert without_customer.status_code == 400
    assert list(without_customer.json()["extra"]["fields"]) == ["customer"]
    assert created.status_code == 201
    assert created.json()["customer"] == customer.pk
    assert {e["customer"] for e in listed.json()["results"]} == {customer.pk, other_customer.pk}


def test_api_an_annotator_is_refused(client, customer):
    client.force_login(make_user(Role.ANNOTATOR))

    response = client.get("/api/v1/webhooks/")

    assert response.status_code == 403


def test_api_patch_changes_the_endpoint_and_delete_removes_it(client, customer):
    endpoint, _ = webhook_endpoint_create(
        customer=customer, url="https://acme.example.com/h", events=[], actor=None
    )
    client.force_login(make_customer_user(customer))

    patched = client.patch(
        f"/api/v1/webhooks/{endpoint.pk}/",
        {"events": ["export.ready"], "is_active": False},
        content_type="application/json",
    )
    deleted = client.delete(f"/api/v1/webhooks/{endpoint.pk}/")

    assert patched.status_code == 200
    assert patched.json()["events"] == ["export.ready"]
    assert patched.json()["is_active"] is False
    assert "secret" not in patched.json()
    assert deleted.status_code == 204
    assert not WebhookEndpoint.objects.exists()
    actions = audit_events_about(AuditEvent.objects.all(), endpoint).order_by("id")
    assert [a.action for a in actions] == ["webhook.created", "webhook.updated", "webhook.deleted"]


def test_api_rotate_secret_returns_a_new_secret_once(client, customer):
    endpoint, old_secret = webhook_endpoint_create(
        customer=customer, url="https://acme.example.com/h", events=[], actor=None
    )
    client.force_login(make_customer_user(customer))

    response = client.post(f"/api/v1/webhooks/{endpoint.pk}/rotate-secret/")

    assert response.status_code == 200
    new_secret = response.json()["secret"]
    assert new_secret.startswith("whsec_") and new_secret != old_secret
    endpoint.refresh_from_db()
    assert endpoint.secret == new_secret


def _failed_deliveries(receiver, customer, capture, count, event=TASK_DONE):
    """Emit `count` events to an endpoint that answers 500: one recorded attempt each."""
    receiver.answer(then=500)
    for _ in range(count):
        emit(capture, customer, event=event)


def test_api_deliveries_list_newest_first_with_their_attempts(
    client, receiver, customer, django_capture_on_commit_callbacks
):
    endpoint, _ = webhook_endpoint_create(
        customer=customer, url=receiver.url, events=[], actor=None
    )
    _failed_deliveries(receiver, customer, django_capture_on_commit_callbacks, 2)
    first, second = WebhookDelivery.objects.order_by("id")
    retry(first.pk)
    client.force_login(make_customer_user(customer))

    response = client.get(f"/api/v1/webhooks/{endpoint.pk}/deliveries/")

    assert response.status_code == 200
    results = response.json()["results"]
    assert [d["id"] for d in results] == [second.pk, first.pk]
    assert [len(d["attempt_log"]) for d in results] == [1, 2]
    attempt = results[1]["attempt_log"][0]
    assert set(attempt) == {"attempted_at", "status_code", "error", "duration_ms"}
    assert attempt["status_code"] == 500
    assert results[1]["payload"]["id"] == first.pk


def test_api_deliveries_filter_by_status_and_event(
    client, receiver, customer, django_capture_on_commit_callbacks
):
    endpoint, _ = webhook_endpoint_create(
        customer=customer, url=receiver.url, events=[], actor=None
    )
    emit(django_capture_on_commit_callbacks, customer, event=TASK_DONE)
    _failed_deliveries(
        receiver, customer, django_capture_on_commit_callbacks, 1, WebhookEvent.EXPORT_READY
    )
    client.force_login(make_customer_user(customer))
    url = f"/api/v1/webhooks/{endpoint.pk}/deliveries/"

    pending = client.get(url, {"status": "pending"})
    tasks = client.get(url, {"event": "task.completed"})

    assert [d["event"] for d in pending.json()["results"]] == ["export.ready"]
    assert [d["status"] for d in tasks.json()["results"]] == ["succeeded"]


def test_api_deliveries_list_runs_the_same_queries_for_2_or_10_deliveries(
    client, receiver, customer, django_capture_on_commit_callbacks
):
    endpoint, _ = webhook_endpoint_create(
        customer=customer, url=receiver.url, events=[], actor=None
    )
    client.force_login(make_customer_user(customer))
    url = f"/api/v1/webhooks/{endpoint.pk}/deliveries/"
    _failed_deliveries(receiver, customer, django_capture_on_commit_callbacks, 2)
    client.get(url)  # warm the session and content-type caches
    with CaptureQueriesContext(connection) as with_two:
        two = client.get(url)

    _failed_deliveries(receiver, customer, django_capture_on_commit_callbacks, 8)
    with CaptureQueriesContext(connection) as with_ten:
        ten = client.get(url)

    assert len(two.json()["results"]) == 2
    assert len(ten.json()["results"]) == 10
    assert all(len(d["attempt_log"]) == 1 for d in ten.json()["results"])
    assert len(with_ten) == len(with_two)


@pytest.mark.urls(__name__)
def test_api_schema_of_the_webhook_endpoints_generates_without_warnings(tmp_path):
    GENERATOR_STATS.reset()
    schema_path = tmp_path / "openapi.yaml"

    call_command(
        "spectacular",
        "--validate",
        "--fail-on-warn",
        "--urlconf",
        __name__,
        "--file",
        str(schema_path),
    )

    GENERATOR_STATS.reset()
    paths = yaml.safe_load(schema_path.read_text())["paths"]
    assert {
        "/api/v1/webhooks/",
        "/api/v1/webhooks/{id}/",
        "/api/v1/webhooks/{id}/rotate-secret/",
        "/api/v1/webhooks/{webhook_id}/deliveries/",
    } <= set(paths)
