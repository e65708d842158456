"""The project form sets a project's team limit and requirements, with errors next to the field."""

import pytest

from labeling.models import Project
from tests.labeling.factories import make_customer, project_form
from workforce.models import Skill

pytestmark = pytest.mark.django_db


@pytest.fixture
def manager_client(client, manager):
    client.force_login(manager)
    return client


def test_a_manager_limits_a_new_project_to_their_team_with_requirements(
    manager_client, managed_team
):
    Skill.objects.create(slug="ner-en", name="English NER")
    Skill.objects.create(slug="spam", name="Spam")
    customer = make_customer()

    response = manager_client.post(
        "/projects/new/",
        project_form(
            customer=str(customer.pk),
            teams=str(managed_team.pk),
            requirements="ner-en >= 2\nnot spam",
        ),
    )

    assert response.status_code == 302, response.context["form"].errors
    project = Project.objects.get(name="Reviews")
    assert list(project.teams.all()) == [managed_team]
    assert list(project.requirements.values_list("skill__slug", "comparator", "level")) == [
        ("ner-en", "at_least", 2),
        ("spam", "lacks", None),
    ]
    edit = manager_client.get(f"/projects/{project.pk}/edit/").context["form"]
    assert edit.initial["requirements"] == "ner-en >= 2\nnot spam"


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ("ner-en at least 2", "Line 1: write"),
        ("ner-en >= 2\nnot nope", "Line 2: There is no skill 'nope'."),
        ("ner-en >= 12", "Line 1: A whole number from 1 to 10."),
    ],
)
def test_a_bad_requirement_line_is_shown_next_to_the_field_and_nothing_is_saved(
    manager_client, lines, message
):
    Skill.objects.create(slug="ner-en", name="English NER")
    customer = make_customer()

    response = manager_client.post(
        "/projects/new/", project_form(customer=str(customer.pk), requirements=lines)
    )

    assert response.status_code == 200
    errors = response.context["form"].errors["requirements"]
    assert any(error.startswith(message) for error in errors), errors
    assert not Project.objects.filter(name="Reviews").exists()


def test_a_manager_cannot_choose_a_team_they_do_not_manage(manager_client):
    from tests.factories import make_team

    other = make_team("Other")
    customer = make_customer()

    response = manager_client.post(
        "/projects/new/", project_form(customer=str(customer.pk), teams=str(other.pk))
    )

    assert response.status_code == 200
    assert "teams" in response.context["form"].errors
