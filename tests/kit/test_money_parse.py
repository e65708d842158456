"""Reading amounts people type: exact micro-units, never a float, refused when not an amount."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kit.money import CURRENCY_EXPONENTS, Micros, MoneyError, format_micros, parse_micros


@pytest.mark.parametrize(
    ("text", "currency", "micros"),
    [
        ("0.0035", "USD", 3_500),
        ("1,500", "JPY", 1_500_000_000),
        ("0.125", "KWD", 125_000),
        (" 12 ", "EUR", 12_000_000),
        (".5", "USD", 500_000),
        ("-2.5", "USD", -2_500_000),
        ("0.000001", "USD", 1),
    ],
)
def test_typed_amounts_are_read_exactly(text, currency, micros):
    assert parse_micros(text, currency) == Micros(micros, currency)


@pytest.mark.parametrize("text", ["", ".", "abc", "1e3", "0.0000001", "1.2.3", "٣", "--1", "1-"])
def test_what_is_not_an_amount_is_refused(text):
    with pytest.raises(MoneyError):
        parse_micros(text, "USD")


def test_an_unknown_currency_is_refused():
    with pytest.raises(MoneyError):
        parse_micros("1", "XYZ")


@given(st.integers(-(10**15), 10**15), st.sampled_from(sorted(CURRENCY_EXPONENTS)))
def test_what_is_displayed_reads_back_to_the_same_amount(amount, currency):
    shown = format_micros(Micros(amount, currency), with_code=False)

    assert parse_micros(shown, currency) == Micros(amount, currency)
