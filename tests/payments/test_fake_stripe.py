"""The fake Stripe server behaves as the real SDK expects: every resource payouts use, Stripe's
errors as the SDK's exception classes, idempotent replay, the connected-account header, faults,
and SDK retries that reuse the idempotency key. Calls go through Quorum's client factory."""

import time

import pytest
import stripe

from payments.stripe_client import StripeNotConfigured, stripe_client, stripe_configured
from tests.payments.fake_stripe import webhook_payload, webhook_signature_header


def _ready_account(fake, client):
    account = client.v1.accounts.create(
        params={
            "type": "express",
            "country": "DE",
            "email": "ann@example.test",
            "capabilities": {"transfers": {"requested": True}},
            "metadata": {"user": "7"},
        }
    )
    fake.account_complete_onboarding(account.id)
    return account


def test_the_client_comes_from_settings_and_refuses_without_a_key(fake_stripe, settings):
    assert stripe_configured()
    assert stripe_client() is stripe_client()  # one client per configuration

    settings.STRIPE_API_KEY = ""

    assert not stripe_configured()
    with pytest.raises(StripeNotConfigured):
        stripe_client()


def test_a_wrong_key_is_an_authentication_error(fake_stripe, settings):
    settings.STRIPE_API_KEY = "sk_test_wrong"

    with pytest.raises(stripe.AuthenticationError, match="Invalid API Key"):
        stripe_client().v1.balance.retrieve()


def test_accounts_are_created_retrieved_and_updated_with_nested_params(fake_stripe):
    client = stripe_client()

    account = client.v1.accounts.create(
        params={
            "type": "express",
            "country": "DE",
            "email": "ann@example.test",
            "capabilities": {"transfers": {"requested": True}},
            "metadata": {"user": "7"},
        }
    )
    updated = client.v1.accounts.update(account.id, params={"metadata": {"user": "", "team": "a"}})
    fetched = client.v1.accounts.retrieve(account.id)

    assert account.object == "account" and account.id.startswith("acct_")
    assert account.capabilities.transfers == "inactive"
    assert account.payouts_enabled is False
    assert "external_account" in account.requirements.currently_due
    assert updated.metadata.to_dict() == {"team": "a"}
    assert fetched.email == "ann@example.test"
    assert fake_stripe.requests("POST", "/v1/accounts")[0].params["capabilities"] == {
        "transfers": {"requested": "true"}
    }


def test_an_unknown_parameter_is_refused_naming_it(fake_stripe):
    with pytest.raises(stripe.InvalidRequestError) as raised:
        stripe_client().v1.accounts.create(params={"type": "express", "colour": "red"})

    assert raised.value.param == "colour"
    assert raised.value.http_status == 400


def test_a_missing_object_is_resource_missing(fake_stripe):
    with pytest.raises(stripe.InvalidRequestError) as raised:
        stripe_client().v1.transfers.retrieve("tr_nope")

    assert raised.value.http_status == 404
    assert raised.value.code == "resource_missing"


def test_onboarding_through_an_account_link_enables_payouts_and_announces_it(fake_stripe):
    import requests

    client = stripe_client()
    account = client.v1.accounts.create(
        params={"type": "express", "capabilities": {"transfers": {"requested": True}}}
    )

    link = client.v1.account_links.create(
        params={
            "account": account.id,
            "type": "account_onboarding",
            "return_url": "http://quorum.test/back",
            "refresh_url": "http://quorum.test/again",
        }
    )
    visit = requests.get(link.url, allow_redirects=False, timeout=5)

    assert visit.status_code == 302 and visit.headers["Location"] == "http://quorum.test/back"
    now = client.v1.accounts.retrieve(account.id)
    assert now.payouts_enabled is True and now.capabilities.transfers == "active"
    assert now.requirements.currently_due == []
    events = [e for e in fake_stripe.events.values() if e["type"] == "account.updated"]
    assert events[-1]["account"] == account.id


def test_transfers_carry_group_and_metadata_and_list_by_group_with_pagination(fake_stripe):
    client = stripe_client()
    account = _ready_account(fake_stripe, client)
    fake_stripe.balance_set("usd", 10_000)

    made = [
        client.v1.transfers.create(
            params={
                "amount": 100 + i,
                "currency": "usd",
                "destination": account.id,
                "transfer_group": "run-1" if i < 5 else "run-2",
                "metadata": {"item": str(i)},
            }
        )
        for i in range(7)
    ]
    first = client.v1.transfers.list(params={"transfer_group": "run-1", "limit": 2})
    everything = list(
        client.v1.transfers.list(params={"transfer_group": "run-1", "limit": 2}).auto_paging_iter()
    )

    assert first.has_more is True
    assert [t.id for t in first.data] == [made[4].id, made[3].id]
    assert [t.metadata["item"] for t in everything] == ["4", "3", "2", "1", "0"]
    assert client.v1.transfers.retrieve(made[0].id).transfer_group == "run-1"
    assert client.v1.balance.retrieve().available[0].amount == 10_000 - sum(
        100 + i for i in range(7)
    )


def test_a_transfer_beyond_the_balance_or_to_an_account_without_transfers_is_refused(fake_stripe):
    client = stripe_client()
    ready = _ready_account(fake_stripe, client)
    not_ready = client.v1.accounts.create(params={"type": "express"})
    fake_stripe.balance_set("usd", 50)

    with pytest.raises(stripe.InvalidRequestError) as poor:
        client.v1.transfers.create(
            params={"amount": 51, "currency": "usd", "destination": ready.id}
        )
    with pytest.raises(stripe.InvalidRequestError) as disabled:
        client.v1.transfers.create(
            params={"amount": 10, "currency": "usd", "destination": not_ready.id}
        )

    assert poor.value.code == "balance_insufficient"
    assert disabled.value.code == "insufficient_capabilities_for_transfer"
    assert disabled.value.param == "destination"


def test_reversals_return_the_money_and_mark_the_transfer(fake_stripe):
    client = stripe_client()
    account = _ready_account(fake_stripe, client)
    fake_stripe.balance_set("eur", 1000)
    transfer = client.v1.transfers.create(
        params={"amount": 400, "currency": "eur", "destination": account.id}
    )

    part = client.v1.transfers.reversals.create(transfer.id, params={"amount": 150})
    rest = client.v1.transfers.reversals.create(transfer.id)

    after = client.v1.transfers.retrieve(transfer.id)
    assert (part.amount, rest.amount) == (150, 250)
    assert after.reversed is True and after.amount_reversed == 400
    assert client.v1.transfers.reversals.retrieve(transfer.id, part.id).amount == 150
    assert len(client.v1.transfers.reversals.list(transfer.id).data) == 2
    assert client.v1.balance.retrieve().available[0].amount == 1000
    with pytest.raises(stripe.InvalidRequestError, match="left to reverse"):
        client.v1.transfers.reversals.create(transfer.id, params={"amount": 1})


def test_the_connected_account_header_scopes_balances_payouts_and_events(fake_stripe):
    client = stripe_client()
    account = _ready_account(fake_stripe, client)
    fake_stripe.balance_set("usd", 1000)
    client.v1.transfers.create(params={"amount": 300, "currency": "usd", "destination": account.id})
    payout = fake_stripe.payout_create(account.id, 100, "usd")
    failed = fake_stripe.payout_fail(
        payout["id"], "account_closed", "The bank account has been closed."
    )
    on_account = {"stripe_account": account.id}

    balance = client.v1.balance.retrieve(options=on_account)
    fetched = client.v1.payouts.retrieve(payout["id"], options=on_account)
    event = client.v1.events.retrieve(failed["id"], options=on_account)

    assert balance.available[0].amount == 300
    assert fetched.status == "failed" and fetched.failure_code == "account_closed"
    assert event.type == "payout.failed" and event.account == account.id
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.events.retrieve(failed["id"])  # not the platform's event
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.payouts.retrieve(payout["id"])
    assert fake_stripe.requests("GET", "/v1/balance")[-1].stripe_account == account.id


def test_the_same_idempotency_key_replays_the_stored_answer(fake_stripe):
    client = stripe_client()
    account = _ready_account(fake_stripe, client)
    fake_stripe.balance_set("usd", 1000)
    params = {
        "amount": 200,
        "currency": "usd",
        "destination": account.id,
        "transfer_group": "run-9",
    }

    first = client.v1.transfers.create(
        params=params, options={"idempotency_key": "item-1-attempt-1"}
    )
    again = client.v1.transfers.create(
        params=params, options={"idempotency_key": "item-1-attempt-1"}
    )

    assert again.id == first.id
    assert len(fake_stripe.transfers) == 1
    assert again.last_response.headers["Idempotent-Replayed"] == "true"
    assert client.v1.balance.retrieve().available[0].amount == 800


def test_the_same_idempotency_key_with_other_parameters_is_refused(fake_stripe):
    client = stripe_client()
    account = _ready_account(fake_stripe, client)
    fake_stripe.balance_set("usd", 1000)
    client.v1.transfers.create(
        params={"amount": 200, "currency": "usd", "destination": account.id},
        options={"idempotency_key": "k1"},
    )

    with pytest.raises(stripe.IdempotencyError, match="same parameters"):
        client.v1.transfers.create(
            params={"amount": 201, "currency": "usd", "destination": account.id},
            options={"idempotency_key": "k1"},
        )

    assert len(fake_stripe.transfers) == 1


def test_an_injected_500_is_an_api_error_and_does_no_work(fake_stripe):
    client = stripe_client()
    account = _ready_account(fake_stripe, client)
    fake_stripe.balance_set("usd", 1000)
    fake_stripe.inject("POST /v1/transfers", "500")

    with pytest.raises(stripe.APIError) as raised:
        client.v1.transfers.create(
            params={"amount": 5, "currency": "usd", "destination": account.id}
        )

    assert raised.value.http_status == 500
    assert fake_stripe.transfers == {}


def test_an_injected_402_is_a_card_error_with_its_code(fake_stripe):
    fake_stripe.inject(
        "POST /v1/transfers",
        "error",
        status=402,
        error={
            "type": "card_error",
            "code": "card_declined",
            "message": "Declined.",
            "param": "amount",
        },
    )

    with pytest.raises(stripe.CardError) as raised:
        stripe_client().v1.transfers.create(
            params={"amount": 5, "currency": "usd", "destination": "acct_x"}
        )

    assert (raised.value.code, raised.value.param, raised.value.user_message) == (
        "card_declined",
        "amount",
        "Declined.",
    )


def test_sdk_retries_after_a_500_reuse_the_idempotency_key_and_succeed_once(fake_stripe, settings):
    settings.STRIPE_MAX_NETWORK_RETRIES = 2
    client = stripe_client()
    account = _ready_account(fake_stripe, client)
    fake_stripe.balance_set("usd", 1000)
    fake_stripe.inject("POST /v1/transfers", "500", times=2)

    transfer = client.v1.transfers.create(
        params={"amount": 70, "currency": "usd", "destination": account.id},
        options={"idempotency_key": "item-5-attempt-1"},
    )

    tries = fake_stripe.requests("POST", "/v1/transfers")
    assert [t.status for t in tries] == [500, 500, 200]
    assert {t.idempotency_key for t in tries} == {"item-5-attempt-1"}
    assert list(fake_stripe.transfers) == [transfer.id]


def test_a_timeout_after_the_work_is_ambiguous_and_the_retry_with_the_key_replays(
    fake_stripe, settings
):
    settings.STRIPE_READ_TIMEOUT_SECONDS = 0.5
    client = stripe_client()
    account = _ready_account(fake_stripe, client)
    fake_stripe.balance_set("usd", 1000)
    fake_stripe.inject("POST /v1/transfers", "timeout", seconds=3)
    params = {"amount": 70, "currency": "usd", "destination": account.id}

    with pytest.raises(stripe.APIConnectionError):
        client.v1.transfers.create(params=params, options={"idempotency_key": "item-6-attempt-1"})
    replayed = client.v1.transfers.create(
        params=params, options={"idempotency_key": "item-6-attempt-1"}
    )

    assert len(fake_stripe.transfers) == 1  # the work was done once, by the first call
    assert replayed.id in fake_stripe.transfers
    assert replayed.last_response.headers["Idempotent-Replayed"] == "true"


def test_sdk_retries_after_a_dropped_connection_replay_the_work_done(fake_stripe, settings):
    settings.STRIPE_MAX_NETWORK_RETRIES = 1
    client = stripe_client()
    account = _ready_account(fake_stripe, client)
    fake_stripe.balance_set("usd", 1000)
    fake_stripe.inject("POST /v1/transfers", "disconnect")

    transfer = client.v1.transfers.create(
        params={"amount": 70, "currency": "usd", "destination": account.id}
    )

    tries = fake_stripe.requests("POST", "/v1/transfers")
    assert [(t.status, t.replayed) for t in tries] == [(None, False), (200, True)]
    assert tries[0].idempotency_key == tries[1].idempotency_key  # the SDK's own key, kept
    assert list(fake_stripe.transfers) == [transfer.id]


def test_a_delay_slows_the_answer_without_failing_it(fake_stripe):
    fake_stripe.inject("GET /v1/balance", "delay", seconds=0.3)
    started = time.monotonic()

    stripe_client().v1.balance.retrieve()

    assert time.monotonic() - started >= 0.3


def test_the_signer_makes_headers_the_sdk_verifies(fake_stripe):
    event = fake_stripe.event_create("transfer.created", {"id": "tr_1", "object": "transfer"})
    payload = webhook_payload(event)
    now = int(time.time())

    header = webhook_signature_header(payload, "whsec_abc", now)

    assert header == stripe.WebhookSignature.generate_signature_header(payload, "whsec_abc", now)
    assert stripe.WebhookSignature.verify_header(payload, header, "whsec_abc", tolerance=300)
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.WebhookSignature.verify_header(payload, header, "whsec_other", tolerance=300)


def test_a_stopped_fake_releases_its_port_and_held_connections():
    import socket
    import threading

    import requests

    from tests.payments.fake_stripe import FakeStripe

    fake = FakeStripe().start()
    host, port = fake.url.removeprefix("http://").split(":")
    fake.inject("GET /v1/balance", "timeout", seconds=30)
    outcome = []

    def held_call():
        try:
            requests.get(
                f"{fake.url}/v1/balance",
                headers={"Authorization": f"Bearer {fake.api_key}"},
                timeout=60,
            )
        except requests.ConnectionError as exc:
            outcome.append(type(exc).__name__)

    held = threading.Thread(target=held_call, daemon=True)
    held.start()
    time.sleep(0.3)
    started = time.monotonic()

    fake.stop()
    held.join(timeout=10)

    assert time.monotonic() - started < 10
    assert outcome == ["ConnectionError"]  # dropped without an answer, not left hanging
    with pytest.raises(OSError), socket.create_connection((host, int(port)), timeout=1):
        pass


def test_a_connected_account_s_payout_lists_the_destination_payments_it_carried(fake_stripe):
    client = stripe_client()
    account = _ready_account(fake_stripe, client)
    fake_stripe.balance_set("usd", 1000)
    transfer = client.v1.transfers.create(
        params={"amount": 300, "currency": "usd", "destination": account.id}
    )
    on_account = {"stripe_account": account.id}
    payout = fake_stripe.payout_create(account.id)  # automatic: carries the 300

    listed = client.v1.balance_transactions.list(
        params={"payout": payout["id"], "type": "payment", "expand": ["data.source"]},
        options=on_account,
    )
    fake_stripe.payout_fail(payout["id"], "account_closed", "Closed.")
    manual = fake_stripe.payout_create(account.id, 300, "usd", automatic=False)

    assert payout["amount"] == 300
    [txn] = listed.data
    assert txn.amount == 300 and txn.source.id == transfer.destination_payment
    assert txn.source.source_transfer == transfer.id
    with pytest.raises(stripe.InvalidRequestError, match="automatic"):
        client.v1.balance_transactions.list(params={"payout": manual["id"]}, options=on_account)
    with pytest.raises(stripe.InvalidRequestError, match="No such payout"):
        client.v1.balance_transactions.list(params={"payout": payout["id"]})
    # The failed payout's money came back and the manual one took it: nothing to reverse.
    with pytest.raises(stripe.InvalidRequestError) as short:
        client.v1.transfers.reversals.create(transfer.id, params={"amount": 100})
    assert short.value.code == "balance_insufficient"
    assert fake_stripe.reversals == {}
