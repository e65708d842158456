import re

import pytest
from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from django.core import mail

from accounts.models import Role, RoleGrant, User
from core.models import AuditEvent
from tests.factories import PASSWORD, make_user, totp_now
from workforce.models import AnnotatorProfile, TermsAcceptance
from workforce.selectors import terms_current

pytestmark = pytest.mark.django_db


def signup_data(**overrides):
    data = {
        "email": "new.annotator@example.test",
        "full_name": "Amara Okafor",
        "password1": "a-long-and-unusual-passphrase",
        "password2": "a-long-and-unusual-passphrase",
        "country": "NG",
        "time_zone": "Africa/Lagos",
        "languages": ["en", "yo"],
        "terms_version": terms_current().version,
        "accept_terms": "on",
    }
    data.update(overrides)
    return data


def verification_code_from_outbox():
    body = str(mail.outbox[-1].body)
    match = re.search(r"^\s*([A-Z0-9]{4}-?[A-Z0-9]{4})\s*$", body, re.MULTILINE)
    assert match, body
    return match.group(1)


def test_signup_stores_profile_terms_acceptance_and_annotator_role(client):
    response = client.post("/accounts/signup/", signup_data())

    assert response.status_code == 302
    user = User.objects.get(email="new.annotator@example.test")
    profile = AnnotatorProfile.objects.get(user=user)
    assert (str(profile.country), profile.time_zone, profile.languages) == (
        "NG",
        "Africa/Lagos",
        ["en", "yo"],
    )
    assert user.full_name == "Amara Okafor"
    acceptance = TermsAcceptance.objects.get(user=user)
    assert acceptance.terms == terms_current()
    assert acceptance.accepted_at is not None
    assert RoleGrant.objects.filter(user=user, role=Role.ANNOTATOR).exists()
    assert AuditEvent.objects.filter(action="terms.accepted", target_id=str(user.pk)).exists()


def test_signup_without_accepting_terms_is_refused_with_a_clear_message(client):
    data = signup_data()
    del data["accept_terms"]

    response = client.post("/accounts/signup/", data)

    assert response.status_code == 200
    assert "You must accept the terms of work to sign up." in response.content.decode()
    assert not User.objects.filter(email="new.annotator@example.test").exists()


def test_signup_with_an_unknown_time_zone_names_the_field(client):
    response = client.post("/accounts/signup/", signup_data(time_zone="Mars/Olympus"))

    assert response.status_code == 200
    assert "Mars/Olympus is not one of the available choices" in response.content.decode()
    assert not User.objects.filter(email="new.annotator@example.test").exists()


def test_signup_against_outdated_terms_is_refused(client):
    response = client.post("/accounts/signup/", signup_data(terms_version="1999-01"))

    assert response.status_code == 200
    assert "The terms changed" in response.content.decode()
    assert not User.objects.filter(email="new.annotator@example.test").exists()


def test_email_is_verified_by_code_and_then_the_annotator_is_signed_in(client):
    client.post("/accounts/signup/", signup_data())
    assert client.get("/").context["user"].is_authenticated is False
    code = verification_code_from_outbox()

    response = client.post("/accounts/confirm-email/", {"code": code})

    assert response.status_code == 302
    assert EmailAddress.objects.get(email="new.annotator@example.test").verified
    home = client.get("/")
    assert home.context["user"].email == "new.annotator@example.test"
    assert "My profile" in home.content.decode()


def test_a_wrong_verification_code_is_refused(client):
    client.post("/accounts/signup/", signup_data())

    response = client.post("/accounts/confirm-email/", {"code": "WRONG1"})

    assert response.status_code == 200
    assert not EmailAddress.objects.get(email="new.annotator@example.test").verified


def test_login_and_logout(client):
    user = make_user(Role.ANNOTATOR)

    response = client.post("/accounts/login/", {"login": user.email, "password": PASSWORD})

    assert response.status_code == 302
    assert client.get("/").context["user"] == user
    client.post("/accounts/logout/")
    assert client.get("/").context["user"].is_authenticated is False


def test_login_with_a_wrong_password_fails_without_saying_whether_the_account_exists(client):
    user = make_user(Role.ANNOTATOR)

    wrong_password = client.post("/accounts/login/", {"login": user.email, "password": "nope-nope"})
    unknown_user = client.post(
        "/accounts/login/", {"login": "nobody@example.test", "password": "nope-nope"}
    )

    assert wrong_password.status_code == unknown_user.status_code == 200
    assert wrong_password.context["form"].errors == unknown_user.context["form"].errors


def test_password_reset_by_e_mail_link(client):
    user = make_user(Role.ANNOTATOR)

    client.post("/accounts/password/reset/", {"email": user.email})
    link = re.search(
        r"https?://[^/\s]+(/accounts/password/reset/key/\S+)", mail.outbox[-1].body
    ).group(1)
    form_page = client.get(link, follow=True)
    response = client.post(
        form_page.redirect_chain[-1][0] if form_page.redirect_chain else link,
        {"password1": "a-brand-new-passphrase", "password2": "a-brand-new-passphrase"},
    )

    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password("a-brand-new-passphrase")


def test_password_reset_for_an_unknown_address_looks_the_same(client):
    response = client.post("/accounts/password/reset/", {"email": "nobody@example.test"})

    assert response.status_code == 302
    assert len(mail.outbox) == 1
    assert "nobody@example.test" in mail.outbox[0].to


def test_signups_are_rate_limited_per_address(client, settings):
    settings.ACCOUNT_RATE_LIMITS = {**settings.ACCOUNT_RATE_LIMITS, "signup": "2/m/ip"}

    statuses = [
        client.post("/accounts/signup/", signup_data(email=f"burst{i}@example.test")).status_code
        for i in range(3)
    ]

    assert statuses[:2] == [302, 302]
    assert statuses[2] == 429
    assert not User.objects.filter(email="burst2@example.test").exists()


def test_mfa_is_available_to_annotators_too(client):
    annotator = make_user(Role.ANNOTATOR)
    client.post("/accounts/login/", {"login": annotator.email, "password": PASSWORD})

    page = client.get("/accounts/2fa/totp/activate/")
    secret = client.session["mfa.totp.secret"]
    response = client.post("/accounts/2fa/totp/activate/", {"code": totp_now(secret)})

    assert page.status_code == 200
    assert response.status_code == 302
    assert Authenticator.objects.filter(user=annotator, type=Authenticator.Type.TOTP).exists()
