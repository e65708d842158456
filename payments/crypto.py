"""Bank details at rest: encrypted with Fernet (AES-128-CBC with HMAC-SHA256, from the
`cryptography` package) under the keys of the PAYOUT_DETAILS_KEY setting.

MultiFernet takes the keys in order: the first encrypts, every one decrypts. To rotate, put a new
key first, keep the old ones, run `manage.py payout_details_rotate_key` (it re-encrypts every
stored value with the first key), then drop the old keys. Plain details exist only in memory,
for the moment a bank file is written; they are never logged or put in an error message.
"""

from __future__ import annotations

import json

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.views.decorators.debug import sensitive_variables


class PayoutDetailsUnreadable(RuntimeError):
    """Stored bank details cannot be decrypted with the configured keys (a key is missing or wrong)."""


def _keys() -> MultiFernet:
    keys = list(getattr(settings, "PAYOUT_DETAILS_KEYS", []) or [])
    if not keys:
        raise ImproperlyConfigured(
            "PAYOUT_DETAILS_KEY is not set: bank details cannot be stored or read. Set it to a "
            "Fernet key (python -c 'from cryptography.fernet import Fernet; "
            "print(Fernet.generate_key().decode())')."
        )
    fernets = []
    for position, key in enumerate(keys, start=1):
        try:
            fernets.append(Fernet(key.strip()))
        except (ValueError, TypeError):
            # The key itself is never printed.
            raise ImproperlyConfigured(
                f"Key {position} of PAYOUT_DETAILS_KEY is not a Fernet key "
                "(32 url-safe base64-encoded bytes)."
            ) from None
    return MultiFernet(fernets)


@sensitive_variables("details", "plain")
def details_encrypt(details: dict[str, str]) -> str:
    """Encrypt bank details (a dict of strings) with the first key; return the token as text."""
    plain = json.dumps(details, sort_keys=True, separators=(",", ":")).encode()
    return _keys().encrypt(plain).decode("ascii")


@sensitive_variables("plain", "data")
def details_decrypt(token: str) -> dict[str, str]:
    """Decrypt a stored token; raise PayoutDetailsUnreadable when no configured key opens it."""
    try:
        plain = _keys().decrypt(token.encode("ascii"))
    except InvalidToken:
        raise PayoutDetailsUnreadable(
            "Stored bank details cannot be decrypted with the keys in PAYOUT_DETAILS_KEY: the key "
            "they were encrypted with is missing or wrong. Restore it (old keys stay in the list "
            "after a rotation until `payout_details_rotate_key` has run)."
        ) from None
    data = json.loads(plain)
    return {str(k): str(v) for k, v in data.items()}


def details_reencrypt(token: str) -> str:
    """Re-encrypt a stored token with the first key (MultiFernet.rotate); raise
    PayoutDetailsUnreadable when no configured key opens it."""
    try:
        return _keys().rotate(token.encode("ascii")).decode("ascii")
    except InvalidToken:
        raise PayoutDetailsUnreadable(
            "Stored bank details cannot be re-encrypted: no key in PAYOUT_DETAILS_KEY opens them."
        ) from None
