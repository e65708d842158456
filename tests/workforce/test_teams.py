"""Teams: a manager sees and manages only the people and projects of their teams, through the API
and the portal; administrators see everything; moves are audited; members see announcements."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import Role
from core.errors import Conflict, NotFound, ValidationFailed
from core.models import AuditEvent
from labeling.services.projects import project_access_set
from tests.factories import make_team, make_user
from tests.labeling.factories import make_project, make_worker
from workforce.models import AnnotatorProfile, TeamMembership
from workforce.services.teams import team_announcement_post, team_member_add, team_member_move

pytestmark = pytest.mark.django_db


@pytest.fixture
def manager_client(client, manager):
    client.force_login(manager)
    return client


@pytest.fixture
def other_team():
    """A team the manager does not manage, with one annotator in it."""
    return make_team("Other team", members=[make_user(Role.ANNOTATOR)])


def outsider_of(team):
    return team.memberships.get().user


# --- People ----------------------------------------------------------------------------------


def test_a_manager_gets_404_through_the_api_for_a_person_outside_their_teams(
    manager_client, make_member, other_team
):
    outsider = outsider_of(other_team)
    member = make_member()
    before = AnnotatorProfile.objects.get(user=outsider).status

    listed = manager_client.get("/api/v1/people/").json()
    detail = manager_client.get(f"/api/v1/people/{outsider.pk}/")
    status = manager_client.post(
        f"/api/v1/people/{outsider.pk}/status/",
        {"status": "active"},
        content_type="application/json",
    )

    assert [row["user_id"] for row in listed["results"]] == [member.pk]
    assert detail.status_code == 404
    assert detail.json()["code"] == "not_found"
    assert status.status_code == 404
    assert AnnotatorProfile.objects.get(user=outsider).status == before


def test_a_manager_gets_404_in_the_portal_for_a_person_outside_their_teams(
    manager_client, make_member, other_team
):
    outsider = outsider_of(other_team)
    member = make_member()

    page = manager_client.get("/people/").content.decode()
    detail = manager_client.get(f"/people/{outsider.pk}/")
    change = manager_client.post(f"/people/{outsider.pk}/", {"op": "status", "status": "active"})

    assert member.email in page
    assert outsider.email not in page
    assert detail.status_code == 404
    assert change.status_code == 404
    assert manager_client.get(f"/people/{member.pk}/").status_code == 200


def test_a_manager_with_no_team_sees_nobody(client):
    make_user(Role.ANNOTATOR)
    client.force_login(make_user(Role.MANAGER, mfa=True))

    assert client.get("/api/v1/people/").json()["count"] == 0


def test_an_administrator_sees_every_person(client, make_member, other_team):
    member = make_member()
    client.force_login(make_user(Role.ADMIN, mfa=True))

    emails = {row["email"] for row in client.get("/api/v1/people/").json()["results"]}

    assert {member.email, outsider_of(other_team).email} <= emails
    assert client.get(f"/people/{outsider_of(other_team).pk}/").status_code == 200


# --- Projects --------------------------------------------------------------------------------


def test_a_manager_gets_404_for_a_project_limited_to_other_teams(
    manager_client, managed_team, other_team
):
    theirs = make_project()
    project_access_set(project=theirs, teams=[other_team], actor=None)
    ours = make_project()
    project_access_set(project=ours, teams=[managed_team], actor=None)
    open_to_all = make_project()

    listed = {row["id"] for row in manager_client.get("/api/v1/projects/").json()["results"]}

    assert listed == {ours.pk, open_to_all.pk}
    assert manager_client.get(f"/api/v1/projects/{theirs.pk}/").status_code == 404
    assert manager_client.get(f"/projects/{theirs.pk}/").status_code == 404
    assert manager_client.get(f"/projects/{ours.pk}/").status_code == 200


def test_an_administrator_sees_projects_limited_to_any_team(client, other_team):
    theirs = make_project()
    project_access_set(project=theirs, teams=[other_team], actor=None)
    client.force_login(make_user(Role.ADMIN, mfa=True))

    assert client.get(f"/api/v1/projects/{theirs.pk}/").status_code == 200
    assert client.get(f"/projects/{theirs.pk}/").status_code == 200


def test_the_project_api_sets_teams_and_requirements(manager_client, managed_team):
    from workforce.models import Skill

    Skill.objects.create(slug="ner-en", name="English NER")
    Skill.objects.create(slug="spam", name="Spam")
    project = make_project()

    response = manager_client.patch(
        f"/api/v1/projects/{project.pk}/",
        {
            "teams": [managed_team.pk],
            "requirements": [
                {"skill": "ner-en", "comparator": "at_least", "level": 2},
                {"skill": "spam", "comparator": "lacks"},
            ],
        },
        content_type="application/json",
    )

    assert response.status_code == 200, response.json()
    assert response.json()["teams"] == [managed_team.pk]
    assert response.json()["requirements"] == [
        {"skill": "ner-en", "comparator": "at_least", "level": 2},
        {"skill": "spam", "comparator": "lacks", "level": None},
    ]
    assert AuditEvent.objects.filter(action="project.access_changed").count() == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"teams": [999999]}, "teams"),
        ({"requirements": [{"skill": "nope", "comparator": "lacks"}]}, "requirements[0].skill"),
        (
            {"requirements": [{"skill": "ner-en", "comparator": "at_least", "level": 11}]},
            "requirements[0].level",
        ),
        (
            {"requirements": [{"skill": "ner-en", "comparator": "lacks", "level": 2}]},
            "requirements[0].level",
        ),
        (
            {"requirements": [{"skill": "ner-en", "comparator": "most"}]},
            "requirements[0].comparator",
        ),
    ],
)
def test_bad_teams_or_requirements_are_refused_naming_the_field(manager_client, body, field):
    from workforce.models import Skill

    Skill.objects.create(slug="ner-en", name="English NER")
    project = make_project()

    response = manager_client.patch(
        f"/api/v1/projects/{project.pk}/", body, content_type="application/json"
    )

    assert response.status_code == 400
    assert field in response.json()["extra"]["fields"]
    assert not project.requirements.exists() and not project.teams.exists()


def test_a_manager_cannot_limit_a_project_to_a_team_they_do_not_manage(manager_client, other_team):
    project = make_project()

    response = manager_client.patch(
        f"/api/v1/projects/{project.pk}/",
        {"teams": [other_team.pk]},
        content_type="application/json",
    )

    assert response.status_code == 400
    assert "teams" in response.json()["extra"]["fields"]


# --- Teams, members, moves -------------------------------------------------------------------


def test_a_manager_sees_only_their_teams_and_cannot_create_one(
    manager_client, managed_team, other_team
):
    listed = manager_client.get("/api/v1/teams/").json()
    other = manager_client.get(f"/api/v1/teams/{other_team.pk}/")
    create = manager_client.post(
        "/api/v1/teams/", {"name": "Mine"}, content_type="application/json"
    )

    assert [row["id"] for row in listed["results"]] == [managed_team.pk]
    assert other.status_code == 404
    assert manager_client.get(f"/teams/{other_team.pk}/").status_code == 404
    assert create.status_code == 403


def test_an_administrator_creates_teams_with_clear_errors(client):
    client.force_login(make_user(Role.ADMIN, mfa=True))

    made = client.post("/api/v1/teams/", {"name": "Night shift"}, content_type="application/json")
    again = client.post("/api/v1/teams/", {"name": "night shift"}, content_type="application/json")

    assert made.status_code == 201
    assert again.status_code == 400
    assert "name" in again.json()["extra"]["fields"]


def test_moving_a_member_between_teams_is_audited(client):
    admin = make_user(Role.ADMIN, mfa=True)
    person = make_user(Role.ANNOTATOR)
    day, night = make_team("Day", members=[person]), make_team("Night")
    client.force_login(admin)

    response = client.post(
        f"/api/v1/teams/{day.pk}/move/",
        {"user": person.pk, "to_team": night.pk, "reason": "Prefers nights"},
        content_type="application/json",
    )

    assert response.status_code == 200
    assert TeamMembership.objects.get(user=person).team == night
    event = AuditEvent.objects.get(action="team.member_moved")
    assert event.actor == admin
    assert event.target_id == str(person.pk)
    assert event.before["team"] == day.pk
    assert event.after == {
        "team": night.pk,
        "team_name": "Night",
        "role": "member",
        "reason": "Prefers nights",
    }


def test_a_move_needs_a_reason_and_a_manager_cannot_move_someone_into_a_team_not_theirs(
    manager_client, make_member, managed_team, other_team
):
    member = make_member()

    no_reason = manager_client.post(
        f"/api/v1/teams/{managed_team.pk}/move/",
        {"user": member.pk, "to_team": other_team.pk, "reason": " "},
        content_type="application/json",
    )
    elsewhere = manager_client.post(
        f"/api/v1/teams/{managed_team.pk}/move/",
        {"user": member.pk, "to_team": other_team.pk, "reason": "why not"},
        content_type="application/json",
    )

    assert no_reason.status_code == 400
    assert elsewhere.status_code == 404
    assert TeamMembership.objects.get(user=member).team == managed_team


def test_a_manager_moves_a_member_in_the_portal(client, manager, make_member, managed_team):
    second = make_team("Second", managers=[manager])
    member = make_member()
    client.force_login(manager)

    response = client.post(
        f"/teams/{managed_team.pk}/",
        {"op": "move", "user": member.pk, "to_team": second.pk, "reason": "Needs French work"},
    )

    assert response.status_code == 302
    assert TeamMembership.objects.get(user=member).team == second
    assert AuditEvent.objects.get(action="team.member_moved").after["reason"] == "Needs French work"


def test_a_person_is_in_one_team_at_a_time():
    person = make_user(Role.ANNOTATOR)
    make_team("A", members=[person])

    with pytest.raises(Conflict):
        team_member_add(team=make_team("B"), user=person, actor=None)


def test_a_move_from_a_team_the_person_is_not_in_is_refused():
    person = make_user(Role.ANNOTATOR)
    a, b = make_team("A"), make_team("B", members=[person])

    with pytest.raises(NotFound, match="is not in A"):
        team_member_move(user=person, from_team=a, to_team=b, actor=None, reason="x")


# --- Announcements ---------------------------------------------------------------------------


def test_members_see_their_teams_announcement_on_their_home_page_and_others_do_not(client):
    member, outsider = make_worker(), make_worker()
    team = make_team("Day", members=[member])
    make_team("Night", members=[outsider])
    now = timezone.now()
    team_announcement_post(team=team, title="Holiday hours", body="Closed on Friday.", actor=None)
    team_announcement_post(
        team=team,
        title="Old news",
        body="Gone.",
        expires_at=now + timedelta(minutes=1),
        actor=None,
        now=now - timedelta(minutes=5),
    )

    client.force_login(member)
    seen = client.get("/work/").content.decode()
    client.force_login(outsider)
    unseen = client.get("/work/").content.decode()

    assert "Holiday hours" in seen and "Closed on Friday." in seen
    assert "Holiday hours" not in unseen


def test_an_announcement_that_expired_is_not_shown(client):
    member = make_worker()
    team = make_team("Day", members=[member])
    then = timezone.now() - timedelta(days=2)
    team_announcement_post(
        team=team,
        title="Yesterday only",
        body="Over.",
        expires_at=then + timedelta(days=1),
        actor=None,
        now=then,
    )
    client.force_login(member)

    assert "Yesterday only" not in client.get("/work/").content.decode()


def test_an_announcement_needs_a_title_and_body(manager_client, managed_team):
    response = manager_client.post(
        f"/api/v1/teams/{managed_team.pk}/announcements/",
        {"title": "", "body": ""},
        content_type="application/json",
    )

    assert response.status_code == 400
    with pytest.raises(ValidationFailed) as refused:
        team_announcement_post(team=managed_team, title="t", body="", actor=None)
    assert "body" in refused.value.extra["fields"]


def test_a_manager_posts_an_announcement_members_read_through_the_api(manager_client, managed_team):
    posted = manager_client.post(
        f"/api/v1/teams/{managed_team.pk}/announcements/",
        {"title": "Welcome", "body": "Read the guide."},
        content_type="application/json",
    )
    listed = manager_client.get(f"/api/v1/teams/{managed_team.pk}/announcements/").json()

    assert posted.status_code == 201
    assert [row["title"] for row in listed["results"]] == ["Welcome"]


def test_a_manager_can_add_people_in_no_team_but_not_take_them_from_another_team(
    manager_client, managed_team, other_team
):
    newcomer = make_user(Role.ANNOTATOR)

    added = manager_client.post(
        f"/api/v1/teams/{managed_team.pk}/members/",
        {"user": newcomer.pk},
        content_type="application/json",
    )
    taken = manager_client.post(
        f"/api/v1/teams/{managed_team.pk}/members/",
        {"user": outsider_of(other_team).pk},
        content_type="application/json",
    )

    assert added.status_code == 201
    assert taken.status_code == 404
    assert TeamMembership.objects.get(user=outsider_of(other_team)).team == other_team


def test_the_teams_members_and_projects_lists_do_a_constant_number_of_queries(client):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.force_login(make_user(Role.ADMIN, mfa=True))
    team = make_team("Big")

    def grow(n):
        for _ in range(n):
            other = make_team(members=[make_user(Role.ANNOTATOR)])
            team_member_add(team=team, user=make_user(Role.ANNOTATOR), actor=None)
            project_access_set(project=make_project(), teams=[team, other], actor=None)

    def count():
        with CaptureQueriesContext(connection) as queries:
            for url in ("/api/v1/teams/", f"/api/v1/teams/{team.pk}/members/", "/api/v1/projects/"):
                assert client.get(url).status_code == 200
        return len(queries)

    grow(2)
    few = count()
    grow(5)

    assert count() == few


def test_the_team_pages_show_members_and_forms_to_their_manager(
    manager_client, make_member, managed_team
):
    member = make_member()
    team_announcement_post(team=managed_team, title="Shift swap", body="Friday.", actor=None)

    listing = manager_client.get("/teams/").content.decode()
    page = manager_client.get(f"/teams/{managed_team.pk}/").content.decode()

    assert "Managed team" in listing
    assert member.email in page and "Shift swap" in page
    assert 'value="announce"' in page and 'value="add"' in page
    assert 'value="manager"' not in page  # assigning managers is for administrators
    assert "<script>" not in page
