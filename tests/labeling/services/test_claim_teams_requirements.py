"""The claim honours a project's team limit and its skill requirements, on both writers (the
one-statement claim on PostgreSQL and the transactional writer everywhere), and the person's home
list hides the projects they cannot take."""

import pytest

from accounts.models import Role
from labeling import policy
from labeling.errors import NotQualified
from labeling.models import Lease, LeaseState
from labeling.services.claim import slot_claim_next
from labeling.services.projects import RequirementSpec, project_access_set
from labeling.services.review import review_claim_next
from tests.factories import make_team, make_user
from tests.labeling.factories import add_tasks, annotate, make_project, make_worker, review_project
from workforce.models import Skill, SkillComparator

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("queue_writer")]


def limited_project(*teams):
    project = make_project(gold_warmup=0)
    add_tasks(project, 3)
    project_access_set(project=project, teams=list(teams), actor=None)
    return project


def test_a_project_limited_to_a_team_hands_work_to_its_members():
    member = make_worker()
    project = limited_project(make_team("Day", members=[member]))

    claim = slot_claim_next(project=project, user=member)

    assert claim.lease.state == LeaseState.ACTIVE


def test_a_project_limited_to_a_team_hands_no_work_to_others():
    outsider, teamless = make_worker(), make_worker()
    make_team("Night", members=[outsider])
    project = limited_project(make_team("Day", members=[make_worker()]))

    for person in (outsider, teamless):
        with pytest.raises(NotQualified, match="limited to other teams"):
            slot_claim_next(project=project, user=person)

    assert not Lease.objects.filter(project_id=project.pk).exists()


def test_a_project_limited_to_several_teams_admits_members_of_any():
    night_member = make_worker()
    project = limited_project(make_team("Day"), make_team("Night", members=[night_member]))

    assert slot_claim_next(project=project, user=night_member).lease.pk


def requirement_project(skill, comparator, level=None):
    project = make_project(gold_warmup=0)
    add_tasks(project, 3)
    project_access_set(
        project=project,
        requirements=[RequirementSpec(skill, comparator, level)],
        actor=None,
    )
    return project


def test_at_least_level_n_refuses_a_lower_level_and_admits_that_level():
    skill = Skill.objects.create(slug="ner-en", name="English NER")
    project = requirement_project(skill, SkillComparator.AT_LEAST, 2)
    low, enough, without = (
        make_worker(skill=skill, level=1),
        make_worker(skill=skill, level=2),
        make_worker(),
    )

    for person in (low, without):
        with pytest.raises(NotQualified, match="English NER at level 2 or above"):
            slot_claim_next(project=project, user=person)

    assert slot_claim_next(project=project, user=enough).lease.pk


def test_lacks_a_skill_refuses_its_holders_and_admits_the_others():
    skill = Skill.objects.create(slug="vetted", name="Seen the answers")
    project = requirement_project(skill, SkillComparator.LACKS)
    holder, fresh = make_worker(skill=skill, level=1), make_worker()

    with pytest.raises(
        NotQualified, match="You do not meet this project's requirements: not holding Seen"
    ):
        slot_claim_next(project=project, user=holder)

    assert slot_claim_next(project=project, user=fresh).lease.pk


def test_the_home_list_hides_projects_the_person_cannot_take():
    skill = Skill.objects.create(slug="vetted", name="Vetted")
    member, outsider = make_worker(), make_worker(skill=skill)
    limited = limited_project(make_team("Day", members=[member]))
    excluding = requirement_project(skill, SkillComparator.LACKS)
    open_project = make_project()

    seen_by_member = set(policy.projects_workable_by(member).values_list("pk", flat=True))
    seen_by_outsider = set(policy.projects_workable_by(outsider).values_list("pk", flat=True))

    assert {limited.pk, excluding.pk, open_project.pk} <= seen_by_member
    assert limited.pk not in seen_by_outsider
    assert excluding.pk not in seen_by_outsider
    assert open_project.pk in seen_by_outsider


def test_review_work_of_a_project_limited_to_a_team_goes_only_to_its_members():
    author, reviewer, outsider = (
        make_worker(),
        make_user(Role.REVIEWER, level=1),
        make_user(Role.REVIEWER, level=1),
    )
    day = make_team("Day", members=[author, reviewer])
    make_team("Night", members=[outsider])
    project = review_project()
    add_tasks(project, 1)
    project_access_set(project=project, teams=[day], actor=None)
    annotate(project, author)

    with pytest.raises(NotQualified, match="limited to other teams"):
        review_claim_next(project=project, user=outsider)

    assert review_claim_next(project=project, user=reviewer).lease.pk
