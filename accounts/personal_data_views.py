"""Portal pages for personal data: "My data" for everyone, erasure requests for administrators."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from accounts.api.personal_data import personal_data_response
from accounts.decorators import require_action
from accounts.erasure import (
    erasure_request_cancel,
    erasure_request_create,
    erasure_request_execute,
    erasure_request_reject,
)
from accounts.models import ErasureStatus
from accounts.personal_data import personal_data_sections
from accounts.policy import Action, erasure_requests_visible_to
from accounts.selectors import request_user
from core.errors import QuorumError
from core.forms import form_add_error

PAGE_SIZE = 50


class ErasureConfirmForm(forms.Form):
    confirm = forms.BooleanField(
        label="I understand that erasure cannot be undone and that I will no longer be able to sign in.",
    )


class ErasureExecuteForm(forms.Form):
    confirm = forms.BooleanField(
        label="Erase this person's personal data now. This cannot be undone.",
    )


class ErasureRejectForm(forms.Form):
    note = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        label="Why the request is rejected",
        help_text="The person reads this, e.g. the legal obligation that keeps the data.",
    )


class ErasureFilterForm(forms.Form):
    status = forms.ChoiceField(required=False, choices=[("", "Any status"), *ErasureStatus.choices])


@login_required
@require_http_methods(["GET", "POST"])
def my_data(request: HttpRequest) -> HttpResponse:
    """Explain what Quorum keeps, offer the download, and take or withdraw an erasure request."""
    user = request_user(request)
    form = ErasureConfirmForm(request.POST if request.POST.get("op") == "request" else None)
    if request.method == "POST":
        try:
            if request.POST.get("op") == "request" and form.is_valid():
                erasure_request_create(user=user, requested_by=user)
                messages.success(
                    request,
                    "Your erasure request is recorded; an administrator will execute it.",
                )
                return redirect("accounts:my_data")
            if request.POST.get("op") == "cancel":
                open_request = (
                    erasure_requests_visible_to(user)
                    .filter(user_id=user.pk, status=ErasureStatus.REQUESTED)
                    .first()
                )
                if open_request is not None:
                    erasure_request_cancel(request=open_request, actor=user)
                    messages.success(request, "Your erasure request is withdrawn.")
                return redirect("accounts:my_data")
        except QuorumError as exc:
            form_add_error(form, exc)
    latest = erasure_requests_visible_to(user).filter(user_id=user.pk).first()
    return render(
        request,
        "accounts/my_data.html",
        {
            "sections": sorted(personal_data_sections(), key=lambda s: s.name),
            "latest": latest,
            "form": form,
        },
    )


@login_required
@require_GET
def my_data_download(request: HttpRequest) -> StreamingHttpResponse:
    """Stream the signed-in person's data as a JSON file; there is no way to name anyone else."""
    return personal_data_response(request_user(request))


@require_action(Action.PERSONAL_DATA_ERASE)
def erasure_list(request: HttpRequest) -> HttpResponse:
    form = ErasureFilterForm(request.GET or None)
    requests = erasure_requests_visible_to(request.user).order_by("-requested_at", "-pk")
    if form.is_valid() and form.cleaned_data["status"]:
        requests = requests.filter(status=form.cleaned_data["status"])
    page = Paginator(requests, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "accounts/erasure_list.html", {"form": form, "page": page})


@require_action(Action.PERSONAL_DATA_ERASE)
@require_http_methods(["GET", "POST"])
def erasure_detail(request: HttpRequest, request_id: int) -> HttpResponse:
    """Show one request; execute it (with confirmation) or reject it with a reason."""
    erasure = get_object_or_404(erasure_requests_visible_to(request.user), pk=request_id)
    actor = request_user(request)
    op = request.POST.get("op")
    execute_form = ErasureExecuteForm(request.POST if op == "execute" else None)
    reject_form = ErasureRejectForm(request.POST if op == "reject" else None)
    if request.method == "POST":
        try:
            if op == "execute" and execute_form.is_valid():
                erasure_request_execute(request=erasure, actor=actor)
                messages.success(request, f"The personal data of user {erasure.user_id} is erased.")
                return redirect("accounts:erasure_detail", request_id=erasure.pk)
            if op == "reject" and reject_form.is_valid():
                erasure_request_reject(
                    request=erasure, actor=actor, note=reject_form.cleaned_data["note"]
                )
                messages.success(request, "The request is rejected; the person can read why.")
                return redirect("accounts:erasure_detail", request_id=erasure.pk)
        except QuorumError as exc:
            form_add_error(execute_form if op == "execute" else reject_form, exc)
    return render(
        request,
        "accounts/erasure_detail.html",
        {"erasure": erasure, "execute_form": execute_form, "reject_form": reject_form},
    )
