from __future__ import annotations

import getpass
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.services import RoleSpec, user_create
from core.errors import QuorumError


class Command(BaseCommand):
    help = (
        "Create a user with roles, e.g. "
        "`create_user --email ana@example.com --role reviewer:2 --role annotator`. "
        "Managers, finance and admins are asked to set up MFA at their first sign-in."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--email", required=True)
        parser.add_argument("--name", default="", help="Full name.")
        parser.add_argument(
            "--role",
            action="append",
            default=[],
            help="A role (annotator, reviewer:LEVEL, manager, finance, admin, customer); repeatable.",
        )
        parser.add_argument("--password", help="Omit to be asked (or to set none with --no-input).")
        parser.add_argument(
            "--no-input", action="store_true", help="Do not prompt; no password if none given."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            roles = [RoleSpec.parse(text) for text in options["role"]]
        except QuorumError as exc:
            raise CommandError(f"--role: {exc.message}") from exc
        password = options["password"]
        if password is None and not options["no_input"]:
            password = getpass.getpass("Password: ")
            if password != getpass.getpass("Password (again): "):
                raise CommandError("The passwords do not match.")
        try:
            user = user_create(
                email=options["email"],
                password=password or None,
                full_name=options["name"],
                roles=roles,
                email_verified=True,
            )
        except QuorumError as exc:
            raise CommandError(exc.message) from exc
        held = (
            ", ".join(f"{r.role.value}{f':{r.level}' if r.level else ''}" for r in roles)
            or "no roles"
        )
        self.stdout.write(self.style.SUCCESS(f"Created {user.email} ({held})."))
