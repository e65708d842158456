"""Portal pages for the home screen, API tokens, users and roles, and the audit trail."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from accounts.decorators import require_action
from accounts.forms import AuditFilterForm, RoleGrantForm, TokenCreateForm, UserSearchForm
from accounts.models import Role
from accounts.policy import Action, api_tokens_visible_to, audit_events_visible_to, users_visible_to
from accounts.selectors import request_user, role_counts, user_roles
from accounts.services import (
    api_token_create,
    api_token_revoke,
    role_grant,
    role_revoke,
    user_set_active,
)
from core.audit import audit_events_about
from core.errors import QuorumError
from core.forms import form_add_error

PAGE_SIZE = 50


def home(request: HttpRequest) -> HttpResponse:
    """Show each person the home page of their roles; visitors see sign-in and sign-up."""
    if not request.user.is_authenticated:
        return render(request, "accounts/landing.html")
    roles = user_roles(request.user)
    context: dict[str, object] = {"roles": roles}
    if Role.MANAGER in roles or Role.ADMIN in roles:
        context["role_counts"] = role_counts()
    if Role.ADMIN in roles or Role.FINANCE in roles:
        context["recent_events"] = audit_events_visible_to(request.user)[:10]
    if Role.CUSTOMER in roles:
        context["active_token_count"] = (
            api_tokens_visible_to(request.user)
            .filter(user=request_user(request), revoked_at__isnull=True)
            .count()
        )
    return render(request, "accounts/home.html", context)


@require_action(Action.TOKENS_MANAGE)
@require_http_methods(["GET", "POST"])
def token_list(request: HttpRequest) -> HttpResponse:
    """List this person's API tokens and create one; a new key is shown once, on this response."""
    form = TokenCreateForm(request.POST or None)
    new_key: str | None = None
    if request.method == "POST" and form.is_valid():
        days = form.cleaned_data["expires_in_days"]
        try:
            _, new_key = api_token_create(
                user=request_user(request),
                name=form.cleaned_data["name"],
                expires_at=timezone.now() + timedelta(days=days) if days else None,
                actor=request_user(request),
            )
            form = TokenCreateForm()
        except QuorumError as exc:
            form_add_error(form, exc)
    tokens = api_tokens_visible_to(request.user).filter(user=request_user(request))
    return render(
        request, "accounts/token_list.html", {"form": form, "tokens": tokens, "new_key": new_key}
    )


@require_action(Action.TOKENS_MANAGE)
@require_POST
def token_revoke(request: HttpRequest, token_id: int) -> HttpResponse:
    token = get_object_or_404(api_tokens_visible_to(request.user), pk=token_id)
    token = api_token_revoke(token=token, actor=request_user(request))
    if getattr(request, "htmx", False):  # an htmx click: swap just this row
        return render(request, "accounts/_token_row.html", {"t": token})
    messages.success(
        request, f"Token “{token.name}” is revoked; clients using it are refused from now on."
    )
    return redirect("accounts:token_list")


@require_action(Action.USERS_MANAGE)
def user_list(request: HttpRequest) -> HttpResponse:
    form = UserSearchForm(request.GET or None)
    # The annotator status shown comes from the workforce profile (the same as on People).
    users = (
        users_visible_to(request.user)
        .select_related("annotator_profile")
        .prefetch_related("role_grants")
    )
    if form.is_valid():
        if form.cleaned_data["q"]:
            q = form.cleaned_data["q"]
            users = users.filter(Q(email__icontains=q) | Q(full_name__icontains=q))
        if form.cleaned_data["role"]:
            users = users.filter(role_grants__role=form.cleaned_data["role"])
    page = Paginator(users, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "accounts/user_list.html", {"form": form, "page": page})


@require_action(Action.USERS_MANAGE)
@require_http_methods(["GET", "POST"])
def user_detail(request: HttpRequest, user_id: int) -> HttpResponse:
    """Show one user's roles; grant, change or revoke a role; activate or deactivate sign-in."""
    person = get_object_or_404(users_visible_to(request.user), pk=user_id)
    actor = request_user(request)
    form = RoleGrantForm(request.POST if request.POST.get("op") == "grant" else None)
    if request.method == "POST":
        op = request.POST.get("op")
        try:
            if op == "grant" and form.is_valid():
                role_grant(
                    user=person,
                    role=form.cleaned_data["role"],
                    level=form.cleaned_data["level"],
                    actor=actor,
                )
                messages.success(
                    request, f"{person.email} now holds {Role(form.cleaned_data['role']).label}."
                )
                return redirect("accounts:user_detail", user_id=person.pk)
            if op == "revoke":
                role = Role(request.POST.get("role", ""))
                role_revoke(user=person, role=role, actor=actor)
                messages.success(request, f"{person.email} no longer holds {role.label}.")
                return redirect("accounts:user_detail", user_id=person.pk)
            if op in {"activate", "deactivate"}:
                user_set_active(user=person, is_active=op == "activate", actor=actor)
                messages.success(request, f"{person.email} is {op}d.")
                return redirect("accounts:user_detail", user_id=person.pk)
        except ValueError:
            messages.error(request, "Unknown role.")
        except QuorumError as exc:
            form_add_error(form, exc)
    grants = person.role_grants.order_by("role")
    events = audit_events_about(audit_events_visible_to(request.user), person)[:20]
    return render(
        request,
        "accounts/user_detail.html",
        {"person": person, "grants": grants, "form": form, "events": events},
    )


@require_action(Action.AUDIT_VIEW)
def audit_list(request: HttpRequest) -> HttpResponse:
    form = AuditFilterForm(request.GET or None)
    events = audit_events_visible_to(request.user)
    if form.is_valid():
        data = form.cleaned_data
        if data["action"]:
            events = events.filter(action__startswith=data["action"])
        if data["actor"]:
            events = events.filter(actor__email__iexact=data["actor"].strip())
        tz = timezone.get_current_timezone()
        if data["since"]:
            events = events.filter(
                occurred_at__gte=datetime.combine(data["since"], time.min, tzinfo=tz)
            )
        if data["until"]:
            events = events.filter(
                occurred_at__lt=datetime.combine(data["until"], time.min, tzinfo=tz)
                + timedelta(days=1)
            )
    page = Paginator(events, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "accounts/audit_list.html", {"form": form, "page": page})
