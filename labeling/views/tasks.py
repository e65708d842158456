"""Portal pages of tasks: a project's task list, one task with its provenance, and its gold answer."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Substr
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from accounts.selectors import request_user
from core.errors import QuorumError
from labeling import policy
from labeling.forms.tasks import GoldAnswerForm, GoldRetireForm, TaskFilterForm
from labeling.models import GoldAnswer, Task, TaskStatus
from labeling.portal import EXCERPT_CHARS, labeling_access, project_for_request, result_summary
from labeling.selectors import gold_task_scores, person_names
from labeling.services import gold as gold_services

TASKS_PER_PAGE = 50


def _pretty(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True)


def _task_rows(tasks: QuerySet[Task]) -> QuerySet[Task]:
    """Tasks with a short text excerpt and image URL read by the database, not their whole data."""
    return tasks.defer("data", "meta", "pre_annotation").annotate(
        text_excerpt=Substr(KeyTextTransform("text", "data"), 1, EXCERPT_CHARS + 1),
        image_url=KeyTextTransform("image", "data"),
    )


@labeling_access
@require_GET
def task_list(request: HttpRequest, project_id: int) -> HttpResponse:
    project = project_for_request(request, project_id)
    form = TaskFilterForm(request.GET or None)
    tasks = policy.tasks_managed_by(request.user).filter(project=project).order_by("id")
    if form.is_valid():
        if form.cleaned_data["status"]:
            tasks = tasks.filter(status=form.cleaned_data["status"])
        if form.cleaned_data["batch"]:
            tasks = tasks.filter(import_job_id=form.cleaned_data["batch"])
    page = Paginator(_task_rows(tasks), TASKS_PER_PAGE).get_page(request.GET.get("page"))
    rows = [(task, result_summary(task.result)) for task in page]
    return render(
        request,
        "labeling/task_list.html",
        {"project": project, "form": form, "page": page, "rows": rows},
    )


def _task(request: HttpRequest, task_id: int) -> Task:
    return get_object_or_404(
        policy.tasks_managed_by(request.user).select_related("project", "project__customer"),
        pk=task_id,
    )


def _can_become_gold(task: Task) -> bool:
    return not task.is_gold and task.status == TaskStatus.OPEN and task.annotations_count == 0


def _render_task(request: HttpRequest, task: Task, **forms: GoldAnswerForm) -> HttpResponse:
    """Render the task page; `forms` are bound gold forms that failed, shown with their errors."""
    annotations = list(task.annotations.order_by("submitted_at", "pk"))
    reviews = list(task.reviews.order_by("created_at", "pk"))
    names = person_names(
        user_ids=[a.author_id for a in annotations] + [r.reviewer_id for r in reviews],
        with_contact=policy.is_labeling_staff(request.user),
    )
    context: dict[str, Any] = {
        "task": task,
        "project": task.project,
        "data_json": _pretty(task.data),
        "meta_json": _pretty(task.meta) if task.meta else "",
        "pre_annotation_json": _pretty(task.pre_annotation)
        if task.pre_annotation is not None
        else "",
        "result_json": _pretty(task.result) if task.result is not None else "",
        "annotations": [(a, _pretty(a.result), names.get(a.author_id, "")) for a in annotations],
        "reviews": [(r, names.get(r.reviewer_id, "")) for r in reviews],
        "gold": None,
        "gold_form": None,
        "make_gold_form": None,
    }
    if task.is_gold:
        answer = GoldAnswer.objects.filter(task_id=task.pk).first()
        if answer is not None:
            scores, mean = gold_task_scores(task_id=task.pk)
            context["gold"] = {
                "answer": answer,
                "answer_json": _pretty(answer.result),
                "scores": scores,
                "mean": mean,
            }
            context["gold_form"] = forms.get("gold_form") or GoldAnswerForm(
                initial={"answer": _pretty(answer.result), "explanation": answer.explanation}
            )
    elif "make_gold_form" in forms or _can_become_gold(task):
        context["make_gold_form"] = forms.get("make_gold_form") or GoldAnswerForm()
    for name in ("gold_form", "make_gold_form"):
        if context[name] is not None:
            context[name].auto_id = f"{name.replace('_', '-')}-%s"
    return render(request, "labeling/task_detail.html", context)


@labeling_access
@require_GET
def task_detail(request: HttpRequest, task_id: int) -> HttpResponse:
    """One task: what annotators saw, the customer's metadata, the result and its provenance
    (annotations, corrections, reviews); for a gold task its answer, which can be fixed."""
    return _render_task(request, _task(request, task_id))


@labeling_access
@require_POST
def task_gold_set(request: HttpRequest, task_id: int) -> HttpResponse:
    """Make a task nobody worked on gold, or fix the answer of a gold task (its scores are
    recomputed)."""
    task = _task(request, task_id)
    form = GoldAnswerForm(request.POST)
    form_name = "gold_form" if task.is_gold else "make_gold_form"
    if form.is_valid():
        try:
            answer = gold_services.gold_answer_set(
                task=task,
                result=form.cleaned_data["answer"],
                explanation=form.cleaned_data["explanation"],
                actor=request_user(request),
            )
        except QuorumError as exc:
            form.add_service_error(exc)
        else:
            if answer.version == 1:
                messages.success(
                    request, f"Task #{task.pk} is now gold; it is mixed into people's work."
                )
            else:
                scores, _ = gold_task_scores(task_id=task.pk)
                messages.success(
                    request,
                    f"The answer is fixed (version {answer.version}); "
                    f"{scores} score{'' if scores == 1 else 's'} recomputed.",
                )
            return redirect(reverse("labeling:task_detail", kwargs={"task_id": task.pk}))
    return _render_task(request, task, **{form_name: form})


@labeling_access
@require_POST
def task_gold_retire(request: HttpRequest, task_id: int) -> HttpResponse:
    """Retire a gold task (no longer served; its scores stay) or restore it."""
    task = _task(request, task_id)
    form = GoldRetireForm(request.POST)
    back = reverse("labeling:task_detail", kwargs={"task_id": task.pk})
    if not form.is_valid():
        messages.error(request, "Choose retire or restore.")
        return redirect(back)
    if form.cleaned_data["back"] == "quality":
        # The quality app's page of the project (a link by name: labeling imports no quality code).
        back = reverse("quality:project_quality", kwargs={"project_id": task.project_id})
        back += "#gold"
    retired = bool(form.cleaned_data["retired"])
    try:
        gold_services.gold_retire(task=task, actor=request_user(request), retired=retired)
    except QuorumError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            f"Gold task #{task.pk} is retired: nobody is given it any more."
            if retired
            else f"Gold task #{task.pk} is served again.",
        )
    return redirect(back)
