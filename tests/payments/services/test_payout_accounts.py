"""Payout accounts: details stored encrypted, confirmed by a signed link, cooled off before a
payout may use them; the onboarding step; the personal-data export and erasure."""

from datetime import timedelta
from unittest import mock

import pytest
from cryptography.fernet import Fernet, InvalidToken
from django.core import mail, signing
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.utils import timezone

from accounts.erasure import personal_data_erase
from accounts.models import Role
from accounts.personal_data import personal_data_export
from core.errors import Conflict, NotFound, ValidationFailed
from core.models import AuditEvent
from payments.crypto import PayoutDetailsUnreadable, details_decrypt
from payments.models import BankDetails, PayoutAccount, PayoutAccountEvent
from payments.personal_data import (
    payout_erasure_blocker_register,
    payout_erasure_blocker_unregister,
)
from payments.selectors.payout_accounts import payout_account_ready, payout_accounts_usable_at
from payments.services.payout_accounts import (
    bank_details_cancel,
    bank_details_confirm,
    bank_details_confirmation_token,
    bank_details_rotate_key,
    bank_details_submit,
    payout_country_providers_set,
)
from tests.factories import make_user
from tests.payments.factories import VALID_IBAN, make_payout_account
from workforce.models import AnnotatorProfile, Skill, SkillCheck
from workforce.services import skill_level_grant

pytestmark = pytest.mark.django_db

DETAILS = {"holder_name": "Ada Lovelace", "iban": VALID_IBAN}
OTHER_IBAN = "DE75512108001245126199"
KEY_A = "6GTf87gArppMMiBnhlEHlQULRmAL_b0zq0qg8S0QJqw="


def submit(user, details=None, **kwargs):
    return bank_details_submit(
        user=user,
        actor=user,
        country=kwargs.pop("country", "DE"),
        currency=kwargs.pop("currency", "EUR"),
        details=details or DETAILS,
        **kwargs,
    )


def stored_ciphertext(pk: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT ciphertext FROM payments_bankdetails WHERE id = %s", [pk])
        return cursor.fetchone()[0]


# --- Encryption at rest ----------------------------------------------------------------------


def test_the_stored_column_holds_no_plaintext_and_decrypts_to_the_details(person):
    row = submit(person)

    raw = stored_ciphertext(row.pk)

    assert VALID_IBAN not in raw and "Lovelace" not in raw and "3000" not in raw
    assert details_decrypt(raw) == {"holder_name": "Ada Lovelace", "iban": VALID_IBAN}
    assert row.masked == "IBAN •••• 3000"


def test_details_do_not_reach_the_audit_trail_or_the_history(person):
    submit(person)

    texts = [str(e.before) + str(e.after) + e.target_repr for e in AuditEvent.objects.all()]
    history = list(PayoutAccountEvent.objects.values_list("masked_before", "masked_after"))

    assert not any(VALID_IBAN in text or "Lovelace" in text for text in texts)
    assert history == [("", "IBAN •••• 3000")]


def test_a_wrong_key_fails_clearly_without_naming_a_value(person, settings):
    row = submit(person)
    settings.PAYOUT_DETAILS_KEYS = [Fernet.generate_key().decode()]

    with pytest.raises(PayoutDetailsUnreadable) as unreadable:
        details_decrypt(stored_ciphertext(row.pk))

    assert "PAYOUT_DETAILS_KEY" in str(unreadable.value)
    assert VALID_IBAN not in str(unreadable.value)


def test_no_key_or_a_malformed_key_is_a_configuration_error(person, settings):
    settings.PAYOUT_DETAILS_KEYS = []
    with pytest.raises(ImproperlyConfigured, match="PAYOUT_DETAILS_KEY is not set"):
        submit(person)

    settings.PAYOUT_DETAILS_KEYS = ["not-a-key"]
    with pytest.raises(
        ImproperlyConfigured, match="Key 1 of PAYOUT_DETAILS_KEY is not a Fernet key"
    ):
        submit(person)

    assert not BankDetails.objects.exists()


def test_key_rotation_reencrypts_so_the_old_key_can_be_dropped(person, settings):
    row = submit(person)
    new_key = Fernet.generate_key().decode()
    settings.PAYOUT_DETAILS_KEYS = [new_key, KEY_A]  # the new key first, the old one kept

    readable_during = details_decrypt(stored_ciphertext(row.pk))
    rotated = bank_details_rotate_key()
    settings.PAYOUT_DETAILS_KEYS = [new_key]  # the old key dropped

    assert rotated == 1
    assert (
        readable_during
        == details_decrypt(stored_ciphertext(row.pk))
        == {
            "holder_name": "Ada Lovelace",
            "iban": VALID_IBAN,
        }
    )
    with pytest.raises(InvalidToken):  # the old key alone no longer opens it
        Fernet(KEY_A.encode()).decrypt(stored_ciphertext(row.pk).encode())


# --- Submitting and confirming ---------------------------------------------------------------


def test_invalid_details_store_nothing_and_name_the_field(person):
    with pytest.raises(ValidationFailed) as refused:
        submit(person, {"holder_name": "Ada", "iban": "DE89370400440532013001"})

    assert list(refused.value.extra["fields"]) == ["iban"]
    assert not PayoutAccount.objects.exists() and not BankDetails.objects.exists()


def test_a_country_that_does_not_exist_is_refused_naming_the_field(person):
    with pytest.raises(ValidationFailed) as refused:
        submit(
            person,
            {"holder_name": "Ada", "account_number": "0123456789", "bic": "ABCDZZ22"},
            country="ZZ",
        )

    assert list(refused.value.extra["fields"]) == ["country"]
    assert not PayoutAccount.objects.exists()


def test_an_unknown_currency_is_refused_naming_the_field(person):
    with pytest.raises(ValidationFailed) as refused:
        submit(person, currency="XYZ")

    assert list(refused.value.extra["fields"]) == ["currency"]


def test_new_details_wait_for_confirmation_and_an_email_carries_the_link(
    person, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        row = submit(person)

    account = PayoutAccount.objects.get(user=person)
    assert (account.status, account.provider, account.currency) == (
        "pending_confirmation",
        "bank_file",
        "EUR",
    )
    assert payout_account_ready(person).code == "pending_confirmation"
    assert len(mail.outbox) == 1 and mail.outbox[0].to == [person.email]
    body = mail.outbox[0].body
    assert "/payout-account/confirm/" in body and "IBAN •••• 3000" in body
    assert VALID_IBAN not in body
    assert row.state == "pending"


def test_confirming_starts_the_cooling_off_and_payouts_wait_until_it_ends(person, settings):
    settings.QUORUM_PAYOUT_COOLING_OFF_HOURS = 72
    row = submit(person)
    now = timezone.now()

    account = bank_details_confirm(user=person, token=bank_details_confirmation_token(row), now=now)

    assert account.status == "cooling_off"
    assert account.usable_from == now + timedelta(hours=72)
    before = payout_account_ready(person, now + timedelta(hours=71, minutes=59))
    after = payout_account_ready(person, now + timedelta(hours=72))
    assert (before.ready, before.code) == (False, "cooling_off")
    assert f"{account.usable_from:%Y-%m-%d %H:%M} UTC" in before.reason
    assert after.ready
    usable = PayoutAccount.objects.filter(payout_accounts_usable_at(now + timedelta(hours=72)))
    assert list(usable) == [account]
    assert not PayoutAccount.objects.filter(payout_accounts_usable_at(now + timedelta(hours=1)))


def test_a_change_delays_the_next_payout_by_the_cooling_off_period(person, settings):
    settings.QUORUM_PAYOUT_COOLING_OFF_HOURS = 72
    make_payout_account(person)
    assert payout_account_ready(person).ready
    row = submit(person, {"holder_name": "Ada Lovelace", "iban": OTHER_IBAN})

    still_old = payout_account_ready(person)
    bank_details_confirm(user=person, token=bank_details_confirmation_token(row))
    changed = payout_account_ready(person)
    later = payout_account_ready(person, timezone.now() + timedelta(hours=72, minutes=1))

    # An unconfirmed change (maybe not the person's) blocks nothing; a confirmed one cools off.
    assert still_old.ready
    assert (changed.ready, changed.code) == (False, "cooling_off")
    assert later.ready
    states = dict(BankDetails.objects.values_list("masked", "state"))
    assert states == {"IBAN •••• 3000": "replaced", "IBAN •••• 6199": "current"}


def test_an_expired_link_is_refused_naming_the_token(person, settings):
    settings.QUORUM_PAYOUT_CONFIRM_LINK_HOURS = 24
    row = submit(person)
    token = bank_details_confirmation_token(row)
    later = timezone.now() + timedelta(hours=24, seconds=5)

    with (
        mock.patch("django.core.signing.time.time", return_value=later.timestamp()),
        pytest.raises(ValidationFailed) as refused,
    ):
        bank_details_confirm(user=person, token=token)

    assert "expired" in refused.value.extra["fields"]["token"][0]
    assert PayoutAccount.objects.get(user=person).status == "pending_confirmation"


def test_a_tampered_link_is_refused(person):
    row = submit(person)
    token = bank_details_confirmation_token(row)
    forged = signing.dumps({"d": row.pk + 1, "u": person.pk}, salt="another-salt")

    for bad in (token[:-2] + ("AA" if not token.endswith("AA") else "BB"), forged):
        with pytest.raises(ValidationFailed) as refused:
            bank_details_confirm(user=person, token=bad)
        assert "not valid" in refused.value.extra["fields"]["token"][0]

    assert BankDetails.objects.get(pk=row.pk).state == "pending"


def test_another_persons_link_is_not_found_and_changes_nothing(person):
    other = make_user(Role.ANNOTATOR)
    row = submit(person)

    with pytest.raises(NotFound):
        bank_details_confirm(user=other, token=bank_details_confirmation_token(row))

    assert BankDetails.objects.get(pk=row.pk).state == "pending"
    assert not PayoutAccount.objects.filter(user=other).exists()


def test_a_replaced_change_cannot_be_confirmed_by_its_old_link(person):
    first = submit(person)
    submit(person, {"holder_name": "Ada Lovelace", "iban": OTHER_IBAN})

    with pytest.raises(Conflict):
        bank_details_confirm(user=person, token=bank_details_confirmation_token(first))

    assert BankDetails.objects.get(pk=first.pk).state == "cancelled"


def test_confirming_twice_changes_nothing(person):
    row = submit(person)
    token = bank_details_confirmation_token(row)
    first = bank_details_confirm(user=person, token=token)

    again = bank_details_confirm(user=person, token=token)

    assert again.usable_from == first.usable_from
    assert PayoutAccountEvent.objects.filter(kind="details_confirmed").count() == 1


def test_cancelling_a_change_keeps_the_details_in_use(person):
    make_payout_account(person)
    submit(person, {"holder_name": "Ada Lovelace", "iban": OTHER_IBAN})

    bank_details_cancel(user=person, actor=person)

    assert payout_account_ready(person).ready
    with pytest.raises(Conflict):
        bank_details_cancel(user=person, actor=person)


def test_a_country_where_finance_offers_no_bank_transfer_is_refused(person):
    payout_country_providers_set(
        country="DE", providers=["stripe_connect"], actor=make_user(Role.FINANCE)
    )

    with pytest.raises(ValidationFailed) as refused:
        submit(person)

    assert list(refused.value.extra["fields"]) == ["country"]


def test_an_unknown_provider_is_refused_naming_providers():
    with pytest.raises(ValidationFailed) as refused:
        payout_country_providers_set(
            country="DE", providers=["paypal"], actor=make_user(Role.FINANCE)
        )

    assert list(refused.value.extra["fields"]) == ["providers"]


def test_every_change_is_audited_with_masked_before_and_after(person):
    make_payout_account(person)
    row = submit(person, {"holder_name": "Ada Lovelace", "iban": OTHER_IBAN})
    bank_details_confirm(user=person, token=bank_details_confirmation_token(row))

    events = AuditEvent.objects.filter(action__startswith="payout_account.").order_by("id")

    assert [e.action for e in events] == [
        "payout_account.details_submitted",
        "payout_account.details_confirmed",
        "payout_account.details_submitted",
        "payout_account.details_confirmed",
    ]
    assert events.last().before == {"details": "IBAN •••• 3000"}
    assert events.last().after["details"] == "IBAN •••• 6199"
    assert all(e.actor == person for e in events)


# --- Onboarding ------------------------------------------------------------------------------


def qualify(user) -> None:
    skill, _ = Skill.objects.get_or_create(slug="sentiment", defaults={"name": "Sentiment"})
    check = SkillCheck.objects.create(skill=skill, kind="training", name="Basics")
    check.attempts.create(
        user=user, number=1, state="passed", started_at=timezone.now(), finished_at=timezone.now()
    )
    skill_level_grant(user=user, skill=skill, level=1, actor=None)


def test_the_onboarding_step_holds_probation_until_the_account_is_confirmed(person):
    qualify(person)
    held = AnnotatorProfile.objects.get(user=person).status

    row = submit(person)
    still = AnnotatorProfile.objects.get(user=person).status
    bank_details_confirm(user=person, token=bank_details_confirmation_token(row))

    # Confirmed, still cooling off: onboarding is done all the same (payouts wait, not work).
    assert (held, still) == ("qualified", "qualified")
    assert AnnotatorProfile.objects.get(user=person).status == "probation"
    assert not payout_account_ready(person).ready


# --- Personal data ---------------------------------------------------------------------------


def test_the_export_holds_masked_details_and_history_never_the_details(person):
    make_payout_account(person)

    document = "".join(personal_data_export(user=person))

    assert '"payouts"' in document and "IBAN •••• 3000" in document
    assert "details_confirmed" in document
    assert VALID_IBAN not in document and "Lovelace" not in document


def test_erasure_deletes_the_details_and_keeps_a_masked_record(person):
    make_payout_account(person)
    admin = make_user(Role.ADMIN)

    outcome = personal_data_erase(user=person, actor=admin)

    row = BankDetails.objects.get()
    assert outcome["payouts"] == {"bank_details_erased": 1}
    assert (stored_ciphertext(row.pk), row.state, row.masked) == ("", "erased", "IBAN •••• 3000")
    assert payout_account_ready(person).code == "disabled"
    assert PayoutAccountEvent.objects.filter(kind="details_erased").exists()


def test_a_payout_hook_that_says_a_payout_is_pending_refuses_the_erasure(person):
    make_payout_account(person)
    payout_erasure_blocker_register("test", lambda user: "a payout of 12.00 EUR is in transit")
    try:
        with pytest.raises(Conflict, match="in transit"):
            personal_data_erase(user=person, actor=make_user(Role.ADMIN))
    finally:
        payout_erasure_blocker_unregister("test")

    assert stored_ciphertext(BankDetails.objects.get().pk) != ""


def test_confirming_e_mails_a_notice_naming_when_payouts_use_the_details(
    person, django_capture_on_commit_callbacks
):
    row = submit(person)

    with django_capture_on_commit_callbacks(execute=True):
        account = bank_details_confirm(user=person, token=bank_details_confirmation_token(row))

    notice = mail.outbox[-1]
    assert notice.to == [person.email] and "were changed" in notice.subject
    assert f"{account.usable_from:%Y-%m-%d %H:%M} UTC" in notice.body
    assert VALID_IBAN not in notice.body
