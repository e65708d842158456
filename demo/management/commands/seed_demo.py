from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from demo.services import DEMO_TOTP_SECRET, DEMO_USERS, demo_seed
from demo.teams import NIGHT_MANAGER, NIGHT_MANAGER_PASSWORD


class Command(BaseCommand):
    help = "Create the demo users (one per role) and sample data; safe to run again."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--force",
            action="store_true",
            help="Seed even with DEBUG off (never on a real installation).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG and not options["force"]:
            raise CommandError(
                "seed_demo creates accounts with published passwords; it runs only with DEBUG=true "
                "(or --force on a throw-away database)."
            )
        report = demo_seed()
        out = self.stdout
        out.write(
            self.style.SUCCESS(
                f"Demo data ready ({len(report.created)} people and things created this time)."
            )
        )
        out.write("")
        # SITE_URL is the address people open (`make run` sets it from HOST and PORT).
        out.write(f"Sign in at {settings.SITE_URL.rstrip('/')}/accounts/login/ with:")
        for spec in DEMO_USERS:
            roles = ", ".join(
                f"{r.role.value}{f' L{r.level}' if r.level else ''}" for r in spec.roles
            )
            out.write(f"  {roles:<22} {spec.email:<26} {spec.password}")
        out.write(f"  {'manager (night shift)':<22} {NIGHT_MANAGER:<26} {NIGHT_MANAGER_PASSWORD}")
        out.write("")
        out.write(
            "Managers, finance and admins must pass two-factor authentication. Either add this secret"
        )
        out.write(f"to an authenticator app: {DEMO_TOTP_SECRET}  or use a one-time recovery code:")
        for email, codes in report.recovery_codes.items():
            out.write(f"  {email:<26} {'  '.join(codes)}")
        for email, key in report.new_tokens.items():
            out.write("")
            out.write(f"API token for {email} (shown once): {key}")
