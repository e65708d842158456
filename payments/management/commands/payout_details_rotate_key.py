"""Re-encrypt every stored bank detail with the first key of PAYOUT_DETAILS_KEY (key rotation)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from payments.crypto import PayoutDetailsUnreadable
from payments.services.payout_accounts import bank_details_rotate_key


class Command(BaseCommand):
    help = (
        "Re-encrypt stored bank details with the first key of PAYOUT_DETAILS_KEY. Put the new key "
        "first, keep the old ones, run this, then remove the old keys."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            done = bank_details_rotate_key()
        except PayoutDetailsUnreadable as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"Re-encrypted {done} set(s) of bank details with the first key.")
