"""Money arithmetic: exact rounding with the remainder carried, currencies never mixed."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kit.money import (
    CURRENCY_EXPONENTS,
    CurrencyMismatch,
    Micros,
    Minor,
    MoneyError,
    UnknownCurrency,
    format_micros,
    format_minor,
    micros_per_minor,
    micros_to_minor,
    sum_micros,
)

CURRENCIES = st.sampled_from(sorted(CURRENCY_EXPONENTS))
AMOUNTS = st.integers(min_value=-(10**15), max_value=10**15)


def test_the_exponent_table_follows_iso_4217():
    expected = {"USD": 2, "EUR": 2, "GBP": 2, "JPY": 0, "KWD": 3, "INR": 2, "KES": 2, "NGN": 2}

    assert {code: CURRENCY_EXPONENTS[code] for code in expected} == expected
    assert CURRENCY_EXPONENTS["PHP"] == 2


def test_micros_per_minor_unit_depends_on_the_exponent():
    assert micros_per_minor("USD") == 10_000
    assert micros_per_minor("JPY") == 1_000_000
    assert micros_per_minor("KWD") == 1_000


@given(amount=AMOUNTS, currency=CURRENCIES)
def test_rounding_down_and_the_carried_remainder_never_lose_or_create_a_micro_unit(
    amount, currency
):
    micros = Micros(amount, currency)

    minor, remainder = micros_to_minor(micros)

    assert minor.to_micros() + remainder == micros
    assert 0 <= remainder.amount < micros_per_minor(currency)
    assert minor.to_micros().amount <= amount


@given(rates=st.lists(st.integers(min_value=0, max_value=50_000), max_size=60))
@pytest.mark.parametrize("currency", ["JPY", "KWD"])
def test_carrying_the_remainder_across_releases_pays_exactly_the_rounded_down_total(
    currency, rates
):
    carried = Micros(0, currency)
    paid = Minor(0, currency)

    for rate in rates:
        whole, carried = micros_to_minor(carried + Micros(rate, currency))
        paid = paid + whole

    total = sum_micros([Micros(r, currency) for r in rates], currency)
    assert paid.to_micros() + carried == total
    assert paid == micros_to_minor(total)[0]


def test_a_zero_decimal_currency_rounds_a_sub_yen_amount_down_to_nothing():
    minor, remainder = micros_to_minor(Micros(999_999, "JPY"))

    assert minor == Minor(0, "JPY")
    assert remainder == Micros(999_999, "JPY")


def test_a_three_decimal_currency_keeps_fils():
    minor, remainder = micros_to_minor(Micros(1_234_567, "KWD"))

    assert minor == Minor(1_234, "KWD")
    assert remainder == Micros(567, "KWD")


def test_rounding_a_negative_amount_goes_down_and_keeps_a_positive_remainder():
    minor, remainder = micros_to_minor(Micros(-15_000, "USD"))

    assert minor == Minor(-2, "USD")
    assert remainder == Micros(5_000, "USD")


def test_mixing_currencies_is_refused_with_both_named():
    with pytest.raises(CurrencyMismatch, match="USD and EUR"):
        Micros(1, "USD") + Micros(1, "EUR")
    with pytest.raises(CurrencyMismatch):
        Minor(1, "USD") - Minor(1, "JPY")
    with pytest.raises(CurrencyMismatch):
        sum_micros([Micros(1, "USD"), Micros(1, "GBP")], "USD")


def test_minor_and_micro_units_are_not_added_together():
    with pytest.raises(MoneyError):
        Micros(1, "USD") + Minor(1, "USD")


def test_an_unknown_currency_is_refused():
    with pytest.raises(UnknownCurrency, match="XYZ"):
        Micros(1, "XYZ")


@pytest.mark.parametrize("amount", [1.5, "3", True])
def test_an_amount_that_is_not_an_integer_is_refused(amount):
    with pytest.raises(MoneyError, match="integer"):
        Micros(amount, "USD")


@pytest.mark.parametrize(
    ("amount", "text"),
    [
        (Minor(123456, "USD"), "1,234.56 USD"),
        (Minor(-5, "USD"), "-0.05 USD"),
        (Minor(1500, "JPY"), "1,500 JPY"),
        (Minor(1234, "KWD"), "1.234 KWD"),
    ],
)
def test_minor_units_are_shown_with_the_currencys_decimals(amount, text):
    assert format_minor(amount) == text


@pytest.mark.parametrize(
    ("amount", "text"),
    [
        (Micros(3500, "USD"), "0.0035 USD"),
        (Micros(1_500_000, "USD"), "1.50 USD"),
        (Micros(2_000_000, "JPY"), "2 JPY"),
        (Micros(500_000, "JPY"), "0.5 JPY"),
        (Micros(1_000, "KWD"), "0.001 KWD"),
        (Micros(-1, "EUR"), "-0.000001 EUR"),
    ],
)
def test_micro_units_are_shown_exactly(amount, text):
    assert format_micros(amount) == text
