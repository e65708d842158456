"""Money arithmetic: integer amounts with a currency, exact rounding, display. No Django.

Two units are used, both integers:

- **minor units** (cents for USD, yen for JPY, fils for KWD): what balances that can be paid out
  and payouts are counted in; a currency's *exponent* (ISO 4217) says how many minor units make
  one major unit (USD 2 -> 100, JPY 0 -> 1, KWD 3 -> 1000);
- **micro-units**: one millionth of a major unit, for sub-cent rates (e.g. 0.0035 USD per task
  is 3500 micros). Every currency has 1,000,000 micros per major unit, so micros divide evenly
  into minor units for every exponent up to 6.

Micros become minor units only through `micros_to_minor`, which rounds down and returns the
remainder to carry, so no micro-unit is ever lost or created. There are no floats here;
`Decimal` is used only to format for display.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

MICROS_PER_MAJOR = 1_000_000

# ISO 4217 exponents (minor units per major unit = 10 ** exponent) of the currencies Quorum pays in.
CURRENCY_EXPONENTS: dict[str, int] = {
    "AUD": 2,
    "BHD": 3,
    "BRL": 2,
    "CAD": 2,
    "CHF": 2,
    "CLP": 0,
    "EUR": 2,
    "GBP": 2,
    "IDR": 2,
    "INR": 2,
    "ISK": 0,
    "JOD": 3,
    "JPY": 0,
    "KES": 2,
    "KRW": 0,
    "KWD": 3,
    "MXN": 2,
    "NGN": 2,
    "OMR": 3,
    "PHP": 2,
    "PKR": 2,
    "TND": 3,
    "UGX": 0,
    "USD": 2,
    "VND": 0,
    "ZAR": 2,
}

CURRENCY_SYMBOLS: dict[str, str] = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "INR": "₹"}


class MoneyError(ValueError):
    """Money used wrongly: an unknown currency, two currencies mixed, a non-integer amount."""


class UnknownCurrency(MoneyError):
    pass


class CurrencyMismatch(MoneyError):
    pass


def currency_exponent(currency: str) -> int:
    """Return the ISO 4217 exponent of `currency`; raise UnknownCurrency for a code not listed."""
    try:
        return CURRENCY_EXPONENTS[currency]
    except KeyError:
        raise UnknownCurrency(
            f"Unknown currency {currency!r}: use one of {', '.join(sorted(CURRENCY_EXPONENTS))}."
        ) from None


def micros_per_minor(currency: str) -> int:
    """How many micro-units make one minor unit of `currency` (10,000 for USD, 1,000,000 for JPY)."""
    return MICROS_PER_MAJOR // 10 ** currency_exponent(currency)


def _check_int(value: object, name: str) -> int:
    # bool is an int subclass; True cents is a bug, not an amount.
    if not isinstance(value, int) or isinstance(value, bool):
        raise MoneyError(f"{name} must be an integer, not {type(value).__name__}.")
    return value


@dataclass(frozen=True, slots=True)
class Micros:
    """An amount in micro-units (1e-6 of a major unit) of one currency."""

    amount: int
    currency: str

    def __post_init__(self) -> None:
        _check_int(self.amount, "amount")
        currency_exponent(self.currency)

    def _same(self, other: Micros) -> None:
        if not isinstance(other, Micros):
            raise MoneyError(f"Cannot combine micro-units with {type(other).__name__}.")
        if other.currency != self.currency:
            raise CurrencyMismatch(f"Cannot mix {self.currency} and {other.currency}.")

    def __add__(self, other: Micros) -> Micros:
        self._same(other)
        return Micros(self.amount + other.amount, self.currency)

    def __sub__(self, other: Micros) -> Micros:
        self._same(other)
        return Micros(self.amount - other.amount, self.currency)

    def __neg__(self) -> Micros:
        return Micros(-self.amount, self.currency)

    def times(self, count: int) -> Micros:
        """Return this amount `count` times (a per-task rate times a number of tasks)."""
        return Micros(self.amount * _check_int(count, "count"), self.currency)


@dataclass(frozen=True, slots=True)
class Minor:
    """An amount in minor units (cents, yen, fils) of one currency."""

    amount: int
    currency: str

    def __post_init__(self) -> None:
        _check_int(self.amount, "amount")
        currency_exponent(self.currency)

    def _same(self, other: Minor) -> None:
        if not isinstance(other, Minor):
            raise MoneyError(f"Cannot combine minor units with {type(other).__name__}.")
        if other.currency != self.currency:
            raise CurrencyMismatch(f"Cannot mix {self.currency} and {other.currency}.")

    def __add__(self, other: Minor) -> Minor:
        self._same(other)
        return Minor(self.amount + other.amount, self.currency)

    def __sub__(self, other: Minor) -> Minor:
        self._same(other)
        return Minor(self.amount - other.amount, self.currency)

    def __neg__(self) -> Minor:
        return Minor(-self.amount, self.currency)

    def to_micros(self) -> Micros:
        """Return the same amount in micro-units (exact)."""
        return Micros(self.amount * micros_per_minor(self.currency), self.currency)


def micros_to_minor(micros: Micros) -> tuple[Minor, Micros]:
    """Round `micros` DOWN (towards minus infinity) to whole minor units; return them and the
    remainder to carry, which is always 0 <= remainder < one minor unit.

    `minor.to_micros() + remainder == micros` exactly: nothing is lost or created.
    """
    step = micros_per_minor(micros.currency)
    whole, remainder = divmod(micros.amount, step)
    return Minor(whole, micros.currency), Micros(remainder, micros.currency)


def sum_micros(amounts: list[Micros], currency: str) -> Micros:
    """Add amounts of one currency (an empty list is zero); raise CurrencyMismatch on a mix."""
    total = Micros(0, currency)
    for amount in amounts:
        total = total + amount
    return total


def format_minor(amount: Minor, *, with_code: bool = True) -> str:
    """Display minor units with the currency's decimals: `Minor(123456, "USD")` -> "1,234.56 USD"."""
    exponent = currency_exponent(amount.currency)
    major = Decimal(amount.amount).scaleb(-exponent)
    text = f"{major:,.{exponent}f}"
    return f"{text} {amount.currency}" if with_code else text


def format_micros(amount: Micros, *, with_code: bool = True) -> str:
    """Display micro-units exactly, with at least the currency's decimals and up to six
    (a rate of 0.0035 USD shows as "0.0035 USD"; 1.5 USD as "1.50 USD")."""
    exponent = currency_exponent(amount.currency)
    major = Decimal(amount.amount).scaleb(-6)
    text = f"{major:,.6f}".rstrip("0")
    decimals = len(text.partition(".")[2])
    if decimals < exponent:
        text = f"{major:,.{exponent}f}"
    text = text.rstrip(".")
    return f"{text} {amount.currency}" if with_code else text


_AMOUNT_TEXT = re.compile(r"^(?P<sign>-?)(?P<whole>[0-9]*)(?:\.(?P<fraction>[0-9]*))?$")


def parse_micros(text: str, currency: str) -> Micros:
    """Read a decimal amount typed by a person ("0.0035", "1,500", "-2.5") as exact micro-units
    of `currency`. Raise MoneyError for anything else (more than six decimals, an exponent, a
    word, an unknown currency). No float is involved."""
    currency_exponent(currency)
    cleaned = text.strip().replace(",", "")
    match = _AMOUNT_TEXT.match(cleaned)
    if match is None or not (match["whole"] or match["fraction"]):
        raise MoneyError(
            f"{text!r} is not an amount: write digits and a decimal point, e.g. 0.0035."
        )
    fraction = match["fraction"] or ""
    if len(fraction) > 6:
        raise MoneyError(f"{text!r} has more than 6 decimals; amounts are kept to 1e-6 of a unit.")
    amount = int(match["whole"] or "0") * MICROS_PER_MAJOR + int(fraction.ljust(6, "0"))
    return Micros(-amount if match["sign"] else amount, currency)
