"""Bank details are checked by their country's rules before anything is stored (no database)."""

import pytest

from core.errors import ValidationFailed
from payments.bank_validation import (
    IBAN_LENGTHS,
    aba_checksum_ok,
    bank_details_mask,
    bank_details_validate,
    iban_mod97,
    iban_validate,
    routing_number_validate,
    scheme_for_country,
)

# Published example IBANs (their check digits hold).
VALID_IBANS = {
    "DE": "DE89 3704 0044 0532 0130 00",
    "FR": "FR14 2004 1010 0505 0001 3M02 606",
    "NL": "NL91 ABNA 0417 1643 00",
    "NO": "NO93 8601 1117 947",
    "BE": "BE68 5390 0754 7034",
    "MT": "MT84 MALT 0110 0001 2345 MTLC AST0 01S",
}


def refused_field(call) -> tuple[str, str]:
    with pytest.raises(ValidationFailed) as refused:
        call()
    fields = refused.value.extra["fields"]
    assert len(fields) == 1
    ((field, messages),) = fields.items()
    return field, messages[0]


@pytest.mark.parametrize(("country", "iban"), sorted(VALID_IBANS.items()))
def test_valid_ibans_are_accepted_without_spaces_in_upper_case(country, iban):
    assert iban_validate(iban.lower(), country=country) == iban.replace(" ", "")


def test_the_mod97_of_a_valid_iban_is_one():
    assert iban_mod97("GB82WEST12345698765432") == 1


def test_an_iban_with_one_digit_changed_fails_its_checksum():
    field, message = refused_field(lambda: iban_validate("DE89370400440532013001", country="DE"))

    assert field == "iban"
    assert "check digits do not match" in message


def test_an_iban_of_the_wrong_length_for_its_country_is_refused_saying_the_length():
    field, message = refused_field(lambda: iban_validate("DE8937040044053201300", country="DE"))

    assert field == "iban"
    assert message == "An IBAN from DE has 22 characters; this one has 21."


def test_an_iban_of_another_country_than_the_account_is_refused():
    field, message = refused_field(lambda: iban_validate(VALID_IBANS["FR"], country="DE"))

    assert field == "iban"
    assert "for an account in FR" in message


def test_an_iban_with_an_unknown_country_prefix_is_refused():
    field, message = refused_field(lambda: iban_validate("XX89370400440532013000", country="XX"))

    assert field == "iban"
    assert "XX" in message


def test_an_iban_with_punctuation_inside_is_refused():
    field, _ = refused_field(lambda: iban_validate("DE89*370400440532013000", country="DE"))

    assert field == "iban"


def test_the_length_table_holds_the_registry_lengths_it_is_checked_against():
    assert (IBAN_LENGTHS["DE"], IBAN_LENGTHS["NO"], IBAN_LENGTHS["MT"], IBAN_LENGTHS["RU"]) == (
        22,
        15,
        31,
        33,
    )
    assert all(15 <= n <= 34 for n in IBAN_LENGTHS.values())


@pytest.mark.parametrize("routing", ["011000015", "021000021", "121000358", "322271627"])
def test_real_routing_numbers_pass_the_aba_checksum(routing):
    assert aba_checksum_ok(routing)
    assert routing_number_validate(routing) == routing


def test_a_routing_number_with_a_wrong_check_digit_is_refused():
    field, message = refused_field(lambda: routing_number_validate("011000016"))

    assert field == "routing_number"
    assert "check digit" in message


def test_a_routing_number_of_eight_digits_is_refused():
    field, message = refused_field(lambda: routing_number_validate("01100001"))

    assert (field, message) == ("routing_number", "A routing number has 9 digits.")


def test_a_routing_number_with_no_federal_reserve_prefix_is_refused():
    # 50 is no district; the checksum alone would let it through.
    assert aba_checksum_ok("500000005")
    field, _ = refused_field(lambda: routing_number_validate("500000005"))

    assert field == "routing_number"


def test_each_country_is_identified_by_its_scheme():
    assert [scheme_for_country(c) for c in ("US", "GB", "DE", "KE", "ng")] == [
        "us_aba",
        "gb_sort_code",
        "iban",
        "swift",
        "swift",
    ]


def test_us_details_need_a_routing_and_an_account_number():
    checked = bank_details_validate(
        "US",
        {
            "holder_name": " Ada  Lovelace ",
            "routing_number": "011000015",
            "account_number": "123456789",
        },
    )

    assert checked.fields == {
        "holder_name": "Ada Lovelace",
        "routing_number": "011000015",
        "account_number": "123456789",
    }
    assert bank_details_mask(checked) == "US account •••• 6789"


def test_a_missing_account_number_is_named():
    field, message = refused_field(
        lambda: bank_details_validate(
            "US", {"holder_name": "Ada", "routing_number": "011000015", "account_number": ""}
        )
    )

    assert (field, message) == ("account_number", "Enter the account number.")


def test_gb_details_take_a_sort_code_with_dashes_and_an_eight_digit_account():
    checked = bank_details_validate(
        "GB", {"holder_name": "Ada", "sort_code": "20-00-00", "account_number": "55779911"}
    )

    assert checked.fields["sort_code"] == "200000"
    assert bank_details_mask(checked) == "UK account •••• 9911"


def test_a_gb_sort_code_of_five_digits_is_refused():
    field, _ = refused_field(
        lambda: bank_details_validate(
            "GB", {"holder_name": "Ada", "sort_code": "20-00-0", "account_number": "55779911"}
        )
    )

    assert field == "sort_code"


def test_elsewhere_the_bic_must_be_of_a_bank_in_that_country():
    ok = bank_details_validate(
        "NG", {"holder_name": "Ada", "account_number": "0123456789", "bic": "FBNINGLA"}
    )
    field, message = refused_field(
        lambda: bank_details_validate(
            "NG", {"holder_name": "Ada", "account_number": "0123456789", "bic": "DEUTDEFF"}
        )
    )

    assert ok.scheme == "swift"
    assert (field, "in DE" in message) == ("bic", True)


def test_the_holder_name_is_required():
    field, _ = refused_field(lambda: bank_details_validate("DE", {"iban": VALID_IBANS["DE"]}))

    assert field == "holder_name"
