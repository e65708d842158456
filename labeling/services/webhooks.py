"""Customer webhooks: the endpoints customers register, and the events emitted to them.

`webhooks_emit` records one delivery per subscribed endpoint and queues it once the transaction
commits; `labeling.services.webhook_delivery` sends it, signed, with retries.
"""

from __future__ import annotations

import ipaddress
import json
import secrets
from collections.abc import Iterable, Mapping
from functools import partial
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.core.validators import URLValidator
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from core.audit import audit_record, snapshot
from core.errors import NotFound, ValidationFailed
from labeling.enqueue import job_enqueue
from labeling.models import (
    Customer,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)

# The name of the job that makes a delivery's next attempt (labeling.jobs.webhooks).
WEBHOOK_DELIVER_TASK = "labeling.tasks.webhook_deliver"
SECRET_PREFIX = "whsec_"  # noqa: S105  (the public prefix of every signing secret, not a secret)
URL_MAX_LENGTH = 500
_ENDPOINT_FIELDS = ("customer", "url", "events", "is_active")


def webhook_http_allowed_hosts() -> set[str]:
    """Return the hosts that may receive webhooks over plain http and at private addresses."""
    return {host.lower() for host in getattr(settings, "WEBHOOK_ALLOW_HTTP_HOSTS", [])}


# --- Endpoints ------------------------------------------------------------------------------


def webhook_url_problem(url: str) -> str | None:
    """Return why `url` may not receive webhooks, or None when it may.

    Only https is allowed, to a public host; hosts in `settings.WEBHOOK_ALLOW_HTTP_HOSTS` may also
    use plain http and private addresses (a local receiver in development and tests).
    """
    if len(url) > URL_MAX_LENGTH:
        return f"At most {URL_MAX_LENGTH} characters."
    try:
        URLValidator(schemes=["http", "https"])(url)
    except DjangoValidationError:
        return "Enter a valid URL."
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.username or parts.password:
        return "Credentials in the URL are not allowed; the signature authenticates us."
    if host in webhook_http_allowed_hosts():
        return None
    if parts.scheme != "https":
        return "Use an https:// URL."
    if host == "localhost" or host.endswith(".localhost"):
        return "The URL must point to a public host."
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None  # a host name; it is resolved when each delivery is sent
    if not address.is_global:
        return "The URL must point to a public host."
    return None


def _clean_url(url: str) -> str:
    url = url.strip()
    problem = webhook_url_problem(url)
    if problem is not None:
        raise ValidationFailed(f"url: {problem}", fields={"url": [problem]})
    return url


def _clean_events(events: Iterable[str]) -> list[str]:
    if isinstance(events, str):
        raise ValidationFailed(
            "events: give a list of event names.", fields={"events": ["Must be a list."]}
        )
    cleaned: list[str] = []
    for name in events:
        if name not in WebhookEvent.values:
            valid = ", ".join(WebhookEvent.values)
            raise ValidationFailed(
                f"events: unknown event {name!r}; use one of: {valid}.",
                fields={"events": [f"Unknown event {name!r}."]},
            )
        if name not in cleaned:
            cleaned.append(name)
    return cleaned


def _new_secret() -> str:
    return f"{SECRET_PREFIX}{secrets.token_urlsafe(32)}"


@transaction.atomic
def webhook_endpoint_create(
    *, customer: Customer, url: str, events: Iterable[str], actor: User | None
) -> tuple[WebhookEndpoint, str]:
    """Create an endpoint; return it and its signing secret, which the API shows only this once.

    Raises ValidationFailed naming `url` or `events`. An empty `events` subscribes to every event.
    """
    secret = _new_secret()
    endpoint = WebhookEndpoint.objects.create(
        customer=customer, url=_clean_url(url), events=_clean_events(events), secret=secret
    )
    audit_record(
        actor=actor,
        action="webhook.created",
        target=endpoint,
        after=snapshot(endpoint, _ENDPOINT_FIELDS),
    )
    return endpoint, secret


def _endpoint_get_for_update(endpoint_id: int) -> WebhookEndpoint:
    endpoint = WebhookEndpoint.objects.select_for_update().filter(pk=endpoint_id).first()
    if endpoint is None:
        raise NotFound("This webhook endpoint no longer exists.")
    return endpoint


@transaction.atomic
def webhook_endpoint_update(
    *,
    endpoint: WebhookEndpoint,
    actor: User | None,
    url: str | None = None,
    events: Iterable[str] | None = None,
    is_active: bool | None = None,
) -> WebhookEndpoint:
    """Change what was given (None leaves a field as it is); audited when anything changed."""
    locked = _endpoint_get_for_update(endpoint.pk)
    before = snapshot(locked, _ENDPOINT_FIELDS)
    if url is not None:
        locked.url = _clean_url(url)
    if events is not None:
        locked.events = _clean_events(events)
    if is_active is not None:
        locked.is_active = is_active
    after = snapshot(locked, _ENDPOINT_FIELDS)
    if after != before:
        locked.save(update_fields=["url", "events", "is_active"])
        audit_record(
            actor=actor, action="webhook.updated", target=locked, before=before, after=after
        )
    return locked


@transaction.atomic
def webhook_endpoint_rotate_secret(*, endpoint: WebhookEndpoint, actor: User | None) -> str:
    """Replace the signing secret at once and return the new one (shown only this once).

    Deliveries are signed when sent, so pending retries carry the new signature too.
    """
    locked = _endpoint_get_for_update(endpoint.pk)
    locked.secret = _new_secret()
    locked.save(update_fields=["secret"])
    # The audit says that the secret changed, never what it is.
    audit_record(actor=actor, action="webhook.secret_rotated", target=locked)
    return locked.secret


@transaction.atomic
def webhook_endpoint_delete(*, endpoint: WebhookEndpoint, actor: User | None) -> None:
    """Delete the endpoint with its deliveries (pending ones are never sent)."""
    locked = _endpoint_get_for_update(endpoint.pk)
    audit_record(
        actor=actor,
        action="webhook.deleted",
        target=locked,
        before=snapshot(locked, _ENDPOINT_FIELDS),
    )
    locked.delete()


# --- Emitting -------------------------------------------------------------------------------


def _enqueue_delivery(delivery_id: int) -> None:
    job_enqueue(WEBHOOK_DELIVER_TASK, delivery_id, 0)


def _jsonable(data: Mapping[str, Any]) -> dict[str, Any]:
    """Turn dates, decimals and UUIDs into the JSON text a customer receives."""
    result: dict[str, Any] = json.loads(json.dumps(data, cls=DjangoJSONEncoder))
    return result


@transaction.atomic
def webhooks_emit(*, customer_id: int, event: str, payload: Mapping[str, Any]) -> list[int]:
    """Queue `event` for every active endpoint of the customer subscribed to it; return delivery ids.

    Call it inside the transaction that makes the change: deliveries are sent after it commits,
    and nothing is sent when it rolls back.
    """
    if event not in WebhookEvent.values:
        raise ValidationFailed(
            f"Unknown webhook event {event!r}.", fields={"event": [f"Unknown event {event!r}."]}
        )
    data = _jsonable(payload)
    now = timezone.now()
    endpoints = WebhookEndpoint.objects.filter(customer_id=customer_id, is_active=True).order_by(
        "pk"
    )
    delivery_ids: list[int] = []
    for endpoint in endpoints:
        if endpoint.events and event not in endpoint.events:
            continue
        delivery = WebhookDelivery.objects.create(
            endpoint=endpoint, event=event, payload={}, created_at=now, next_attempt_at=now
        )
        delivery.payload = {
            "id": delivery.pk,
            "event": event,
            "created_at": now.isoformat(),
            "data": data,
        }
        delivery.save(update_fields=["payload"])
        transaction.on_commit(partial(_enqueue_delivery, delivery.pk))
        delivery_ids.append(delivery.pk)
    return delivery_ids
