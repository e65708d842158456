"""Stripe webhooks: verifying and storing what Stripe sends, and processing it in the background.

Receiving (`stripe_event_receive`, called by the webhook endpoint) verifies the
`Stripe-Signature` header with the SDK against STRIPE_WEBHOOK_SECRET (any of its comma-separated
secrets), refusing forged, stale (older than STRIPE_WEBHOOK_TOLERANCE_SECONDS) and malformed
deliveries without storing anything;
stores each event once by its Stripe id (a second delivery of the same event changes nothing);
and queues its processing when the transaction commits. It never calls Stripe, so it answers fast.

Processing (`stripe_event_process`, run by the Celery task `payments.tasks.stripe_event_process`)
does not trust the payload or the order events arrive in: it re-fetches the object the event is
about from Stripe, through the client and with the event's connected account, and hands the
handlers registered for the event's type the object as it is now. Handlers are registered per
type (`stripe_event_handler_register("account.updated", fn)`) by the steps that care (payout
accounts, payout runs); an event of a type nobody handles is stored and marked processed. A
failure (Stripe unreachable, a handler raising) is recorded and retried with growing waits, up to
STRIPE_EVENT_MAX_ATTEMPTS; then the event is failed, shown to finance, who may retry it.

Handlers run inside the transaction that marks the event processed: their writes and the mark
commit together, or neither does and the event is retried. They must be idempotent with respect
to the current object (an older event processed after a newer one sees the same current object).
A handler that calls Stripe itself (payout.failed reverses transfers) sends every write with an
idempotency key derived from what it is about and raises when the answer is unknown: the retry
sends the same key and gets Stripe's first answer.
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any, Protocol

import stripe
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.audit import audit_record, snapshot
from core.errors import Conflict, NotFound, QuorumError
from labeling.enqueue import job_enqueue
from payments.models import StripeEvent, StripeEventStatus
from payments.stripe_client import (
    StripeNotConfigured,
    stripe_client,
    stripe_webhook_configured,
    stripe_webhook_secrets,
    stripe_webhook_tolerance_seconds,
)

if TYPE_CHECKING:
    from stripe._request_options import RequestOptions

logger = logging.getLogger(__name__)

STRIPE_EVENT_PROCESS_TASK = "payments.tasks.stripe_event_process"
# Waits after the 1st, 2nd, ... failed attempt; the last one repeats; +-20% jitter each.
RETRY_DELAYS_SECONDS = (30, 120, 600, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600)
RETRY_JITTER = 0.2
# How long a claimed attempt may run before another worker may take the event over.
CLAIM_HOLD_SECONDS = 300
ERROR_MAX_LENGTH = 2000
EVENT_ID_MAX = 255
CREATED_MAX = 4_102_444_800  # 2100-01-01: a later "created" is not a Stripe event's


class StripeWebhookRefused(QuorumError):
    """A delivery that is not a verified, well-formed Stripe event; nothing of it is stored."""

    code = "stripe_webhook_refused"
    http_status = 400
    default_message = "This is not a verified Stripe event."


# --- The registry of handlers ---------------------------------------------------------------


class StripeEventHandler(Protocol):
    """Act on an event. `current` is the object the event is about as Stripe returns it now
    (None when Stripe no longer has it); `event` is the stored event, locked."""

    def __call__(self, *, event: StripeEvent, current: dict[str, Any] | None) -> None: ...


_HANDLERS: dict[str, list[StripeEventHandler]] = {}


def stripe_event_handler_register(event_type: str, handler: StripeEventHandler) -> None:
    """Have `handler` process every event of `event_type` (e.g. "account.updated").

    Call it from an AppConfig.ready(); registering the same handler twice changes nothing.
    Several handlers of one type run in the order they were registered, in one transaction.
    """
    handlers = _HANDLERS.setdefault(event_type, [])
    if handler not in handlers:
        handlers.append(handler)


def stripe_event_handler_unregister(event_type: str, handler: StripeEventHandler) -> None:
    """Stop `handler` processing events of `event_type` (does nothing when it did not)."""
    handlers = _HANDLERS.get(event_type, [])
    if handler in handlers:
        handlers.remove(handler)


def stripe_event_handlers_for(event_type: str) -> list[StripeEventHandler]:
    return list(_HANDLERS.get(event_type, []))


def _handler_names(handlers: list[StripeEventHandler]) -> str:
    names = []
    for handler in handlers:
        # A function names itself; a callable object by its class.
        named: Any = handler if hasattr(handler, "__qualname__") else type(handler)
        names.append(f"{named.__module__}.{named.__qualname__}")
    return ", ".join(names)[:500]


# --- Receiving ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReceivedEvent:
    event: StripeEvent
    is_duplicate: bool


def _verified_payload(payload: bytes, signature: str | None) -> dict[str, Any]:
    if not stripe_webhook_configured():
        raise StripeWebhookRefused(
            "Stripe webhooks are not configured here: STRIPE_WEBHOOK_SECRET is not set.",
            code="stripe_webhook_not_configured",
        )
    if not signature:
        raise StripeWebhookRefused(
            "The Stripe-Signature header is missing.", code="stripe_signature_missing"
        )
    tolerance = stripe_webhook_tolerance_seconds()
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise StripeWebhookRefused(
            "The body is not UTF-8 text.", code="stripe_event_malformed"
        ) from exc
    failures: list[stripe.SignatureVerificationError] = []
    for secret in stripe_webhook_secrets():
        try:
            stripe.WebhookSignature.verify_header(text, signature, secret, tolerance)
            break
        except stripe.SignatureVerificationError as exc:
            failures.append(exc)
    else:
        # The SDK checks the signature before the age: "tolerance" means the secret matched.
        stale = next((exc for exc in failures if "tolerance" in str(exc)), None)
        if stale is not None:
            raise StripeWebhookRefused(
                f"The Stripe-Signature timestamp is more than {tolerance} seconds old; "
                "a replayed delivery is refused.",
                code="stripe_signature_stale",
            ) from stale
        raise StripeWebhookRefused(
            "The Stripe-Signature header does not verify with the webhook secret: "
            f"{failures[0].user_message or failures[0]}",
            code="stripe_signature_invalid",
        ) from failures[0]
    try:
        data = json.loads(text, parse_constant=_no_constants)
    except ValueError as exc:
        raise StripeWebhookRefused("The body is not JSON.", code="stripe_event_malformed") from exc
    if not isinstance(data, dict):
        raise StripeWebhookRefused("The body is not a JSON object.", code="stripe_event_malformed")
    return data


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")  # NaN and Infinity: no database stores them as JSON


def _malformed(field: str, message: str) -> StripeWebhookRefused:
    error = StripeWebhookRefused(f"{field}: {message}", code="stripe_event_malformed")
    error.extra = {"fields": {field: [message]}}
    return error


def _event_fields(data: dict[str, Any]) -> dict[str, Any]:
    """Check the parts of an event Quorum relies on; name the first field that is wrong."""
    event_id = data.get("id")
    if (
        not isinstance(event_id, str)
        or not event_id.startswith("evt_")
        or len(event_id) > EVENT_ID_MAX
    ):
        raise _malformed("id", "must be a Stripe event id (evt_...).")
    if data.get("object") != "event":
        raise _malformed("object", 'must be "event".')
    event_type = data.get("type")
    if not isinstance(event_type, str) or not event_type or len(event_type) > 100:
        raise _malformed("type", "must be the event's type, e.g. account.updated.")
    created = data.get("created")
    if not isinstance(created, int) or isinstance(created, bool) or not 0 <= created < CREATED_MAX:
        raise _malformed("created", "must be a Unix timestamp.")
    account = data.get("account") or ""
    if not isinstance(account, str) or len(account) > 255:
        raise _malformed("account", "must be a connected account id.")
    body = data.get("data")
    obj = body.get("object") if isinstance(body, dict) else None
    if not isinstance(obj, dict):
        raise _malformed("data.object", "must be the object the event is about.")
    object_id = obj.get("id")
    return {
        "id": event_id,
        "type": event_type,
        "account": account,
        "livemode": bool(data.get("livemode", False)),
        "created": datetime.fromtimestamp(created, tz=UTC),
        "object_type": str(obj.get("object") or "")[:100],
        "object_id": object_id[:255] if isinstance(object_id, str) else "",
        "payload": data,
    }


def stripe_event_receive(*, payload: bytes, signature: str | None) -> ReceivedEvent:
    """Verify a webhook delivery, store its event once, and queue its processing on commit.

    `payload` is the raw request body (verification needs the exact bytes). Raises
    StripeWebhookRefused, storing nothing, for a missing secret or signature, a signature that
    does not verify, a stale timestamp or a malformed event. A second delivery of a stored event
    returns it with `is_duplicate` and changes nothing.
    """
    fields = _event_fields(_verified_payload(payload, signature))
    now = timezone.now()
    try:
        with transaction.atomic():
            event, created = StripeEvent.objects.get_or_create(
                id=fields["id"],
                defaults={**fields, "received_at": now, "next_attempt_at": now},
            )
            if created:
                transaction.on_commit(partial(_enqueue, event.pk, 0))
    except IntegrityError:
        # The same event arrived twice at once; the other delivery stored it.
        event, created = StripeEvent.objects.get(pk=fields["id"]), False
    return ReceivedEvent(event=event, is_duplicate=not created)


def _enqueue(event_id: str, attempts: int) -> None:
    job_enqueue(STRIPE_EVENT_PROCESS_TASK, event_id, attempts)


# --- Processing -----------------------------------------------------------------------------


def _max_attempts() -> int:
    return max(1, int(getattr(settings, "STRIPE_EVENT_MAX_ATTEMPTS", 8)))


def stripe_event_retry_delay(attempts: int, *, jitter: float | None = None) -> timedelta:
    """How long to wait after `attempts` failed attempts (1 is the first failure)."""
    base = RETRY_DELAYS_SECONDS[min(max(attempts, 1), len(RETRY_DELAYS_SECONDS)) - 1]
    if jitter is None:
        # Spreading retries is not a security matter; a plain PRNG is what it needs.
        jitter = random.uniform(-RETRY_JITTER, RETRY_JITTER)  # noqa: S311
    jitter = max(-RETRY_JITTER, min(RETRY_JITTER, jitter))
    return timedelta(seconds=base * (1 + jitter))


def _event_get_for_update(event_id: str) -> StripeEvent:
    event = StripeEvent.objects.select_for_update().filter(pk=event_id).first()
    if event is None:
        raise NotFound("This Stripe event is not stored here.")
    return event


def _claim(event_id: str) -> tuple[StripeEvent, int | None]:
    """Take the next attempt of a pending, due event; None when there is nothing to do."""
    with transaction.atomic():
        event = _event_get_for_update(event_id)
        now = timezone.now()
        due = event.next_attempt_at is None or event.next_attempt_at <= now
        if event.status != StripeEventStatus.PENDING or not due:
            return event, None
        attempt = event.attempts + 1
        # Compare-and-set on the attempt count: only one caller makes attempt n+1, and holds
        # the event until it surely ended (a worker that died mid-attempt is taken over then).
        claimed = StripeEvent.objects.filter(
            pk=event.pk, status=StripeEventStatus.PENDING, attempts=event.attempts
        ).update(attempts=attempt, next_attempt_at=now + timedelta(seconds=CLAIM_HOLD_SECONDS))
        if claimed != 1:
            event.refresh_from_db()
            return event, None
        event.refresh_from_db()
        return event, attempt


def _options(event: StripeEvent) -> RequestOptions:
    return {"stripe_account": event.account} if event.account else {}


def _object_now(event: StripeEvent) -> dict[str, Any] | None:
    """Fetch, from Stripe, the object `event` is about as it is now; None if Stripe has no such
    object any more. Objects Quorum has no retrieve call for are read from the event as Stripe
    serves it (authentic, though as of the event). Raises the SDK's errors."""
    client = stripe_client()
    options = _options(event)
    kind, object_id = event.object_type, event.object_id
    fetchers: dict[str, Callable[[], Any]] = {
        "account": lambda: client.v1.accounts.retrieve(object_id, options=options),
        "transfer": lambda: client.v1.transfers.retrieve(object_id, options=options),
        "payout": lambda: client.v1.payouts.retrieve(object_id, options=options),
        "transfer_reversal": lambda: client.v1.transfers.reversals.retrieve(
            str(event.payload["data"]["object"].get("transfer", "")), object_id, options=options
        ),
        "balance": lambda: client.v1.balance.retrieve(options=options),
    }
    fetch = fetchers.get(kind) if (object_id or kind == "balance") else None
    try:
        if fetch is not None:
            return dict(fetch().to_dict())
        fetched = client.v1.events.retrieve(event.id, options=options)
        return dict(fetched.to_dict()["data"]["object"])
    except stripe.InvalidRequestError as exc:
        if exc.http_status == 404 and exc.code == "resource_missing":
            return None
        raise


def _record_failure(event_id: str, attempt: int, error: str) -> StripeEvent:
    with transaction.atomic():
        event = _event_get_for_update(event_id)
        if event.status != StripeEventStatus.PENDING or event.attempts != attempt:
            return event  # another worker took the event over; its outcome counts
        now = timezone.now()
        event.last_error = error[:ERROR_MAX_LENGTH]
        if attempt >= _max_attempts():
            event.status = StripeEventStatus.FAILED
            event.next_attempt_at = None
            logger.error(
                "Stripe event %s failed for good after %d attempts: %s", event_id, attempt, error
            )
        else:
            event.next_attempt_at = now + stripe_event_retry_delay(attempt)
            logger.warning("Stripe event %s attempt %d failed: %s", event_id, attempt, error)
        event.save(update_fields=["last_error", "status", "next_attempt_at"])
        return event


def stripe_event_process(*, event_id: str) -> StripeEvent:
    """Process a stored event once if it is pending and due; record the outcome.

    Returns the event as it is afterwards: processed; pending with `next_attempt_at` set (a retry
    is due then, or another worker's attempt is in flight); or failed (attempts ran out). Does
    nothing to an event that is finished or not due. Call it outside any transaction: Stripe is
    called between short transactions and no lock is held meanwhile. Raises NotFound when the
    event is not stored.
    """
    event, attempt = _claim(event_id)
    if attempt is None:
        return event
    handlers = stripe_event_handlers_for(event.type)
    current: dict[str, Any] | None = None
    if handlers:
        try:
            current = _object_now(event)
        except (stripe.StripeError, StripeNotConfigured) as exc:
            what = f"{event.object_type or 'object'} {event.object_id}".strip()
            message = getattr(exc, "user_message", None) or str(exc)
            return _record_failure(
                event_id,
                attempt,
                f"Could not fetch the {what} from Stripe: {type(exc).__name__}: {message}",
            )
    try:
        with transaction.atomic():
            event = _event_get_for_update(event_id)
            if event.status != StripeEventStatus.PENDING or event.attempts != attempt:
                return event
            for handler in handlers:
                handler(event=event, current=current)
            event.status = StripeEventStatus.PROCESSED
            event.processed_at = timezone.now()
            event.next_attempt_at = None
            event.last_error = ""
            event.handled_by = _handler_names(handlers)
            event.save(
                update_fields=[
                    "status",
                    "processed_at",
                    "next_attempt_at",
                    "last_error",
                    "handled_by",
                ]
            )
            return event
    except Exception as exc:
        logger.exception("Stripe event %s: a handler failed", event_id)
        return _record_failure(event_id, attempt, f"{type(exc).__name__}: {exc}")


def stripe_event_retry(*, event_id: str, actor: Any) -> StripeEvent:
    """Make a failed event (or a pending one waiting for its next attempt) due now, and queue it.

    Finance uses it after fixing what made processing fail. Raises NotFound for an unknown event
    and Conflict for a processed one. Audited.
    """
    with transaction.atomic():
        event = _event_get_for_update(event_id)
        if event.status == StripeEventStatus.PROCESSED:
            raise Conflict("This Stripe event is already processed.")
        before = snapshot(event, ["status", "attempts", "next_attempt_at", "last_error"])
        event.status = StripeEventStatus.PENDING
        # Past the automatic attempts, a deliberate retry is one more attempt: a failure fails
        # the event again at once, for finance to look at.
        event.next_attempt_at = timezone.now()
        event.save(update_fields=["status", "next_attempt_at"])
        audit_record(
            actor=actor,
            action="stripe_event.retry",
            target=event,
            before=before,
            after=snapshot(event, ["status", "attempts", "next_attempt_at", "last_error"]),
        )
        transaction.on_commit(partial(_enqueue, event.pk, event.attempts))
        return event
