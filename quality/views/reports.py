"""The Quality page of a project: agreement, each person's figures, reviewer accuracy, the
worker estimates (refreshed through labeling's consensus job), calibration on gold (ECE and a
reliability diagram) and the gold set.

Access and the project lookup are labeling's portal's (`labeling.portal`): the page shows the
same projects to the same people as the rest of the project's pages.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_GET, require_POST

from accounts.decorators import require_action
from accounts.policy import Action, can
from labeling import policy
from labeling.portal import (
    batches_for_request,
    labeling_access,
    project_for_request,
    result_summary,
)
from labeling.selectors import person_names
from labeling.services.consensus import consensus_confusions_estimate_queue
from labeling.services.reaggregation import reaggregation_applies, reaggregation_progress
from quality.forms import QualityFilterForm
from quality.reports import project as figures
from quality.reports.agreement import agreement_report
from quality.reports.calibration import gold_calibration
from quality.reports.confusions import CONFUSIONS_MAX, confusions_apply, confusions_of
from quality.reports.gold import gold_set
from quality.reports.people import people_sorted
from quality.reports.worker_confusion import (
    REFERENCE_FINAL,
    REFERENCES,
    worker_confusion_applies,
    worker_confusions,
)
from workforce.selectors.teams import profiles_managed_by

PEOPLE_PER_PAGE = 50
_PEOPLE_COLUMNS = (
    ("person", "Person"),
    ("labels", "Labels"),
    ("gold", "Gold accuracy"),
    ("review", "Review pass rate"),
    ("agreement", "Agrees with result"),
    ("kappa", "Kappa vs result"),
    ("mean_agreement", "Mean agreement"),
    ("active", "Active s / label"),
    ("skips", "Skips"),
)


def _people_columns(request: HttpRequest, sort: str) -> list[dict[str, str]]:
    """The people table's headings, each a link that sorts by it (again: the other way round)."""
    columns = []
    for key, heading in _PEOPLE_COLUMNS:
        state = "ascending" if sort == key else "descending" if sort == f"-{key}" else ""
        wanted = key if sort == f"-{key}" else f"-{key}"
        query = {k: str(v) for k, v in request.GET.items() if k not in {"sort", "page"}}
        query["sort"] = wanted
        columns.append(
            {"heading": heading, "url": f"?{urlencode(query)}#people", "state": state, "key": key}
        )
    return columns


@labeling_access
@require_GET
def project_quality(request: HttpRequest, project_id: int) -> HttpResponse:
    """Agreement of the project (and of one batch), each person's figures, reviewer accuracy,
    the confusion estimates and the gold set. A fixed number of queries."""
    project = project_for_request(request, project_id)
    form = QualityFilterForm(request.GET or None, batches=batches_for_request(request, project))
    batch_id: int | None = None
    sort: str | None = None
    if form.is_valid():
        batch_id = form.cleaned_data["batch"]
        sort = form.cleaned_data["sort"] or None
    if batch_id is None:
        quality = figures.project_quality(project=project)
        project_agreement, batch_agreement = quality.agreement, None
    else:
        project_agreement = agreement_report(project=project)
        quality = figures.project_quality(project=project, batch_id=batch_id)
        batch_agreement = quality.agreement
    people, sort = people_sorted([p for p in quality.people.people if p.is_annotator], sort)
    page = Paginator(people, PEOPLE_PER_PAGE).get_page(request.GET.get("page"))
    reviewers = sorted(
        (p for p in quality.people.people if p.is_reviewer),
        key=lambda p: (-p.reviews_given, p.user_id),
    )
    confusions = list(confusions_of(project)[:CONFUSIONS_MAX])
    gold_rows, gold_total = gold_set(project=project)
    calibration = gold_calibration(project=project)
    # The pairs shown are those of the last scope: the batch when one is chosen.
    pairs = (batch_agreement or project_agreement).pairs
    # Names for those who may see who the workers are (labeling staff); numbers for the rest.
    names = person_names(
        user_ids=[p.user_id for p in page]
        + [p.user_id for p in reviewers]
        + [c.user_id for c in confusions]
        + [user_id for pair in pairs for user_id in (pair.first, pair.second)],
        with_contact=policy.is_labeling_staff(request.user),
    )
    return render(
        request,
        "quality/project_quality.html",
        {
            "project": project,
            "form": form,
            "batch_id": batch_id,
            "agreements": [("The whole project", project_agreement)]
            + ([(f"Batch #{batch_id}", batch_agreement)] if batch_agreement else []),
            "people_report": quality.people,
            "pairs": [
                (pair, names.get(pair.first, ""), names.get(pair.second, "")) for pair in pairs
            ],
            "page": page,
            "people": [(p, names.get(p.user_id, "")) for p in page],
            "columns": _people_columns(request, sort),
            "reviewers": [(p, names.get(p.user_id, "")) for p in reviewers],
            "confusions": [(c, names.get(c.user_id, "")) for c in confusions],
            "confusions_apply": confusions_apply(project),
            "reaggregation": reaggregation_progress(project)
            if reaggregation_applies(project)
            else None,
            "gold_rows": [(row, result_summary(row.result)) for row in gold_rows],
            "gold_total": gold_total,
            "calibration": calibration,
            "sees_people": can(request.user, Action.PEOPLE_VIEW),
            "calibration_chart": calibration.chart_data(),
        },
    )


@labeling_access
@require_POST
def confusions_refresh(request: HttpRequest, project_id: int) -> HttpResponse:
    """Queue a fresh estimate of each person's confusion matrix (single-label consensus)."""
    project = project_for_request(request, project_id)
    if not confusions_apply(project):
        messages.error(request, "Confusion estimates apply to single-label consensus projects.")
    else:
        consensus_confusions_estimate_queue(project=project)
        messages.success(
            request, "The estimates are being refreshed; reload this page in a moment."
        )
    return redirect(
        reverse("quality:project_quality", kwargs={"project_id": project.pk}) + "#confusions"
    )


@require_action(Action.PEOPLE_VIEW)
@require_GET
def worker_confusions_page(request: HttpRequest, project_id: int) -> HttpResponse:
    """Each person's observed confusion matrix in a single-label project, with counts and each
    row's accuracy and 95% interval; a manager sees only the people they manage."""
    project = get_object_or_404(policy.projects_managed_by(request.user), pk=project_id)
    if not worker_confusion_applies(project):
        raise Http404("Confusion matrices apply to single-label projects.")
    reference = request.GET.get("reference", REFERENCE_FINAL)
    if reference not in REFERENCES:
        reference = REFERENCE_FINAL
    people = worker_confusions(
        project=project,
        user_ids=profiles_managed_by(request.user).values("user_id"),
        reference=reference,
    )
    page = Paginator(people, PEOPLE_PER_PAGE).get_page(request.GET.get("page"))
    names = person_names(user_ids=[p.user_id for p in page], with_contact=True)
    return render(
        request,
        "quality/worker_confusions.html",
        {
            "project": project,
            "reference": reference,
            "references": REFERENCES,
            "page": page,
            "people": [(p, names.get(p.user_id, "")) for p in page],
        },
    )
