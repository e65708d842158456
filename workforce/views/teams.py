"""Portal pages of teams, their members, managers and announcements.

Administrators see every team, create teams and assign managers; a manager sees the teams they
manage and, there, adds, removes and moves people and posts announcements. Other teams are 404.
"""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, URLResolver, path
from django.views.decorators.http import require_http_methods

from accounts.decorators import require_action
from accounts.models import User
from accounts.policy import Action, can
from accounts.selectors import request_user
from core.errors import QuorumError
from core.forms import form_add_error
from workforce.models import Team, TeamRole
from workforce.selectors.teams import (
    people_placeable_by,
    team_announcements,
    team_get_for,
    team_list_for,
    team_members,
    teams_visible_to,
)
from workforce.services.teams import (
    team_announcement_post,
    team_create,
    team_lead_set,
    team_manager_assign,
    team_manager_unassign,
    team_member_add,
    team_member_move,
    team_member_remove,
)


class TeamForm(forms.Form):
    name = forms.CharField(max_length=100)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))


class MemberAddForm(forms.Form):
    email = forms.EmailField(label="Person's e-mail")
    role = forms.ChoiceField(choices=TeamRole.choices, initial=TeamRole.MEMBER)


class MoveForm(forms.Form):
    user = forms.TypedChoiceField(coerce=int, label="Person")
    to_team = forms.TypedChoiceField(coerce=int, label="Move to")
    reason = forms.CharField(max_length=300, label="Why")

    def __init__(self, *args: Any, members: Any, teams: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        people = cast(forms.TypedChoiceField, self.fields["user"])
        people.choices = [(m.user_id, m.user.email) for m in members]
        destinations = cast(forms.TypedChoiceField, self.fields["to_team"])
        destinations.choices = [(t.pk, t.name) for t in teams]


class ManagerForm(forms.Form):
    email = forms.EmailField(label="Manager's e-mail")


class AnnouncementForm(forms.Form):
    title = forms.CharField(max_length=150)
    body = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}))
    expires_at = forms.DateTimeField(
        required=False,
        label="Shown until",
        help_text="Optional, e.g. 2026-12-31 18:00 (UTC).",
    )


@require_action(Action.PEOPLE_VIEW)
@require_http_methods(["GET", "POST"])
def team_list(request: HttpRequest) -> HttpResponse:
    """The teams the person sees; administrators create new ones here."""
    is_admin = can(request.user, Action.USERS_MANAGE)
    form = TeamForm(request.POST or None)
    if request.method == "POST":
        if not is_admin:
            raise Http404
        if form.is_valid():
            try:
                team = team_create(actor=request_user(request), **form.cleaned_data)
            except QuorumError as exc:
                form_add_error(form, exc)
            else:
                messages.success(request, f"Team {team.name} created.")
                return redirect("workforce:team", team_id=team.pk)
    return render(
        request,
        "workforce/teams/list.html",
        {"teams": team_list_for(request.user), "form": form, "is_admin": is_admin},
    )


@require_action(Action.PEOPLE_VIEW)
@require_http_methods(["GET", "POST"])
def team_detail(request: HttpRequest, team_id: int) -> HttpResponse:
    """One team: its members (add, remove, lead, move), managers and announcements."""
    team = team_get_for(request.user, team_id=team_id)
    if team is None:
        raise Http404("No such team.")
    actor = request_user(request)
    is_admin = can(request.user, Action.USERS_MANAGE)
    may_manage = can(request.user, Action.PEOPLE_MANAGE)
    op = request.POST.get("op", "")
    members = list(team_members(team=team))
    other_teams = [t for t in teams_visible_to(request.user) if t.pk != team.pk]
    add_form = MemberAddForm(request.POST if op == "add" else None)
    move_form = MoveForm(request.POST if op == "move" else None, members=members, teams=other_teams)
    manager_form = ManagerForm(request.POST if op == "manager" else None)
    announce_form = AnnouncementForm(request.POST if op == "announce" else None)
    forms_by_op: dict[str, forms.Form] = {
        "add": add_form,
        "move": move_form,
        "manager": manager_form,
        "announce": announce_form,
    }
    if request.method == "POST":
        if not may_manage or (op in {"manager", "unmanage"} and not is_admin):
            raise Http404
        try:
            done = _team_post(request, team, op, forms_by_op, actor)
        except QuorumError as exc:
            form_add_error(forms_by_op.get(op, add_form), exc)
        else:
            if done is not None:
                messages.success(request, done)
                return redirect("workforce:team", team_id=team.pk)
    return render(
        request,
        "workforce/teams/detail.html",
        {
            "team": team,
            "members": members,
            "announcements": team_announcements(team=team)[:20],
            "add_form": add_form,
            "move_form": move_form,
            "manager_form": manager_form,
            "announce_form": announce_form,
            "is_admin": is_admin,
            "may_manage": may_manage,
            "has_other_teams": bool(other_teams),
        },
    )


def _team_post(
    request: HttpRequest, team: Team, op: str, by_op: dict[str, forms.Form], actor: User
) -> str | None:
    """Carry out one form of the team page; the success message, or None when a form is invalid."""
    people = people_placeable_by(request.user)
    if op == "add" and by_op["add"].is_valid():
        data = by_op["add"].cleaned_data
        person = people.filter(email__iexact=data["email"]).first()
        if person is None:
            by_op["add"].add_error("email", "No annotator you manage has this e-mail.")
            return None
        team_member_add(team=team, user=person, role=data["role"], actor=actor)
        return f"{person.email} joined {team.name}."
    if op in {"remove", "lead", "unlead"}:
        person = people.filter(pk=request.POST.get("user") or 0).first()
        if person is None:
            raise Http404
        if op == "remove":
            team_member_remove(team=team, user=person, actor=actor)
            return f"{person.email} left {team.name}."
        team_lead_set(team=team, user=person, is_lead=op == "lead", actor=actor)
        return f"{person.email} is {'now a lead' if op == 'lead' else 'a member'}."
    if op == "move" and by_op["move"].is_valid():
        data = by_op["move"].cleaned_data
        person = people.filter(pk=data["user"]).first()
        to_team = teams_visible_to(request.user).filter(pk=data["to_team"]).first()
        if person is None or to_team is None:
            raise Http404
        team_member_move(
            user=person, from_team=team, to_team=to_team, actor=actor, reason=data["reason"]
        )
        return f"{person.email} moved to {to_team.name}."
    if op == "manager" and by_op["manager"].is_valid():
        manager = User.objects.filter(email__iexact=by_op["manager"].cleaned_data["email"]).first()
        if manager is None:
            by_op["manager"].add_error("email", "Nobody has this e-mail.")
            return None
        team_manager_assign(team=team, user=manager, actor=actor)
        return f"{manager.email} now manages {team.name}."
    if op == "unmanage":
        manager = User.objects.filter(pk=request.POST.get("user") or 0).first()
        if manager is None:
            raise Http404
        team_manager_unassign(team=team, user=manager, actor=actor)
        return f"{manager.email} no longer manages {team.name}."
    if op == "announce" and by_op["announce"].is_valid():
        team_announcement_post(team=team, actor=actor, **by_op["announce"].cleaned_data)
        return "Announcement posted."
    return None


urlpatterns: list[URLPattern | URLResolver] = [
    path("teams/", team_list, name="teams"),
    path("teams/<id:team_id>/", team_detail, name="team"),
]
