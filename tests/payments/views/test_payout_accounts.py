"""The payout-account pages: the person's own, the confirmation link, finance's list and
providers per country, and the admin: details masked everywhere once saved."""

import re
from datetime import timedelta
from unittest import mock

import pytest
from django.core.signals import got_request_exception
from django.utils import timezone
from django.views.debug import SafeExceptionReporterFilter

from accounts.models import Role
from payments.models import BankDetails, PayoutAccount, PayoutCountryProviders
from payments.services.payout_accounts import bank_details_confirmation_url
from tests.factories import make_user
from tests.payments.factories import VALID_IBAN, make_payout_account
from workforce.models import Skill, SkillCheck
from workforce.services import skill_level_grant

pytestmark = pytest.mark.django_db

FORM = {
    "op": "submit",
    "country": "DE",
    "currency": "EUR",
    "holder_name": "Ada Lovelace",
    "iban": VALID_IBAN,
}


def test_the_page_invites_a_person_without_an_account_to_add_one(person_client):
    html = person_client.get("/payout-account/").content.decode()

    assert "You have no payout account yet" in html
    assert 'name="iban"' in html


def test_entering_details_shows_them_masked_waiting_for_confirmation(person_client, person):
    response = person_client.post("/payout-account/", FORM, follow=True)

    html = response.content.decode()
    assert 'id="pending-change"' in html and "IBAN •••• 3000" in html
    assert VALID_IBAN not in html and "Lovelace" not in html
    assert PayoutAccount.objects.get(user=person).status == "pending_confirmation"


def test_a_bad_iban_is_shown_next_to_the_field_and_nothing_is_stored(person_client):
    response = person_client.post("/payout-account/", {**FORM, "iban": "DE00370400440532013000"})

    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="id_iban_errors"' in html and "check digits do not match" in html
    assert not BankDetails.objects.exists()


def test_the_confirmation_link_asks_then_confirms_and_shows_the_cooling_off(person_client, person):
    make_payout_account(person, confirmed=False)
    url = bank_details_confirmation_url(BankDetails.objects.get())

    asked = person_client.get(url)
    unchanged = PayoutAccount.objects.get(user=person).status
    confirmed = person_client.post(url, follow=True)

    assert asked.status_code == 200 and "Confirm these details" in asked.content.decode()
    assert unchanged == "pending_confirmation"  # following the link alone confirms nothing
    html = confirmed.content.decode()
    assert 'id="cooling-off"' in html and 'data-status="cooling_off"' in html
    assert "IBAN •••• 3000" in html and VALID_IBAN not in html


def test_someone_elses_confirmation_link_is_not_found(client, person):
    make_payout_account(person, confirmed=False)
    url = bank_details_confirmation_url(BankDetails.objects.get())
    client.force_login(make_user(Role.ANNOTATOR))

    assert client.get(url).status_code == 404
    assert client.post(url).status_code == 404
    assert PayoutAccount.objects.get(user=person).status == "pending_confirmation"


def test_an_expired_or_tampered_link_says_so(person_client, person):
    make_payout_account(person, confirmed=False)
    url = bank_details_confirmation_url(BankDetails.objects.get())
    later = (timezone.now() + timedelta(days=2)).timestamp()

    with mock.patch("django.core.signing.time.time", return_value=later):
        expired = person_client.post(url)
    tampered = person_client.post(url.replace("/confirm/", "/confirm/x"))

    assert expired.status_code == 400 and "expired" in expired.content.decode()
    assert tampered.status_code == 400 and "not valid" in tampered.content.decode()
    assert PayoutAccount.objects.get(user=person).status == "pending_confirmation"


def test_the_onboarding_checklist_has_a_button_to_the_set_up_page(person_client, person):
    skill = Skill.objects.create(slug="sentiment", name="Sentiment")
    check = SkillCheck.objects.create(skill=skill, kind="training", name="Basics")
    check.attempts.create(
        user=person, number=1, state="passed", started_at=timezone.now(), finished_at=timezone.now()
    )
    skill_level_grant(user=person, skill=skill, level=1, actor=None)

    html = person_client.get("/work/").content.decode()

    step = re.search(r'<li[^>]*data-step="payout_account_ready"[^>]*>(.*?)</li>', html, re.S)
    assert step is not None
    assert 'data-state="current"' in step.group(0)
    assert (
        '<a class="button primary" href="/payout-account/">Add a payout account</a>'
        in step.group(1)
    )


def test_finance_sees_every_account_masked_in_a_bounded_number_of_queries(
    finance_client, django_assert_max_num_queries
):
    for _ in range(5):
        make_payout_account(make_user(Role.ANNOTATOR))

    with django_assert_max_num_queries(12):
        html = finance_client.get("/finance/payout-accounts/").content.decode()

    assert "IBAN •••• 3000" in html and VALID_IBAN not in html
    assert ">ready<" in html


def test_annotators_cannot_open_finances_pages(person_client):
    assert person_client.get("/finance/payout-accounts/").status_code == 403
    assert person_client.post("/finance/payout-providers/", {"country": "DE"}).status_code == 403
    assert not PayoutCountryProviders.objects.exists()


def test_finance_without_mfa_is_sent_to_set_it_up_before_changing_providers(client):
    client.force_login(make_user(Role.FINANCE))

    response = client.post(
        "/finance/payout-providers/", {"op": "set", "country": "DE", "providers": ["bank_file"]}
    )

    assert response.status_code == 302 and "/accounts/2fa/" in response["Location"]
    assert not PayoutCountryProviders.objects.exists()


def test_finance_chooses_and_resets_a_countrys_providers(finance_client):
    saved = finance_client.post(
        "/finance/payout-providers/",
        {"op": "set", "country": "KE", "providers": ["stripe_connect"]},
        follow=True,
    )
    row = PayoutCountryProviders.objects.get()
    reset = finance_client.post(
        "/finance/payout-providers/", {"op": "reset", "country": "KE"}, follow=True
    )

    assert (row.country, row.providers) == ("KE", ["stripe_connect"])
    assert 'data-country="KE"' in saved.content.decode()
    assert "offers the default providers again" in reset.content.decode()
    assert not PayoutCountryProviders.objects.exists()


def test_the_admin_shows_details_masked_only(client, person):
    make_payout_account(person)
    admin = make_user(Role.ADMIN, mfa=True)
    admin.is_staff = admin.is_superuser = True
    admin.save()
    client.force_login(admin)
    account = PayoutAccount.objects.get(user=person)
    details = BankDetails.objects.get()

    pages = [
        client.get(f"/django-admin/payments/payoutaccount/{account.pk}/change/"),
        client.get(f"/django-admin/payments/bankdetails/{details.pk}/change/"),
        client.get("/django-admin/payments/bankdetails/"),
    ]

    for page in pages:
        html = page.content.decode()
        assert page.status_code == 200
        assert "IBAN •••• 3000" in html
        assert VALID_IBAN not in html and details.ciphertext not in html


def test_an_error_report_of_the_page_or_the_api_hides_the_bank_details(client, person):
    client.force_login(person)
    client.raise_request_exception = False
    seen = []

    def capture(sender, request, **kwargs):
        seen.append(SafeExceptionReporterFilter().get_post_parameters(request))

    got_request_exception.connect(capture)
    boom = mock.patch(
        "payments.services.payout_accounts.bank_details_validate", side_effect=RuntimeError
    )
    try:
        with boom:
            client.post("/payout-account/", FORM)
            client.post("/api/v1/me/payout-account/", FORM)
    finally:
        got_request_exception.disconnect(capture)

    assert len(seen) == 2
    for post in seen:
        assert post["iban"] == post["holder_name"] == "********************"
        assert post["currency"] == "EUR"
