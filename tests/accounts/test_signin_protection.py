"""Failed sign-ins slow down the address that fails; nobody can lock someone else's account."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts import signin_throttle
from accounts.models import Role
from tests.factories import PASSWORD, make_user, totp_now

pytestmark = pytest.mark.django_db

STRANGER = "203.0.113.5"
OWNER = "198.51.100.7"


class Clock:
    """The sign-in throttle's clock, moved by hand."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.now = 1_900_000_000.0
        monkeypatch.setattr(signin_throttle, "_now", lambda: self.now)

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    return Clock(monkeypatch)


def sign_in(client: Client, email: str, password: str, address: str):
    return client.post(
        "/accounts/login/", {"login": email, "password": password}, REMOTE_ADDR=address
    )


def signed_in(client: Client) -> bool:
    return bool(client.get("/").context["user"].is_authenticated)


def form_errors(response) -> list[str]:
    return [str(error) for error in response.context["form"].non_field_errors()]


def test_a_strangers_failures_do_not_stop_the_owner_signing_in_from_elsewhere(clock):
    owner = make_user(Role.ANNOTATOR)
    for _ in range(30):
        sign_in(Client(), owner.email, "wrong-password", STRANGER)
    owner_client = Client()

    response = sign_in(owner_client, owner.email, PASSWORD, OWNER)

    assert response.status_code == 302
    assert signed_in(owner_client)


def test_the_free_failures_leave_the_right_password_working_from_the_same_address(clock):
    user = make_user(Role.ANNOTATOR)
    client = Client()
    for _ in range(5):
        sign_in(client, user.email, "wrong-password", STRANGER)

    response = sign_in(client, user.email, PASSWORD, STRANGER)

    assert response.status_code == 302
    assert signed_in(client)


def test_past_the_free_failures_the_failing_address_waits_even_with_the_right_password(clock):
    user = make_user(Role.ANNOTATOR)
    client = Client()
    for _ in range(6):
        sign_in(client, user.email, "wrong-password", STRANGER)

    refused = sign_in(client, user.email, PASSWORD, STRANGER)
    clock.advance(2)
    allowed = sign_in(client, user.email, PASSWORD, STRANGER)

    assert refused.status_code == 200
    assert form_errors(refused) == [
        "Too many failed sign-ins from your network. Try again in 2 seconds."
    ]
    assert allowed.status_code == 302
    assert signed_in(client)


def test_each_failure_past_the_free_ones_doubles_the_wait(clock):
    user = make_user(Role.ANNOTATOR)
    client = Client()
    for _ in range(5):
        sign_in(client, user.email, "wrong-password", STRANGER)
    waits = []
    for _ in range(4):
        sign_in(client, user.email, "wrong-password", STRANGER)
        waits.append(signin_throttle.signin_wait_seconds(login=user.email, address=STRANGER))
        clock.advance(waits[-1])

    assert waits == [2, 4, 8, 16]


def test_the_wait_stops_at_its_ceiling(clock, settings):
    settings.QUORUM_SIGNIN_MAX_WAIT_SECONDS = 60
    for _ in range(40):
        signin_throttle.signin_failed(login="someone@example.test", address=STRANGER)

    assert signin_throttle.signin_wait_seconds(login="someone@example.test", address=STRANGER) == 60


def test_an_attempt_refused_while_waiting_is_not_checked_and_does_not_count(clock):
    user = make_user(Role.ANNOTATOR)
    client = Client()
    for _ in range(6):
        sign_in(client, user.email, "wrong-password", STRANGER)

    for _ in range(10):
        sign_in(client, user.email, "wrong-password", STRANGER)  # refused unread

    assert signin_throttle.signin_wait_seconds(login=user.email, address=STRANGER) == 2


def test_an_address_trying_many_accounts_waits_for_all_of_them_and_only_it(clock):
    target = make_user(Role.ANNOTATOR)
    for i in range(21):
        sign_in(Client(), f"sprayed{i}@example.test", "Summer2026!", STRANGER)

    from_stranger = sign_in(Client(), target.email, PASSWORD, STRANGER)
    owner_client = Client()
    from_owner = sign_in(owner_client, target.email, PASSWORD, OWNER)

    assert form_errors(from_stranger) == [
        "Too many failed sign-ins from your network. Try again in 2 seconds."
    ]
    assert from_owner.status_code == 302
    assert signed_in(owner_client)


def test_signing_in_forgets_the_owners_own_failures_from_that_address(clock):
    user = make_user(Role.ANNOTATOR)
    for _ in range(5):
        sign_in(Client(), user.email, "wrong-password", OWNER)
    sign_in(Client(), user.email, PASSWORD, OWNER)

    for _ in range(5):
        sign_in(Client(), user.email, "wrong-password", OWNER)
    client = Client()
    response = sign_in(client, user.email, PASSWORD, OWNER)

    assert response.status_code == 302
    assert signed_in(client)


def test_the_wait_reads_the_same_for_an_account_that_does_not_exist(clock):
    user = make_user(Role.ANNOTATOR)
    for email in (user.email, "nobody@example.test"):
        for _ in range(6):
            sign_in(Client(), email, "wrong-password", STRANGER)

    known = sign_in(Client(), user.email, "wrong-password", STRANGER)
    unknown = sign_in(Client(), "nobody@example.test", "wrong-password", STRANGER)

    assert form_errors(known) == form_errors(unknown)


def test_an_account_with_a_second_factor_still_reaches_it_after_a_strangers_failures(clock):
    finance = make_user(Role.FINANCE, mfa=True)
    for _ in range(30):
        sign_in(Client(), finance.email, "wrong-password", STRANGER)
    client = Client()

    response = sign_in(client, finance.email, PASSWORD, OWNER)
    code = client.post("/accounts/2fa/authenticate/", {"code": totp_now()}, REMOTE_ADDR=OWNER)

    assert response.status_code == 302
    assert response["Location"] == "/accounts/2fa/authenticate/"
    assert code.status_code == 302
    assert client.get("/").context["user"] == finance


def test_guessing_second_factor_codes_is_limited(clock):
    finance = make_user(Role.FINANCE, mfa=True)
    client = Client()
    sign_in(client, finance.email, PASSWORD, OWNER)
    for _ in range(5):
        client.post("/accounts/2fa/authenticate/", {"code": "000000"}, REMOTE_ADDR=OWNER)

    right = client.post("/accounts/2fa/authenticate/", {"code": totp_now()}, REMOTE_ADDR=OWNER)

    assert right.status_code == 200
    assert "Too many failed login attempts" in right.content.decode()
    assert client.get("/").context["user"].is_authenticated is False


def test_an_ipv6_client_counts_as_its_whole_network(clock):
    for suffix in range(6):
        signin_throttle.signin_failed(login="someone@example.test", address=f"2001:db8::{suffix}")

    assert (
        signin_throttle.signin_wait_seconds(
            login="someone@example.test", address="2001:db8::ffff:1"
        )
        == 2
    )


def test_the_django_admin_sign_in_is_the_protected_one(client):
    response = client.get("/django-admin/login/?next=/django-admin/")

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
