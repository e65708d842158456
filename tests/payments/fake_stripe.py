"""A local fake of the Stripe API, over real HTTP, for the official SDK to talk to.

Quorum's code calls Stripe only through `payments.stripe_client.stripe_client()`; pointing
STRIPE_API_BASE at this server runs the real SDK (its form encoding, headers, retries, error
classes) against a server that behaves like Stripe where payouts depend on it:

- requests in as `application/x-www-form-urlencoded` (GET parameters in the query string) with
  Stripe's bracket notation (`metadata[item]=7`, `capabilities[transfers][requested]=true`,
  `expand[0]=...`); answers in JSON; errors as `{"error": {"type", "code", "message", "param"}}`
  with Stripe's HTTP status (400 invalid request, 401 bad key, 402 declined, 404 missing, 409 a
  concurrent request with the same idempotency key, 500 server error); unknown parameters refused;
- `Authorization: Bearer <key>` (or Basic, as `curl -u` sends it) checked; `Stripe-Account`
  scopes events, balances and payouts to a connected account;
- idempotency: a POST's `Idempotency-Key` (per connected account) stores the answer of a request
  that was executed; the same key and the same parameters replay it with `Idempotent-Replayed:
  true`, other parameters are refused with 400 `idempotency_error`;
- accounts (create, retrieve, update), account links (with a hosted "onboarding" page that
  completes onboarding and redirects to the return URL), transfers (create, retrieve, list by
  transfer group or destination with `has_more`/`starting_after`), transfer reversals (refused
  when the connected account's balance cannot cover them, as Stripe refuses them), balance (with
  an injectable available amount), payouts of connected accounts (made and failed by the test;
  an automatic payout carries every balance transaction of the account not paid out yet), the
  connected accounts' balance transactions (a transfer's destination payment `py_...`, a
  reversal's refund, a payout and its failure; listed by `payout`, `type` or `source`, with
  `expand[]=data.source` showing the destination payment and its `source_transfer`), events
  (retrieve, list), each state change announced as an event;
- faults injected per method and path (`inject`): the next N calls answer 500, answer a given
  error (402, 400...), wait before answering, or do the work and then never answer (a timeout) or
  drop the connection; a request log (`requests`) for assertions;
- a webhook signer (`webhook_signature_header`, Stripe's scheme) and `deliver`, which posts an
  event to a URL over HTTP as Stripe does (or automatically, with `auto_deliver_to`).

Run it alone for a local Quorum: `python -m tests.payments.fake_stripe --port 12111 --webhook-url
http://127.0.0.1:8000/api/v1/stripe/webhook/ --webhook-secret whsec_local` (docs/payouts-stripe.md).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import fnmatch
import hashlib
import hmac
import json
import queue
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import requests

DEFAULT_API_KEY = "sk_test_fake_quorum"
API_VERSION = "2025-01-27.acacia"
DEFAULT_HOLD_SECONDS = 5.0


class StripeFault(Exception):
    """An error answer: raised inside a handler, rendered in Stripe's error shape."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        executed: bool = False,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body: dict[str, Any] = {"error": {"type": type, "message": message}}
        if code is not None:
            self.body["error"]["code"] = code
        if param is not None:
            self.body["error"]["param"] = param
        # Stripe keeps the answer under the idempotency key only once the endpoint started
        # executing (a declined transfer), not for a request that failed validation.
        self.executed = executed


def missing(kind: str, object_id: str, param: str = "id") -> StripeFault:
    return StripeFault(404, f"No such {kind}: '{object_id}'", code="resource_missing", param=param)


# --- Form decoding ----------------------------------------------------------------------------

_KEY_PART = re.compile(r"\[([^\]]*)\]")


def _listify(value: Any) -> Any:
    if isinstance(value, dict):
        converted = {k: _listify(v) for k, v in value.items()}
        if converted and all(k.isdigit() for k in converted):
            return [converted[k] for k in sorted(converted, key=int)]
        return converted
    return value


def decode_form(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Turn Stripe's bracket notation into nested dicts, and indexed keys into lists."""
    result: dict[str, Any] = {}
    for raw_key, value in pairs:
        head, _, rest = raw_key.partition("[")
        parts = [head] + (_KEY_PART.findall("[" + rest) if rest else [])
        node = result
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise StripeFault(400, f"Invalid parameter structure: {raw_key}", param=head)
            node = child
        node[parts[-1]] = value
    return _listify(result)


def as_int(params: dict[str, Any], name: str, *, required: bool = False) -> int | None:
    value = params.get(name)
    if value is None or value == "":
        if required:
            raise StripeFault(
                400, f"Missing required param: {name}.", code="parameter_missing", param=name
            )
        return None
    if not isinstance(value, str) or not re.fullmatch(r"-?\d+", value):
        raise StripeFault(
            400, f"Invalid integer: {value}", code="parameter_invalid_integer", param=name
        )
    return int(value)


def as_str(params: dict[str, Any], name: str, *, required: bool = False) -> str | None:
    value = params.get(name)
    if value is None or value == "":
        if required:
            raise StripeFault(
                400, f"Missing required param: {name}.", code="parameter_missing", param=name
            )
        return None
    if not isinstance(value, str):
        raise StripeFault(
            400, f"Invalid string: {name}", code="parameter_invalid_string", param=name
        )
    return value


def only(params: dict[str, Any], allowed: set[str]) -> None:
    for name in params:
        if name not in allowed | {"expand"}:
            raise StripeFault(
                400, f"Received unknown parameter: {name}", code="parameter_unknown", param=name
            )


def metadata_of(params: dict[str, Any], current: dict[str, str] | None = None) -> dict[str, str]:
    """Merge `metadata` into `current`: an empty value removes the key, as Stripe does."""
    merged = dict(current or {})
    given = params.get("metadata")
    if given in (None, ""):
        return {} if given == "" else merged
    if not isinstance(given, dict):
        raise StripeFault(400, "Invalid metadata: must be an object", param="metadata")
    for key, value in given.items():
        if value == "":
            merged.pop(key, None)
        else:
            merged[key] = str(value)
    return merged


# --- Faults, the log ------------------------------------------------------------------------


@dataclass
class Fault:
    """What the next `remaining` requests matching `pattern` ("POST /v1/transfers*") get."""

    pattern: str
    mode: str  # "500" | "error" | "delay" | "timeout" | "disconnect"
    remaining: int
    status: int = 500
    error: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0


@dataclass(frozen=True)
class LoggedRequest:
    method: str
    path: str
    params: dict[str, Any]
    stripe_account: str | None
    idempotency_key: str | None
    status: int | None  # None: no answer was sent (timeout, dropped connection)
    replayed: bool
    fault: str | None


@dataclass
class _Stored:
    method: str
    path: str
    params: dict[str, Any]
    status: int
    body: dict[str, Any]


@dataclass
class _Answer:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)
    # After the work: "timeout" holds the connection and never answers; "disconnect" drops it.
    after: str | None = None
    hold_seconds: float = 0.0
    redirect: str | None = None


Route = tuple[str, re.Pattern[str], Callable[..., dict[str, Any]]]


class FakeStripe:
    """The fake's state and behaviour; `start()` serves it on 127.0.0.1 and a free port."""

    def __init__(self, api_key: str = DEFAULT_API_KEY, port: int = 0) -> None:
        self.api_key = api_key
        self._port = port
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._counter = 0
        self.accounts: dict[str, dict[str, Any]] = {}
        self.transfers: dict[str, dict[str, Any]] = {}
        self.reversals: dict[str, dict[str, Any]] = {}
        self.payouts: dict[str, dict[str, Any]] = {}
        # Connected accounts' side: balance transactions and destination payments (py_...).
        self.balance_transactions: dict[str, dict[str, Any]] = {}
        self.payments: dict[str, dict[str, Any]] = {}
        self.events: dict[str, dict[str, Any]] = {}
        self.available: dict[str, int] = {}
        self._links: dict[str, dict[str, Any]] = {}
        self._idempotent: dict[tuple[str, str], _Stored] = {}
        self._in_flight: set[tuple[str, str]] = set()
        self._faults: list[Fault] = []
        self._log: list[LoggedRequest] = []
        self._deliveries: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._deliver_url: str | None = None
        self._deliver_secret: str | None = None
        self._deliver_thread: threading.Thread | None = None
        self._routes: list[Route] = [
            ("POST", re.compile(r"^/v1/accounts$"), self._account_create),
            ("GET", re.compile(r"^/v1/accounts/(?P<id>[^/]+)$"), self._account_retrieve),
            ("POST", re.compile(r"^/v1/accounts/(?P<id>[^/]+)$"), self._account_update),
            ("POST", re.compile(r"^/v1/account_links$"), self._account_link_create),
            ("POST", re.compile(r"^/v1/transfers$"), self._transfer_create),
            ("GET", re.compile(r"^/v1/transfers$"), self._transfer_list),
            ("GET", re.compile(r"^/v1/transfers/(?P<id>[^/]+)$"), self._transfer_retrieve),
            (
                "POST",
                re.compile(r"^/v1/transfers/(?P<id>[^/]+)/reversals$"),
                self._reversal_create,
            ),
            (
                "GET",
                re.compile(r"^/v1/transfers/(?P<id>[^/]+)/reversals$"),
                self._reversal_list,
            ),
            (
                "GET",
                re.compile(r"^/v1/transfers/(?P<id>[^/]+)/reversals/(?P<rid>[^/]+)$"),
                self._reversal_retrieve,
            ),
            ("GET", re.compile(r"^/v1/balance$"), self._balance_retrieve),
            ("GET", re.compile(r"^/v1/payouts/(?P<id>[^/]+)$"), self._payout_retrieve),
            ("GET", re.compile(r"^/v1/balance_transactions$"), self._balance_transaction_list),
            ("GET", re.compile(r"^/v1/events$"), self._event_list),
            ("GET", re.compile(r"^/v1/events/(?P<id>[^/]+)$"), self._event_retrieve),
        ]

    # --- Serving ----------------------------------------------------------------------------

    @property
    def url(self) -> str:
        assert self._server is not None, "start() the fake first"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> FakeStripe:
        fake = self

        class Handler(_Handler):
            stripe = fake

        self._server = ThreadingHTTPServer(("127.0.0.1", self._port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="fake-stripe", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, release held connections and the delivery thread, close the socket."""
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._deliver_thread is not None:
            self._deliveries.put(None)
            self._deliver_thread.join(timeout=5)
        self._server = self._thread = self._deliver_thread = None

    def reset(self) -> None:
        """Forget every object, key, fault and logged request (between tests)."""
        with self._lock:
            for store in (
                self.accounts,
                self.transfers,
                self.reversals,
                self.payouts,
                self.events,
                self.balance_transactions,
                self.payments,
            ):
                store.clear()
            self.available.clear()
            self._links.clear()
            self._idempotent.clear()
            self._in_flight.clear()
            self._faults.clear()
            self._log.clear()

    # --- For tests: faults, the log, state --------------------------------------------------

    def inject(
        self,
        pattern: str,
        mode: str = "500",
        *,
        times: int = 1,
        status: int | None = None,
        error: dict[str, Any] | None = None,
        seconds: float | None = None,
    ) -> None:
        """Make the next `times` requests matching `pattern` ("METHOD /path", globs allowed) fail.

        Modes: "500" answers 500 without doing the work; "error" answers `status` (400, 402...)
        with `error` (type, code, message, param) without doing the work; "delay" waits
        `seconds` and then answers normally; "timeout" does the work (kept under the request's
        idempotency key) and then holds the connection for `seconds` without answering;
        "disconnect" does the work and drops the connection.
        """
        if mode not in {"500", "error", "delay", "timeout", "disconnect"}:
            raise ValueError(f"unknown fault mode {mode!r}")
        default_status = {"500": 500, "error": 400}.get(mode, 200)
        with self._lock:
            self._faults.append(
                Fault(
                    pattern=pattern,
                    mode=mode,
                    remaining=times,
                    status=status or default_status,
                    error=dict(error or {}),
                    seconds=seconds if seconds is not None else DEFAULT_HOLD_SECONDS,
                )
            )

    def requests(self, method: str | None = None, path: str | None = None) -> list[LoggedRequest]:
        """The requests answered so far (or left unanswered), oldest first, optionally filtered."""
        with self._lock:
            return [
                r
                for r in self._log
                if (method is None or r.method == method)
                and (path is None or fnmatch.fnmatchcase(r.path, path))
            ]

    def balance_set(self, currency: str, amount: int) -> None:
        """Set the platform's available balance in `currency` (minor units)."""
        with self._lock:
            self.available[currency.lower()] = amount

    def account_set(self, account_id: str, **changes: Any) -> dict[str, Any]:
        """Change a connected account as Stripe would (e.g. `payouts_enabled=True`,
        `capabilities={"transfers": "active"}`, `requirements={...}`); announce and return the
        `account.updated` event."""
        with self._lock:
            account = self.accounts[account_id]
            previous = {name: account.get(name) for name in changes}
            for name, value in changes.items():
                if isinstance(value, dict) and isinstance(account.get(name), dict):
                    account[name] = {**account[name], **value}
                else:
                    account[name] = value
            return self.event_create(
                "account.updated", account, account=account_id, previous=previous
            )

    def account_complete_onboarding(self, account_id: str) -> dict[str, Any]:
        """What the person finishing Stripe's hosted onboarding does to their account."""
        return self.account_set(
            account_id,
            details_submitted=True,
            payouts_enabled=True,
            capabilities={"transfers": "active"},
            requirements=_requirements([]),
        )

    def payout_create(
        self,
        account_id: str,
        amount: int | None = None,
        currency: str = "usd",
        status: str = "in_transit",
        *,
        automatic: bool = True,
    ) -> dict[str, Any]:
        """A payout of a connected account to their bank (Stripe makes these on its schedule).

        An automatic payout carries every balance transaction of the account in `currency` that
        no payout carried yet (its amount is their sum unless `amount` is given); a manual one
        (`automatic=False`) carries none that Stripe could name, as with Stripe.
        """
        currency = currency.lower()
        with self._lock:
            payout_id = self._id("po")
            carried = [
                txn
                for txn in self.balance_transactions.values()
                if txn["_account"] == account_id
                and txn["currency"] == currency
                and txn["_payout"] is None
                and txn["type"] not in {"payout", "payout_failure"}
            ]
            if automatic:
                for txn in carried:
                    txn["_payout"] = payout_id
            if amount is None:
                amount = sum(txn["amount"] for txn in carried) if automatic else 0
            payout: dict[str, Any] = {
                "id": payout_id,
                "object": "payout",
                "amount": amount,
                "automatic": automatic,
                "currency": currency,
                "arrival_date": int(time.time()) + 2 * 86400,
                "created": int(time.time()),
                "status": status,
                "failure_balance_transaction": None,
                "failure_code": None,
                "failure_message": None,
                "metadata": {},
                "_account": account_id,
            }
            payout["balance_transaction"] = self._balance_transaction_add(
                account_id, "payout", -amount, currency, payout_id, payout=payout_id
            )
            self.payouts[payout_id] = payout
            self.event_create("payout.created", payout, account=account_id)
            return _public(payout)

    def payout_fail(self, payout_id: str, code: str, message: str) -> dict[str, Any]:
        """Fail a connected account's payout; announce and return the `payout.failed` event.

        As with Stripe, the amount comes back to the account's balance (a `payout_failure`
        balance transaction), where a transfer reversal can take it back."""
        with self._lock:
            payout = self.payouts[payout_id]
            payout.update(status="failed", failure_code=code, failure_message=message)
            payout["failure_balance_transaction"] = self._balance_transaction_add(
                payout["_account"],
                "payout_failure",
                payout["amount"],
                payout["currency"],
                payout_id,
            )
            return self.event_create("payout.failed", payout, account=payout["_account"])

    def _balance_transaction_add(
        self,
        account_id: str,
        type: str,
        amount: int,
        currency: str,
        source: str,
        *,
        payout: str | None = None,
    ) -> str:
        """Record a balance transaction on a connected account; return its id."""
        now = int(time.time())
        txn_id = self._id("txn")
        txn: dict[str, Any] = {
            "id": txn_id,
            "object": "balance_transaction",
            "amount": amount,
            "available_on": now,
            "created": now,
            "currency": currency,
            "description": None,
            "fee": 0,
            "fee_details": [],
            "net": amount,
            "reporting_category": {
                "payment": "charge",
                "payment_refund": "refund",
                "payout": "payout",
                "payout_failure": "payout_reversal",
            }.get(type, type),
            "source": source,
            "status": "available",
            "type": type,
            "_account": account_id,
            "_payout": payout,
        }
        self.balance_transactions[txn_id] = txn
        return txn_id

    def _connected_available(self, account_id: str, currency: str) -> int:
        """What a connected account holds in `currency`: the sum of its balance transactions."""
        return sum(
            txn["amount"]
            for txn in self.balance_transactions.values()
            if txn["_account"] == account_id and txn["currency"] == currency
        )

    def event_create(
        self,
        type: str,
        obj: dict[str, Any],
        *,
        account: str | None = None,
        previous: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Record an event with a snapshot of `obj` now, queue it for delivery, and return it."""
        with self._lock:
            event: dict[str, Any] = {
                "id": self._id("evt"),
                "object": "event",
                "api_version": API_VERSION,
                "created": int(time.time()),
                "data": {"object": json.loads(json.dumps(_public(obj)))},
                "livemode": False,
                "pending_webhooks": 1,
                "request": {"id": None, "idempotency_key": None},
                "type": type,
            }
            if previous is not None:
                event["data"]["previous_attributes"] = json.loads(json.dumps(previous))
            if account is not None:
                event["account"] = account
            self.events[event["id"]] = event
            if self._deliver_url is not None:
                self._deliveries.put(event)
            return event

    # --- Webhooks -----------------------------------------------------------------------------

    def auto_deliver_to(self, url: str | None, secret: str | None) -> None:
        """Post every event created from now on to `url`, signed with `secret`, in the background
        (in the order they were created); `None` stops it."""
        self._deliver_url, self._deliver_secret = url, secret
        if url is not None and self._deliver_thread is None:
            self._deliver_thread = threading.Thread(
                target=self._deliver_loop, name="fake-stripe-webhooks", daemon=True
            )
            self._deliver_thread.start()

    def _deliver_loop(self) -> None:
        while True:
            event = self._deliveries.get()
            if event is None or self._stopping.is_set():
                return
            # Stripe would retry a failed delivery later; the local fake simply moves on.
            with contextlib.suppress(requests.RequestException):
                deliver(event, self._deliver_url or "", self._deliver_secret or "")

    # --- Internals ------------------------------------------------------------------------

    def _id(self, prefix: str) -> str:
        with self._lock:
            self._counter += 1
            # A sortable counter, then randomness: ids are unique across resets of the fake.
            return f"{prefix}_{self._counter:08d}{secrets.token_hex(6)}"

    def _fault_for(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.remaining > 0 and fnmatch.fnmatchcase(f"{method} {path}", fault.pattern):
                    fault.remaining -= 1
                    return fault
            return None

    def _log_request(self, entry: LoggedRequest) -> None:
        with self._lock:
            self._log.append(entry)

    def handle(self, method: str, raw_path: str, body: bytes, headers: dict[str, str]) -> _Answer:
        """Answer one request (called by the HTTP handler's thread)."""
        parts = urlsplit(raw_path)
        path = parts.path
        request_id = f"req_{secrets.token_hex(7)}"
        account = headers.get("stripe-account") or None
        key = headers.get("idempotency-key") or None
        answer_headers = {"Request-Id": request_id, "Stripe-Version": API_VERSION}

        def log(
            status: int | None,
            params: dict[str, Any],
            replayed: bool = False,
            fault: str | None = None,
        ) -> None:
            self._log_request(
                LoggedRequest(method, path, params, account, key, status, replayed, fault)
            )

        if method == "GET" and path.startswith("/fake/onboarding/"):
            return self._onboarding_page(path.rsplit("/", 1)[-1])
        try:
            form = body.decode() if method == "POST" else parts.query
            params = decode_form(parse_qsl(form, keep_blank_values=True))
        except (UnicodeDecodeError, StripeFault):
            log(400, {})
            return _Answer(400, StripeFault(400, "Invalid request body.").body, answer_headers)
        if not self._authorized(headers.get("authorization", "")):
            log(401, params)
            given = headers.get("authorization", "").removeprefix("Bearer ").strip()
            message = (
                f"Invalid API Key provided: {given[:8]}****{given[-4:]}"
                if given
                else "You did not provide an API key. Provide it as a bearer token (Authorization: Bearer sk_...)."
            )
            return _Answer(401, StripeFault(401, message).body, answer_headers)

        fault = self._fault_for(method, path)
        if fault is not None and fault.mode == "500":
            log(500, params, fault=fault.mode)
            body_500 = {
                "error": {
                    "type": "api_error",
                    "message": "An unknown error occurred (injected by the fake).",
                }
            }
            return _Answer(500, body_500, answer_headers)
        if fault is not None and fault.mode == "error":
            error = {"type": "invalid_request_error", "message": "Injected error.", **fault.error}
            log(fault.status, params, fault=fault.mode)
            return _Answer(fault.status, {"error": error}, answer_headers)
        if fault is not None and fault.mode == "delay":
            self._stopping.wait(fault.seconds)

        scope = (account or "", key or "")
        if method == "POST" and key:
            answer_headers["Idempotency-Key"] = key
            with self._lock:
                stored = self._idempotent.get(scope)
                if stored is None and scope in self._in_flight:
                    log(409, params)
                    conflict = StripeFault(
                        409,
                        "There is currently another in-progress request using this idempotency key; try again later.",
                        type="idempotency_error",
                    )
                    return _Answer(409, conflict.body, answer_headers)
                if stored is None:
                    self._in_flight.add(scope)
            if stored is not None:
                if (stored.method, stored.path, stored.params) != (method, path, params):
                    log(400, params)
                    refused = StripeFault(
                        400,
                        "Keys for idempotent requests can only be used with the same parameters "
                        "they were first used with. Try using a key other than "
                        f"'{key}' if you meant to execute a different request.",
                        type="idempotency_error",
                    )
                    return _Answer(400, refused.body, answer_headers)
                log(stored.status, params, replayed=True)
                return _Answer(
                    stored.status, stored.body, {**answer_headers, "Idempotent-Replayed": "true"}
                )
        try:
            status, result, executed = 200, self._route(method, path, params, account), True
        except StripeFault as exc:
            status, result, executed = exc.status, exc.body, exc.executed
        finally:
            if method == "POST" and key:
                with self._lock:
                    self._in_flight.discard(scope)
        if method == "POST" and key and executed:
            with self._lock:
                self._idempotent[scope] = _Stored(method, path, params, status, result)
        if fault is not None and fault.mode in {"timeout", "disconnect"}:
            log(None, params, fault=fault.mode)
            return _Answer(
                status, result, answer_headers, after=fault.mode, hold_seconds=fault.seconds
            )
        log(status, params, fault=fault.mode if fault else None)
        return _Answer(status, result, answer_headers)

    def _authorized(self, header: str) -> bool:
        scheme, _, token = header.partition(" ")
        if scheme == "Basic":  # `curl -u sk_test_...:`, which Stripe accepts too
            try:
                token = base64.b64decode(token.strip()).decode().partition(":")[0]
            except (ValueError, UnicodeDecodeError):
                return False
        elif scheme != "Bearer":
            return False
        return hmac.compare_digest(token.strip(), self.api_key)

    def _route(
        self, method: str, path: str, params: dict[str, Any], account: str | None
    ) -> dict[str, Any]:
        for route_method, pattern, handler in self._routes:
            match = pattern.match(path)
            if match and route_method == method:
                with self._lock:
                    return handler(params, account, **match.groupdict())
        raise StripeFault(404, f"Unrecognized request URL ({method}: {path}).")

    def _list(
        self, items: list[dict[str, Any]], params: dict[str, Any], url: str, extra: set[str]
    ) -> dict[str, Any]:
        only(params, {"limit", "starting_after", "ending_before"} | extra)
        limit = as_int(params, "limit") or 10
        if not 1 <= limit <= 100:
            raise StripeFault(400, "Invalid limit: must be between 1 and 100", param="limit")
        newest_first = list(reversed(items))
        after = as_str(params, "starting_after")
        if after is not None:
            ids = [item["id"] for item in newest_first]
            if after not in ids:
                raise missing("object", after, "starting_after")
            newest_first = newest_first[ids.index(after) + 1 :]
        page = newest_first[:limit]
        return {
            "object": "list",
            "data": [_public(item) for item in page],
            "has_more": len(newest_first) > limit,
            "url": url,
        }

    # --- Resources --------------------------------------------------------------------------

    def _account_create(self, params: dict[str, Any], account: str | None) -> dict[str, Any]:
        only(
            params,
            {
                "type",
                "country",
                "email",
                "capabilities",
                "metadata",
                "business_type",
                "business_profile",
                "default_currency",
                "controller",
                "settings",
                "tos_acceptance",
                "individual",
            },
        )
        kind = as_str(params, "type") or "express"
        if kind not in {"express", "custom", "standard"}:
            raise StripeFault(
                400, "Invalid type: must be one of express, custom or standard", param="type"
            )
        country = as_str(params, "country") or "US"
        requested = params.get("capabilities") or {}
        if not isinstance(requested, dict):
            raise StripeFault(400, "Invalid capabilities: must be an object", param="capabilities")
        created: dict[str, Any] = {
            "id": self._id("acct"),
            "object": "account",
            "type": kind,
            "country": country,
            "email": as_str(params, "email"),
            "default_currency": (as_str(params, "default_currency") or "usd").lower(),
            "business_type": as_str(params, "business_type"),
            "charges_enabled": False,
            "payouts_enabled": False,
            "details_submitted": False,
            "capabilities": {
                name: "inactive"
                for name, value in requested.items()
                if isinstance(value, dict) and value.get("requested") == "true"
            },
            "requirements": _requirements(
                ["external_account", "individual.dob.day", "tos_acceptance.date"]
            ),
            "metadata": metadata_of(params),
            "created": int(time.time()),
        }
        self.accounts[created["id"]] = created
        return _public(created)

    def _account_retrieve(
        self, params: dict[str, Any], account: str | None, id: str
    ) -> dict[str, Any]:
        only(params, set())
        if id not in self.accounts or (account is not None and account != id):
            raise missing("account", id, "account")
        return _public(self.accounts[id])

    def _account_update(
        self, params: dict[str, Any], account: str | None, id: str
    ) -> dict[str, Any]:
        only(
            params,
            {
                "metadata",
                "email",
                "business_profile",
                "settings",
                "default_currency",
                "individual",
                "tos_acceptance",
                "capabilities",
            },
        )
        if id not in self.accounts:
            raise missing("account", id, "account")
        current = self.accounts[id]
        previous: dict[str, Any] = {}
        if "metadata" in params:
            previous["metadata"] = current["metadata"]
            current["metadata"] = metadata_of(params, current["metadata"])
        if "email" in params:
            previous["email"] = current["email"]
            current["email"] = as_str(params, "email")
        if isinstance(params.get("capabilities"), dict):
            previous["capabilities"] = dict(current["capabilities"])
            for name, value in params["capabilities"].items():
                if isinstance(value, dict) and value.get("requested") == "true":
                    current["capabilities"].setdefault(name, "inactive")
        if previous:
            self.event_create("account.updated", current, account=id, previous=previous)
        return _public(current)

    def _account_link_create(self, params: dict[str, Any], account: str | None) -> dict[str, Any]:
        only(
            params,
            {"account", "refresh_url", "return_url", "type", "collect", "collection_options"},
        )
        account_id = as_str(params, "account", required=True) or ""
        if account_id not in self.accounts:
            raise missing("account", account_id, "account")
        link_type = as_str(params, "type", required=True)
        if link_type not in {"account_onboarding", "account_update"}:
            raise StripeFault(
                400, "Invalid type: must be account_onboarding or account_update", param="type"
            )
        return_url = as_str(params, "return_url", required=True) or ""
        refresh_url = as_str(params, "refresh_url", required=True) or ""
        token = secrets.token_urlsafe(16)
        now = int(time.time())
        self._links[token] = {
            "account": account_id,
            "return_url": return_url,
            "refresh_url": refresh_url,
            "expires_at": now + 300,
        }
        return {
            "object": "account_link",
            "created": now,
            "expires_at": now + 300,
            "url": f"{self.url}/fake/onboarding/{token}",
        }

    def _onboarding_page(self, token: str) -> _Answer:
        with self._lock:
            link = self._links.pop(token, None)
        if link is None:
            return _Answer(
                404,
                {
                    "error": {
                        "type": "invalid_request_error",
                        "message": "This onboarding link is used or unknown.",
                    }
                },
            )
        if link["expires_at"] < time.time():
            return _Answer(302, {}, redirect=link["refresh_url"])
        self.account_complete_onboarding(link["account"])
        return _Answer(302, {}, redirect=link["return_url"])

    def _transfer_create(self, params: dict[str, Any], account: str | None) -> dict[str, Any]:
        only(
            params,
            {
                "amount",
                "currency",
                "destination",
                "transfer_group",
                "metadata",
                "description",
                "source_transaction",
                "source_type",
            },
        )
        amount = as_int(params, "amount", required=True) or 0
        if amount < 1:
            raise StripeFault(
                400, "Invalid positive integer", code="parameter_invalid_integer", param="amount"
            )
        currency = (as_str(params, "currency", required=True) or "").lower()
        if not re.fullmatch(r"[a-z]{3}", currency):
            raise StripeFault(
                400,
                f"Invalid currency: {currency}",
                code="parameter_invalid_string",
                param="currency",
            )
        destination = as_str(params, "destination", required=True) or ""
        if destination not in self.accounts:
            raise missing("account", destination, "destination")
        if self.accounts[destination]["capabilities"].get("transfers") != "active":
            raise StripeFault(
                400,
                "Your destination account needs to have at least one of the following "
                "capabilities enabled: transfers, crypto_transfers, legacy_payments",
                code="insufficient_capabilities_for_transfer",
                param="destination",
                executed=True,
            )
        if self.available.get(currency, 0) < amount:
            raise StripeFault(
                400,
                "You have insufficient available funds in your Stripe account. Try adding funds "
                "directly to your available balance by creating Charges using the "
                "4000000000000077 test card.",
                code="balance_insufficient",
                executed=True,
            )
        self.available[currency] -= amount
        transfer_id = self._id("tr")
        payment_id = self._id("py")
        # The connected account's side: a destination payment, whose balance transaction is
        # what an automatic payout of theirs carries.
        self.payments[payment_id] = {
            "id": payment_id,
            "object": "charge",
            "amount": amount,
            "amount_refunded": 0,
            "currency": currency,
            "paid": True,
            "source_transfer": transfer_id,
            "status": "succeeded",
            "balance_transaction": self._balance_transaction_add(
                destination, "payment", amount, currency, payment_id
            ),
            "_account": destination,
        }
        transfer = {
            "id": transfer_id,
            "object": "transfer",
            "amount": amount,
            "amount_reversed": 0,
            "balance_transaction": self._id("txn"),
            "created": int(time.time()),
            "currency": currency,
            "description": as_str(params, "description"),
            "destination": destination,
            "destination_payment": payment_id,
            "livemode": False,
            "metadata": metadata_of(params),
            "reversals": {
                "object": "list",
                "data": [],
                "has_more": False,
                "total_count": 0,
                "url": f"/v1/transfers/{transfer_id}/reversals",
            },
            "reversed": False,
            "source_transaction": None,
            "source_type": "card",
            "transfer_group": as_str(params, "transfer_group"),
        }
        self.transfers[transfer_id] = transfer
        self.event_create("transfer.created", transfer)
        return _public(transfer)

    def _transfer_retrieve(
        self, params: dict[str, Any], account: str | None, id: str
    ) -> dict[str, Any]:
        only(params, set())
        if id not in self.transfers or account is not None:
            raise missing("transfer", id)
        return _public(self.transfers[id])

    def _transfer_list(self, params: dict[str, Any], account: str | None) -> dict[str, Any]:
        items = [] if account is not None else list(self.transfers.values())
        group, destination = as_str(params, "transfer_group"), as_str(params, "destination")
        items = [
            t
            for t in items
            if (group is None or t["transfer_group"] == group)
            and (destination is None or t["destination"] == destination)
        ]
        return self._list(
            items, params, "/v1/transfers", {"transfer_group", "destination", "created"}
        )

    def _reversal_create(
        self, params: dict[str, Any], account: str | None, id: str
    ) -> dict[str, Any]:
        only(params, {"amount", "metadata", "description", "refund_application_fee"})
        if id not in self.transfers:
            raise missing("transfer", id)
        transfer = self.transfers[id]
        remaining = transfer["amount"] - transfer["amount_reversed"]
        amount = as_int(params, "amount")
        amount = remaining if amount is None else amount
        if amount < 1 or amount > remaining:
            raise StripeFault(
                400,
                f"Transfer {id} has only {remaining} left to reverse; {amount} was asked.",
                code="amount_too_large" if amount > remaining else "parameter_invalid_integer",
                param="amount",
            )
        destination, currency = transfer["destination"], transfer["currency"]
        if self._connected_available(destination, currency) < amount:
            # Stripe reverses a transfer only while the destination's balance covers it.
            raise StripeFault(
                400,
                f"Insufficient funds in the destination account {destination} to reverse "
                f"{amount} of transfer {id}.",
                code="balance_insufficient",
                param="amount",
                executed=True,
            )
        refund_id = self._id("pyr")
        self.payments[transfer["destination_payment"]]["amount_refunded"] += amount
        self._balance_transaction_add(destination, "payment_refund", -amount, currency, refund_id)
        reversal = {
            "id": self._id("trr"),
            "object": "transfer_reversal",
            "amount": amount,
            "balance_transaction": self._id("txn"),
            "created": int(time.time()),
            "currency": currency,
            "destination_payment_refund": refund_id,
            "metadata": metadata_of(params),
            "transfer": id,
        }
        self.reversals[reversal["id"]] = reversal
        transfer["amount_reversed"] += amount
        transfer["reversed"] = transfer["amount_reversed"] == transfer["amount"]
        transfer["reversals"]["data"].insert(0, _public(reversal))
        transfer["reversals"]["total_count"] += 1
        self.available[transfer["currency"]] = self.available.get(transfer["currency"], 0) + amount
        self.event_create("transfer.reversed", transfer)
        return _public(reversal)

    def _reversal_list(
        self, params: dict[str, Any], account: str | None, id: str
    ) -> dict[str, Any]:
        if id not in self.transfers:
            raise missing("transfer", id)
        items = [r for r in self.reversals.values() if r["transfer"] == id]
        return self._list(items, params, f"/v1/transfers/{id}/reversals", set())

    def _reversal_retrieve(
        self, params: dict[str, Any], account: str | None, id: str, rid: str
    ) -> dict[str, Any]:
        only(params, set())
        reversal = self.reversals.get(rid)
        if reversal is None or reversal["transfer"] != id:
            raise missing("transfer_reversal", rid)
        return _public(reversal)

    def _balance_retrieve(self, params: dict[str, Any], account: str | None) -> dict[str, Any]:
        only(params, set())
        if account is None:
            amounts = dict(self.available)
        else:
            if account not in self.accounts:
                raise StripeFault(
                    403,
                    f"The provided key does not have access to account '{account}'.",
                    type="invalid_request_error",
                )
            amounts = {}
            for txn in self.balance_transactions.values():
                if txn["_account"] == account:
                    amounts[txn["currency"]] = amounts.get(txn["currency"], 0) + txn["amount"]
        currencies = sorted(amounts) or ["usd"]
        return {
            "object": "balance",
            "available": [
                {
                    "amount": amounts.get(c, 0),
                    "currency": c,
                    "source_types": {"card": amounts.get(c, 0)},
                }
                for c in currencies
            ],
            "pending": [
                {"amount": 0, "currency": c, "source_types": {"card": 0}} for c in currencies
            ],
            "livemode": False,
        }

    def _payout_retrieve(
        self, params: dict[str, Any], account: str | None, id: str
    ) -> dict[str, Any]:
        only(params, set())
        payout = self.payouts.get(id)
        if payout is None or payout["_account"] != account:
            raise missing("payout", id)
        return _public(payout)

    def _balance_transaction_list(
        self, params: dict[str, Any], account: str | None
    ) -> dict[str, Any]:
        payout_id, wanted, source = (
            as_str(params, "payout"),
            as_str(params, "type"),
            as_str(params, "source"),
        )
        if payout_id is not None:
            payout = self.payouts.get(payout_id)
            if payout is None or payout["_account"] != account:
                raise missing("payout", payout_id, "payout")
            if not payout["automatic"]:
                raise StripeFault(
                    400,
                    "Balance transaction history can only be filtered on automatic transfers, "
                    "not manual.",
                    param="payout",
                )
        # The platform's own balance transactions are not kept by the fake.
        items = [
            txn
            for txn in self.balance_transactions.values()
            if account is not None
            and txn["_account"] == account
            and (payout_id is None or txn["_payout"] == payout_id)
            and (wanted is None or txn["type"] == wanted)
            and (source is None or txn["source"] == source)
        ]
        page = self._list(
            items,
            params,
            "/v1/balance_transactions",
            {"payout", "type", "source", "currency", "created"},
        )
        expand = params.get("expand") or []
        if "data.source" in (expand if isinstance(expand, list) else [expand]):
            for txn in page["data"]:
                if txn["source"] in self.payments:
                    txn["source"] = _public(self.payments[txn["source"]])
        return page

    def _event_retrieve(
        self, params: dict[str, Any], account: str | None, id: str
    ) -> dict[str, Any]:
        only(params, set())
        event = self.events.get(id)
        # A connected account's events are read with its Stripe-Account header, the platform's without.
        if event is None or event.get("account") != account:
            raise missing("event", id)
        return json.loads(json.dumps(event))

    def _event_list(self, params: dict[str, Any], account: str | None) -> dict[str, Any]:
        wanted = as_str(params, "type")
        items = [
            e
            for e in self.events.values()
            if e.get("account") == account
            and (wanted is None or fnmatch.fnmatchcase(e["type"], wanted))
        ]
        return self._list(items, params, "/v1/events", {"type", "types", "created"})


def _requirements(currently_due: list[str]) -> dict[str, Any]:
    return {
        "currently_due": list(currently_due),
        "eventually_due": list(currently_due),
        "past_due": [],
        "pending_verification": [],
        "disabled_reason": "requirements.past_due" if currently_due else None,
        "errors": [],
        "current_deadline": None,
    }


def _public(obj: dict[str, Any]) -> dict[str, Any]:
    """The object as Stripe shows it (without the fake's own bookkeeping keys)."""
    return {k: v for k, v in obj.items() if not k.startswith("_")}


# --- Webhook signing and delivery ---------------------------------------------------------


def webhook_payload(event: dict[str, Any]) -> str:
    """The exact body Stripe posts for `event` (pretty-printed JSON, as Stripe sends it)."""
    return json.dumps(event, indent=2)


def webhook_signature_header(payload: str, secret: str, timestamp: int | None = None) -> str:
    """`Stripe-Signature` for `payload`: `t=<timestamp>,v1=<hex HMAC-SHA256(secret, "<t>.<payload>")>`."""
    stamp = int(time.time()) if timestamp is None else int(timestamp)
    mac = hmac.new(secret.encode(), f"{stamp}.{payload}".encode(), hashlib.sha256)
    return f"t={stamp},v1={mac.hexdigest()}"


def deliver(
    event: dict[str, Any],
    url: str,
    secret: str,
    *,
    timestamp: int | None = None,
    payload: str | None = None,
    timeout: float = 30.0,
) -> requests.Response:
    """POST `event` to a webhook endpoint over HTTP, signed as Stripe signs it."""
    body = payload if payload is not None else webhook_payload(event)
    return requests.post(
        url,
        data=body.encode(),
        headers={
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
            "Stripe-Signature": webhook_signature_header(body, secret, timestamp),
        },
        timeout=timeout,
    )


# --- HTTP -----------------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    stripe: FakeStripe
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the fake keeps its own log (FakeStripe.requests)

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {name.lower(): value for name, value in self.headers.items()}
        answer = self.stripe.handle(self.command, self.path, body, headers)
        if answer.after == "timeout":
            self.stripe._stopping.wait(answer.hold_seconds)
        if answer.after in {"timeout", "disconnect"}:
            self.close_connection = True
            return
        if answer.redirect is not None:
            self.send_response(302)
            self.send_header("Location", answer.redirect)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        data = json.dumps(answer.body).encode()
        self.send_response(answer.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in answer.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    do_GET = _serve
    do_POST = _serve
    do_DELETE = _serve


def main() -> None:  # pragma: no cover - a tool for local runs
    parser = argparse.ArgumentParser(description="Serve a fake Stripe API for a local Quorum.")
    parser.add_argument("--port", type=int, default=12111)
    parser.add_argument("--api-key", default=DEFAULT_API_KEY)
    parser.add_argument(
        "--balance", type=int, default=10_000_000, help="platform USD and EUR balance, minor units"
    )
    parser.add_argument("--webhook-url", default="")
    parser.add_argument("--webhook-secret", default="")
    args = parser.parse_args()
    fake = FakeStripe(api_key=args.api_key, port=args.port).start()
    for currency in ("usd", "eur"):
        fake.balance_set(currency, args.balance)
    if args.webhook_url:
        fake.auto_deliver_to(args.webhook_url, args.webhook_secret)
    print(f"Fake Stripe on {fake.url} (API key {fake.api_key}); Ctrl-C stops it.")
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        fake.stop()


if __name__ == "__main__":  # pragma: no cover
    main()
