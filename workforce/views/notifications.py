"""Portal pages of notifications: the person's list and their e-mail choices."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, URLResolver, path
from django.views.decorators.http import require_http_methods

from accounts.selectors import request_user
from core.errors import QuorumError
from workforce.models import NotificationKind
from workforce.selectors.notifications import notification_preferences_of, notifications_of
from workforce.services.notifications import (
    notification_mark_read,
    notification_preferences_set,
    notifications_mark_all_read,
)

PAGE_SIZE = 50


@login_required
@require_http_methods(["GET", "POST"])
def notification_list(request: HttpRequest) -> HttpResponse:
    """The person's notifications, newest first; mark one or all read."""
    user = request_user(request)
    if request.method == "POST":
        if request.POST.get("op") == "read-all":
            marked = notifications_mark_all_read(user=user)
            messages.success(request, f"{marked} marked read.")
        else:
            try:
                notification_id = int(request.POST.get("notification", ""))
                notification_mark_read(user=user, notification_id=notification_id)
            except (ValueError, QuorumError):
                messages.error(request, "No such notification.")
        return redirect("workforce:notifications")
    page = Paginator(notifications_of(user=user), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "workforce/notifications/list.html", {"page": page})


class PreferencesForm(forms.Form):
    def __init__(self, *args: object, initial_prefs: dict[str, bool], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]  # Form's untyped signature
        for kind, label in NotificationKind.choices:
            self.fields[kind] = forms.BooleanField(
                required=False, label=str(label), initial=initial_prefs.get(kind, False)
            )


@login_required
@require_http_methods(["GET", "POST"])
def preferences(request: HttpRequest) -> HttpResponse:
    """Choose which notifications also come by e-mail."""
    user = request_user(request)
    form = PreferencesForm(
        request.POST or None, initial_prefs=notification_preferences_of(user=user)
    )
    if request.method == "POST" and form.is_valid():
        notification_preferences_set(user=user, by_email=form.cleaned_data)
        messages.success(request, "Your e-mail choices are saved.")
        return redirect("workforce:notification_preferences")
    return render(request, "workforce/notifications/preferences.html", {"form": form})


urlpatterns: list[URLPattern | URLResolver] = [
    path("notifications/", notification_list, name="notifications"),
    path("notifications/preferences/", preferences, name="notification_preferences"),
]
