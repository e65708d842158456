"""The project form sets a project's purpose and skill check (the service judges them, errors
next to the field); the project page shows purpose, check, teams and requirements."""

import pytest

from accounts.models import Role
from labeling.models import Project
from labeling.services.projects import project_access_set, requirements_clean
from tests.factories import make_team, make_user
from tests.labeling.factories import add_tasks, make_customer, make_project, project_form
from workforce.models import Skill
from workforce.services.checks import skill_check_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def manager():
    return make_user(Role.MANAGER, mfa=True)


@pytest.fixture
def manager_client(client, manager):
    client.force_login(manager)
    return client


@pytest.fixture
def skill():
    return Skill.objects.create(slug="ner-en", name="English NER")


def make_check(skill, kind="test", name="NER test"):
    levels = {"level_map": [[0.8, 1]]} if kind == "test" else {}
    return skill_check_create(actor=None, skill=skill, kind=kind, name=name, **levels)


def test_a_manager_makes_a_test_project_holding_a_check(manager_client, skill):
    check = make_check(skill)
    customer = make_customer()

    response = manager_client.post(
        "/projects/new/",
        project_form(customer=str(customer.pk), purpose="test", skill_check=str(check.pk)),
    )

    assert response.status_code == 302, response.context["form"].errors
    project = Project.objects.get(name="Reviews")
    assert (project.purpose, project.skill_check) == ("test", check)
    edit = manager_client.get(f"/projects/{project.pk}/edit/").context["form"]
    assert (edit.initial["purpose"], edit.initial["skill_check"]) == ("test", check.pk)


@pytest.mark.parametrize(
    ("purpose", "kind", "message"),
    [
        ("work", "test", "Only a training or test project holds a skill check's items."),
        ("training", "test", "This is a training project; choose a training check"),
    ],
)
def test_a_check_that_does_not_fit_the_purpose_is_named_next_to_the_field(
    manager_client, skill, purpose, kind, message
):
    check = make_check(skill, kind=kind)
    customer = make_customer()

    response = manager_client.post(
        "/projects/new/",
        project_form(customer=str(customer.pk), purpose=purpose, skill_check=str(check.pk)),
    )

    assert response.status_code == 200
    assert message in " ".join(response.context["form"].errors["skill_check"])
    assert not Project.objects.filter(name="Reviews").exists()


def test_a_check_held_by_another_project_is_refused_on_edit(manager_client, skill):
    check = make_check(skill)
    make_project(purpose="test", skill_check=check)
    project = make_project(purpose="test")
    form = manager_client.get(f"/projects/{project.pk}/edit/").context["form"]
    data = {k: v for k, v in form.initial.items() if v is not None}
    data.update(labels="cat\ndog\nbird", skill_check=str(check.pk), queue_order="")

    response = manager_client.post(f"/projects/{project.pk}/edit/", data)

    assert response.status_code == 200
    assert "already holds this check's items" in " ".join(
        response.context["form"].errors["skill_check"]
    )
    project.refresh_from_db()
    assert project.skill_check is None


def test_the_purpose_is_fixed_once_the_project_has_tasks(manager_client):
    project = make_project()
    add_tasks(project, 1)

    form = manager_client.get(f"/projects/{project.pk}/edit/").context["form"]

    assert form.fields["purpose"].disabled


def test_a_customer_neither_sees_nor_sets_the_purpose(client):
    from tests.labeling.factories import make_customer_user

    customer = make_customer()
    client.force_login(make_customer_user(customer))

    form = client.get("/projects/new/").context["form"]

    assert "purpose" not in form.fields
    assert "skill_check" not in form.fields


def test_the_project_page_shows_purpose_check_teams_and_requirements(
    manager_client, manager, skill
):
    team = make_team("Night shift", managers=[manager])
    check = make_check(skill, kind="training", name="NER basics")
    project = make_project(purpose="training", skill_check=check)
    project_access_set(
        project=project,
        actor=None,
        teams=[team],
        requirements=requirements_clean([{"skill": "ner-en", "comparator": "lacks"}]),
    )

    page = manager_client.get(f"/projects/{project.pk}/").content.decode()

    assert "Training module (items with answers, served by its attempts)" in page
    assert "Training module: NER basics" in page
    assert "Night shift" in page
    assert "not holding English NER" in page


def test_a_work_project_page_says_it_is_open_to_every_team(manager_client):
    project = make_project()

    page = manager_client.get(f"/projects/{project.pk}/").content.decode()

    assert "Work (served by the queue)" in page
    assert "open to every team" in page
    assert "Skill check:" not in page
