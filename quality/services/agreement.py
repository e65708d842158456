"""Store each project's Krippendorff's alpha with the time it was computed (a periodic job).

Alpha cannot be summed over hours like the rollups' counters: it is computed whole, per project,
with the Quality page's own computation (`quality.reports.agreement`), for the projects with work
rolled up since it was last computed.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from labeling.models import Project
from quality.performance.models import PersonHour, ProjectAgreement
from quality.reports.agreement import agreement_report

HOUR = timedelta(hours=1)


def project_agreements_refresh(*, now: datetime | None = None) -> int:
    """Compute and store the agreement (Krippendorff's alpha for single labels) of every project
    with work rolled up since its last computation, or never computed; return how many. The
    periodic job: alpha cannot be summed over hours, so it is computed whole, per project."""
    now = now or timezone.now()
    computed = dict(ProjectAgreement.objects.values_list("project_id", "computed_at"))
    latest = PersonHour.objects.values("project_id").annotate(latest=Max("hour")).order_by()
    due = [
        row["project_id"]
        for row in latest
        if row["project_id"] not in computed or row["latest"] + HOUR > computed[row["project_id"]]
    ]
    for project in Project.objects.filter(pk__in=due).order_by("pk"):
        project_agreement_compute(project=project, now=now)
    return len(due)


@transaction.atomic
def project_agreement_compute(*, project: Project, now: datetime | None = None) -> ProjectAgreement:
    """Compute a project's agreement now (quality.reports.agreement) and store it with its time."""
    report = agreement_report(project=project)
    stored, _ = ProjectAgreement.objects.update_or_create(
        project_id=project.pk,
        defaults={
            "alpha": report.alpha,
            "label": report.alpha_label,
            "note": report.alpha_note,
            "annotations": report.annotations,
            "tasks": report.tasks,
            "is_capped": report.is_capped,
            "computed_at": now or timezone.now(),
        },
    )
    return stored
