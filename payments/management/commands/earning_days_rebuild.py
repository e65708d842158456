from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from payments.services.earning_days import earning_days_rebuild


class Command(BaseCommand):
    help = (
        "Recompute the daily rollup of earnings (what the Earnings pages read) from the ledger, "
        "up to where the beat job has rolled it, in one transaction."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        outcome = earning_days_rebuild()
        self.stdout.write(
            f"The daily rollup of earnings holds the ledger through transaction "
            f"{outcome.rolled_through_id} ({outcome.cells} cells recomputed)."
        )
