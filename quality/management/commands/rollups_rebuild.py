from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.timestamps import TimestampInvalid, parse_timestamp
from labeling.models import Project
from quality.performance.rollups import rollups_rebuild
from quality.services.agreement import project_agreement_compute


class Command(BaseCommand):
    help = (
        "Recompute the hourly performance rollups from raw data, for every project or one "
        "(--project), from the earliest work or --since (an ISO date or time) to now; then "
        "recompute the agreement of the projects rebuilt. Safe to run while the beat job runs."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--project", type=int, help="A project id: rebuild only its rows.")
        parser.add_argument("--since", help="An ISO 8601 date or time: rebuild from its hour.")

    def handle(self, *args: Any, **options: Any) -> None:
        project = None
        if options["project"] is not None:
            project = Project.objects.filter(pk=options["project"]).first()
            if project is None:
                raise CommandError(f"--project: No project has the id {options['project']}.")
        since = None
        if options["since"]:
            try:
                since = parse_timestamp(options["since"])
            except TimestampInvalid as exc:
                raise CommandError(f"--since: {exc}") from exc
        outcome = rollups_rebuild(project_id=project.pk if project else None, since=since)
        projects = [project] if project is not None else Project.objects.order_by("pk")
        for each in projects:
            project_agreement_compute(project=each)
        self.stdout.write(
            f"Rebuilt {outcome.hours} hours: {outcome.rows} person-hour rows written, "
            f"{outcome.deleted} removed."
        )
