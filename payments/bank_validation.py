"""Bank details, checked before they are stored: which details a country's banks use, and their
checksums. Plain functions, no database.

- **IBAN** countries (the SWIFT IBAN registry's length table below): the IBAN's country must be
  the account's, its length that country's, its characters letters and digits, and its ISO 7064
  mod-97 check must give 1.
- **United States**: an ABA routing number (9 digits, a valid Federal Reserve prefix, and the
  3-7-1 weighted checksum) and an account number of 4 to 17 digits.
- **United Kingdom**: a sort code (6 digits) and an account number (8 digits). Banks' own
  modulus checks (Pay.UK's tables) are not applied; the bank's report names a wrong account.
- **Everywhere else**: an account number and the bank's SWIFT/BIC code, whose country must be the
  account's.

Each function returns the normalised details or raises ValidationFailed naming the bad field.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from core.errors import ValidationFailed

# Total IBAN length per country (SWIFT IBAN registry).
IBAN_LENGTHS: dict[str, int] = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22,
    "BI": 27, "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DJ": 27,
    "DK": 18, "DO": 28, "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FK": 18, "FO": 18, "FR": 27,
    "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28, "HR": 21, "HU": 28, "IE": 22,
    "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32,
    "LI": 21, "LT": 20, "LU": 20, "LV": 21, "LY": 25, "MC": 27, "MD": 24, "ME": 22, "MK": 19,
    "MN": 20, "MR": 27, "MT": 31, "MU": 30, "NI": 28, "NL": 18, "NO": 15, "OM": 23, "PK": 24,
    "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "RU": 33, "SA": 24, "SC": 31,
    "SD": 18, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "SO": 23, "ST": 25, "SV": 28, "TL": 23,
    "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20, "YE": 30,
}  # fmt: skip

# The schemes, by the fields a person fills in.
IBAN = "iban"
US_ABA = "us_aba"
GB_SORT_CODE = "gb_sort_code"
SWIFT = "swift"

SCHEME_FIELDS: dict[str, tuple[str, ...]] = {
    IBAN: ("iban", "bic"),
    US_ABA: ("routing_number", "account_number"),
    GB_SORT_CODE: ("sort_code", "account_number"),
    SWIFT: ("account_number", "bic"),
}
# Fields a scheme accepts but does not require.
OPTIONAL_FIELDS: dict[str, frozenset[str]] = {IBAN: frozenset({"bic"})}

FIELD_LABELS: dict[str, str] = {
    "holder_name": "Account holder's name",
    "iban": "IBAN",
    "bic": "SWIFT/BIC code",
    "routing_number": "Routing number (ABA)",
    "account_number": "Account number",
    "sort_code": "Sort code",
}

_BIC = re.compile(r"^[A-Z]{4}([A-Z]{2})[A-Z0-9]{2}([A-Z0-9]{3})?$")
_ALNUM = re.compile(r"^[A-Z0-9]+$")
# ABA prefixes: Federal Reserve districts (01-12), thrifts (21-32), electronic (61-72, 80).
_ABA_PREFIXES = {*range(0, 13), *range(21, 33), *range(61, 73), 80}


@dataclass(frozen=True)
class CheckedDetails:
    """Bank details that passed their country's checks, normalised (no spaces, upper case)."""

    scheme: str
    country: str
    fields: dict[str, str]

    @property
    def last4(self) -> str:
        """The last four characters of the number that identifies the account."""
        number = self.fields.get("iban") or self.fields.get("account_number", "")
        return number[-4:]


def scheme_for_country(country: str) -> str:
    """The details a bank account in `country` (ISO 3166 alpha-2) is identified by."""
    country = country.upper()
    if country == "US":
        return US_ABA
    if country == "GB":
        return GB_SORT_CODE
    if country in IBAN_LENGTHS:
        return IBAN
    return SWIFT


def _refuse(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(message, fields={field: [message]})


def _compact(value: str) -> str:
    return re.sub(r"[\s\-./]", "", value or "").upper()


def iban_mod97(iban: str) -> int:
    """ISO 7064 MOD 97-10 of an IBAN (1 for a valid one): the first four characters move to the
    end and letters become numbers (A = 10 ... Z = 35)."""
    rearranged = iban[4:] + iban[:4]
    digits = "".join(str(int(ch, 36)) for ch in rearranged)
    return int(digits) % 97


def iban_validate(value: str, *, country: str) -> str:
    """Return the IBAN without spaces, upper case; raise ValidationFailed (field `iban`)."""
    iban = _compact(value)
    country = country.upper()
    if not iban:
        raise _refuse("iban", "Enter your IBAN.")
    if not _ALNUM.match(iban):
        raise _refuse("iban", "An IBAN has only letters and digits.")
    prefix = iban[:2]
    if prefix not in IBAN_LENGTHS:
        raise _refuse(
            "iban", f"An IBAN starts with a country code; “{prefix}” is not one that uses IBANs."
        )
    if prefix != country:
        raise _refuse(
            "iban",
            f"This IBAN is for an account in {prefix}, but you said the account is in {country}.",
        )
    expected = IBAN_LENGTHS[prefix]
    if len(iban) != expected:
        raise _refuse(
            "iban", f"An IBAN from {prefix} has {expected} characters; this one has {len(iban)}."
        )
    if not iban[2:4].isdigit() or iban_mod97(iban) != 1:
        raise _refuse("iban", "This IBAN's check digits do not match: please check for a typo.")
    return iban


def bic_validate(value: str, *, country: str) -> str:
    """Return a SWIFT/BIC code (8 or 11 characters) of a bank in `country`."""
    bic = _compact(value)
    match = _BIC.match(bic)
    if not match:
        raise _refuse(
            "bic",
            "A SWIFT/BIC code has 8 or 11 characters: 4 letters for the bank, 2 for its country, "
            "then 2 letters or digits (and 3 more for a branch).",
        )
    if match.group(1) != country.upper():
        raise _refuse(
            "bic",
            f"This SWIFT/BIC code is of a bank in {match.group(1)}, not in {country.upper()}.",
        )
    return bic


def aba_checksum_ok(routing: str) -> bool:
    """The ABA routing number's checksum: 3, 7, 1 weights over its 9 digits sum to a multiple of 10."""
    d = [int(ch) for ch in routing]
    return (3 * (d[0] + d[3] + d[6]) + 7 * (d[1] + d[4] + d[7]) + (d[2] + d[5] + d[8])) % 10 == 0


def routing_number_validate(value: str) -> str:
    """Return a US ABA routing number; raise ValidationFailed (field `routing_number`)."""
    routing = _compact(value)
    if not re.fullmatch(r"\d{9}", routing):
        raise _refuse("routing_number", "A routing number has 9 digits.")
    if int(routing[:2]) not in _ABA_PREFIXES:
        raise _refuse("routing_number", "This is not a US bank's routing number.")
    if not aba_checksum_ok(routing):
        raise _refuse(
            "routing_number",
            "This routing number's check digit does not match: please check for a typo.",
        )
    return routing


def _account_number(value: str, *, pattern: str, message: str) -> str:
    number = _compact(value)
    if not re.fullmatch(pattern, number):
        raise _refuse("account_number", message)
    return number


def holder_name_validate(value: str) -> str:
    name = " ".join((value or "").split())
    if not name:
        raise _refuse("holder_name", "Enter the account holder's name as the bank knows it.")
    if len(name) > 140:
        raise _refuse("holder_name", "The account holder's name has at most 140 characters.")
    return name


def bank_details_validate(country: str, raw: Mapping[str, str]) -> CheckedDetails:
    """Check the details of an account in `country` by its scheme; return them normalised.

    `raw` holds `holder_name` and the scheme's fields (others are ignored). Raises
    ValidationFailed naming the first bad field.
    """
    country = (country or "").upper()
    if not re.fullmatch(r"[A-Z]{2}", country):
        raise _refuse("country", "Choose the country of the bank account.")
    scheme = scheme_for_country(country)
    fields = {"holder_name": holder_name_validate(raw.get("holder_name", ""))}
    optional = OPTIONAL_FIELDS.get(scheme, frozenset())
    for name in SCHEME_FIELDS[scheme]:
        if name not in optional and not _compact(raw.get(name, "")):
            raise _refuse(name, f"Enter the {FIELD_LABELS[name].lower()}.")
    if scheme == IBAN:
        fields["iban"] = iban_validate(raw["iban"], country=country)
        if _compact(raw.get("bic", "")):
            fields["bic"] = bic_validate(raw["bic"], country=country)
    elif scheme == US_ABA:
        fields["routing_number"] = routing_number_validate(raw["routing_number"])
        fields["account_number"] = _account_number(
            raw["account_number"],
            pattern=r"\d{4,17}",
            message="A US account number has 4 to 17 digits.",
        )
    elif scheme == GB_SORT_CODE:
        sort_code = _compact(raw["sort_code"])
        if not re.fullmatch(r"\d{6}", sort_code):
            raise _refuse("sort_code", "A sort code has 6 digits, e.g. 20-00-00.")
        fields["sort_code"] = sort_code
        fields["account_number"] = _account_number(
            raw["account_number"], pattern=r"\d{8}", message="A UK account number has 8 digits."
        )
    else:
        fields["account_number"] = _account_number(
            raw["account_number"],
            pattern=r"[A-Z0-9]{4,34}",
            message="An account number has 4 to 34 letters or digits.",
        )
        fields["bic"] = bic_validate(raw["bic"], country=country)
    return CheckedDetails(scheme=scheme, country=country, fields=fields)


SCHEME_LABELS: dict[str, str] = {
    IBAN: "IBAN",
    US_ABA: "US account",
    GB_SORT_CODE: "UK account",
    SWIFT: "Bank account",
}


def bank_details_mask(details: CheckedDetails) -> str:
    """The details as anyone may see them once saved: the scheme and the last four characters."""
    return f"{SCHEME_LABELS[details.scheme]} •••• {details.last4}"
