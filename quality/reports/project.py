"""The Quality page's figures of a project: agreement and people together, from one load."""

from __future__ import annotations

from dataclasses import dataclass

from labeling.models import Project
from quality.reports.agreement import PAIR_MIN_ITEMS, AgreementReport, agreement_of_rows
from quality.reports.people import PeopleReport, people_of_rows
from quality.reports.scope import (
    ANNOTATION_ROWS_MAX,
    annotation_rows_load,
)


@dataclass(frozen=True)
class QualityReport:
    agreement: AgreementReport
    people: PeopleReport


def project_quality(
    *,
    project: Project,
    batch_id: int | None = None,
    rows_max: int = ANNOTATION_ROWS_MAX,
    min_pair_items: int = PAIR_MIN_ITEMS,
) -> QualityReport:
    """Agreement and per-person figures together, from one load of the annotations (six queries)."""
    loaded = annotation_rows_load(project, batch_id, rows_max)
    return QualityReport(
        agreement=agreement_of_rows(
            project, loaded, batch_id=batch_id, rows_max=rows_max, min_pair_items=min_pair_items
        ),
        people=people_of_rows(project, loaded, batch_id=batch_id, rows_max=rows_max),
    )
