"""Demo teams (idempotent): two shifts with a manager each, a lead, members, an announcement, and
a project limited to one of them, so a newcomer sees team scoping and the claim's team limit.

Call `demo_teams_seed(totp_secret=DEMO_TOTP_SECRET)` from `demo.services.demo_seed` after the
demo users, the extra annotators and `demo_projects_seed` exist (it needs "demo-data-co").
"""

from __future__ import annotations

from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import TOTP

from accounts.models import Role, User
from accounts.services import RoleSpec, user_create
from labeling.models import Customer, Project
from labeling.services.imports.batches import tasks_create
from labeling.services.projects import project_access_set, project_create
from workforce.models import Team, TeamMembership
from workforce.services.teams import (
    team_announcement_post,
    team_create,
    team_lead_set,
    team_manager_assign,
    team_member_add,
)

NIGHT_MANAGER = "nightmanager@demo.quorum"
NIGHT_MANAGER_PASSWORD = "demo-manager-pass"  # noqa: S105  (demo only, published)

# (team, description, manager, lead, members)
TEAMS: tuple[tuple[str, str, str, str, tuple[str, ...]], ...] = (
    (
        "Day shift",
        "Africa and Europe: Nairobi, Accra, Amman, Berlin.",
        "manager@demo.quorum",
        "lead@demo.quorum",
        (
            "annotator@demo.quorum",
            "reviewer@demo.quorum",
            "noor@demo.quorum",
            "kwame@demo.quorum",
        ),
    ),
    (
        "Night shift",
        "Asia and the Americas: Manila, Kolkata, Ho Chi Minh City, Buenos Aires.",
        NIGHT_MANAGER,
        "priya@demo.quorum",
        ("lucia@demo.quorum", "mai@demo.quorum"),
    ),
)
LIMITED_PROJECT = "Headline topics (Day shift only)"
HEADLINES = [
    "Central bank holds rates steady for a third month",
    "Local team wins the regional football final",
    "New vaccine trial shows promising early results",
    "City council approves the new cycling lanes",
    "Tech company announces layoffs after weak quarter",
    "Heatwave expected to last through the weekend",
]


def _night_manager(totp_secret: str) -> User:
    """The second demo manager (signs in with the demo TOTP secret like the first)."""
    user = User.objects.filter(email=NIGHT_MANAGER).first()
    if user is None:
        user = user_create(
            email=NIGHT_MANAGER,
            password=NIGHT_MANAGER_PASSWORD,
            full_name="Nia Nightshift",
            roles=[RoleSpec(Role.MANAGER)],
            email_verified=True,
        )
    if not Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists():
        TOTP.activate(user, totp_secret)
    return user


def demo_teams_seed(*, totp_secret: str) -> list[str]:
    """Create the demo teams, their managers, leads and members, an announcement and a project
    limited to the day shift; return what was created (e-mails and names). The second manager
    signs in with `totp_secret` (pass `demo.services.DEMO_TOTP_SECRET`)."""
    created: list[str] = []
    if not User.objects.filter(email=NIGHT_MANAGER).exists():
        created.append(NIGHT_MANAGER)
    _night_manager(totp_secret)
    people = {u.email: u for u in User.objects.filter(email__endswith="@demo.quorum")}
    teams: dict[str, Team] = {}
    for name, description, manager, lead, members in TEAMS:
        team = Team.objects.filter(name=name).first()
        if team is None:
            team = team_create(name=name, description=description, actor=None)
            created.append(name)
        teams[name] = team
        team_manager_assign(team=team, user=people[manager], actor=None)
        for email in (lead, *members):
            if email in people and not TeamMembership.objects.filter(user=people[email]).exists():
                team_member_add(team=team, user=people[email], actor=None)
        if lead in people:
            team_lead_set(team=team, user=people[lead], is_lead=True, actor=None)
    day = teams["Day shift"]
    if not day.announcements.exists():
        team_announcement_post(
            team=day,
            title="Welcome to the day shift",
            body="New headline work is open to our team only this week. Read the instructions "
            "first; ask Leo (our lead) if a label is unclear.",
            actor=people["manager@demo.quorum"],
        )
    customer = Customer.objects.filter(slug="demo-data-co").first()
    if customer is not None and not Project.objects.filter(name=LIMITED_PROJECT).exists():
        project = project_create(
            customer=customer,
            name=LIMITED_PROJECT,
            task_type="single_label",
            labels=["economy", "sport", "health", "politics", "weather"],
            status="active",
            gold_warmup=0,
            instructions="Pick the **topic** of each headline.",
            actor=None,
        )
        tasks_create(project=project, tasks=[{"text": h} for h in HEADLINES], actor=None)
        project_access_set(project=project, teams=[day], actor=None)
        created.append(LIMITED_PROJECT)
    return created
