"""The rate card pages: finance sets and previews rates; managers read theirs; others are refused."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import Role
from labeling.services.projects import project_access_set
from payments.models import RateCardVersion
from tests.factories import make_team, make_user
from tests.labeling.factories import make_project
from tests.payments.factories import rate, rate_version

pytestmark = pytest.mark.django_db

CARDS = "/finance/rates/"
NEW = "/finance/rates/new/"
PREVIEW = "/finance/rates/preview/"


def version_form(**rows):
    """A filled form: the version's fields and rate rows given as rates-<i>-<field> keys."""
    data = {
        "effective_from": "",
        "currency": "USD",
        "note": "",
        "rates-TOTAL_FORMS": "2",
        "rates-INITIAL_FORMS": "0",
        "rates-MIN_NUM_FORMS": "0",
        "rates-MAX_NUM_FORMS": "200",
    }
    for index in range(2):
        data.update(
            {
                f"rates-{index}-work_kind": "",
                f"rates-{index}-review_level": "0",
                f"rates-{index}-tier": "",
                f"rates-{index}-min_skill_level": "0",
                f"rates-{index}-unit": "per_task",
                f"rates-{index}-amount": "",
            }
        )
    data.update(rows)
    return data


@pytest.fixture
def manager():
    return make_user(Role.MANAGER, mfa=True)


def test_finance_adds_a_version_with_a_sub_cent_rate(finance_client, project):
    response = finance_client.post(
        f"{NEW}?project={project.pk}",
        version_form(**{"rates-0-work_kind": "annotation", "rates-0-amount": "0.0035"}),
    )

    version = RateCardVersion.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/finance/rates/cards/{version.card_id}/"
    assert [r.amount_micros for r in version.rates.all()] == [3_500]
    history = finance_client.get(response["Location"])
    assert b"0.0035 USD" in history.content and b"In force" in history.content


def test_amounts_are_read_in_the_currency_of_the_version(finance_client, project):
    finance_client.post(
        f"{NEW}?customer={project.customer_id}",
        version_form(
            currency="KWD", **{"rates-0-work_kind": "annotation", "rates-0-amount": "0.125"}
        ),
    )

    version = RateCardVersion.objects.get()
    assert version.card.project is None and version.currency == "KWD"
    assert version.rates.get().amount_micros == 125_000


def test_a_past_effective_from_shows_an_error_next_to_the_field(finance_client, project):
    past = (timezone.now() - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")

    response = finance_client.post(
        f"{NEW}?project={project.pk}",
        version_form(
            effective_from=past,
            **{"rates-0-work_kind": "annotation", "rates-0-amount": "0.05"},
        ),
    )

    assert response.status_code == 200
    assert response.context["form"].errors["effective_from"]
    assert "never before" in response.content.decode()
    assert not RateCardVersion.objects.exists()


def test_a_bad_amount_shows_an_error_on_its_row(finance_client, project):
    response = finance_client.post(
        f"{NEW}?project={project.pk}",
        version_form(
            **{
                "rates-0-work_kind": "annotation",
                "rates-0-amount": "0.05",
                "rates-1-work_kind": "review",
                "rates-1-amount": "0.0000001",
            }
        ),
    )

    assert response.status_code == 200
    assert "more than 6 decimals" in response.context["formset"].forms[1].errors["amount"][0]
    assert not RateCardVersion.objects.exists()


def test_a_service_error_about_a_rate_lands_on_the_row_it_came_from(finance_client, project):
    response = finance_client.post(
        f"{NEW}?project={project.pk}",
        version_form(
            **{
                "rates-1-work_kind": "annotation",
                "rates-1-review_level": "2",
                "rates-1-amount": "0.05",
            }
        ),
    )

    assert response.status_code == 200
    assert response.context["formset"].forms[1].errors["review_level"]


def test_the_form_starts_from_the_rates_in_force(finance_client, project):
    rate_version(rate("annotation", 3_500), rate("review", 12_000, review_level=1), project=project)

    page = finance_client.get(f"{NEW}?project={project.pk}")

    initial = [form.initial for form in page.context["formset"].forms if form.initial]
    assert [(row["work_kind"], row["amount"]) for row in initial] == [
        ("annotation", "0.0035"),
        ("review", "0.012"),
    ]


def test_the_cards_page_says_which_card_prices_each_project(finance_client, project):
    rate_version(customer=project.customer)
    own = make_project(project.customer)
    rate_version(project=own)

    page = finance_client.get(CARDS)

    rows = {line.project.pk: line.applies for line in page.context["rows"][0].projects}
    assert rows == {project.pk: "default", own.pk: "own"}


def test_the_cards_page_takes_a_fixed_number_of_queries(
    finance_client, project, django_assert_max_num_queries
):
    for _ in range(4):
        rate_version(project=make_project(project.customer))
    rate_version(customer=project.customer)

    with django_assert_max_num_queries(20):
        assert finance_client.get(CARDS).status_code == 200


def test_a_scheduled_version_can_be_withdrawn_from_the_history(finance_client, project):
    scheduled = rate_version(project=project, effective_from=timezone.now() + timedelta(days=1))

    response = finance_client.post(
        f"/finance/rates/versions/{scheduled.pk}/withdraw/", {"reason": "wrong amount"}
    )

    scheduled.refresh_from_db()
    assert response.status_code == 302 and scheduled.withdrawn_at is not None


def test_the_preview_shows_what_one_task_and_one_hour_earn(settings, finance_client, person):
    settings.QUORUM_TRAINING_TIME_PAID = False
    project = make_project(review_levels=[{"level": 1, "rates": {"probation": 1.0}}])
    rate_version(
        rate("annotation", 3_500),
        rate("review", 2_500_000, unit="per_hour"),
        rate("training", 1_000_000, unit="per_hour"),
        project=project,
    )

    page = finance_client.get(PREVIEW, {"project": project.pk, "person": person.email})

    text = page.content.decode()
    assert "0.0035 USD</strong> for one final task" in text
    assert "2.50 USD</strong> for one active hour" in text
    assert "training time is not paid" in text


def test_the_preview_names_an_unknown_person(finance_client, project):
    page = finance_client.get(PREVIEW, {"project": project.pk, "person": "nobody@example.test"})

    assert page.context["form"].errors["person"]


def test_a_manager_sees_their_projects_but_cannot_add_a_version(client, manager):
    mine, theirs = make_project(), make_project()
    project_access_set(project=mine, teams=[make_team(managers=[manager])], actor=None)
    project_access_set(project=theirs, teams=[make_team()], actor=None)
    client.force_login(manager)

    page = client.get(CARDS)

    shown = [line.project.pk for row in page.context["rows"] for line in row.projects]
    assert shown == [mine.pk]
    assert client.get(f"{NEW}?project={mine.pk}").status_code == 403
    assert b"/finance/rates/new/" not in page.content


def test_an_annotator_is_refused_every_rate_page(person_client, project):
    version = rate_version(project=project)

    for url in [CARDS, f"{NEW}?project={project.pk}", PREVIEW, f"{CARDS}cards/{version.card_id}/"]:
        assert person_client.get(url).status_code == 403, url


def test_rate_cards_are_in_the_navigation_of_finance_and_managers(client, finance, manager):
    for user in (finance, manager):
        client.force_login(user)
        labels = {label for label, _ in client.get("/").context["nav_items"]}
        assert "Rate cards" in labels
