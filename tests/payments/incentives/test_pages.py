"""Finance's incentive pages: create a program and a version, preview, close with the button."""

from datetime import timedelta

import pytest
from django.urls import reverse

from accounts.models import Role
from payments.models import IncentivePeriod, IncentiveProgram, IncentiveVersion
from tests.factories import make_user
from tests.payments.incentives.helpers import WEEK, program, rolled_up_until, work

pytestmark = pytest.mark.django_db


def _tiers(*rows):
    data = {
        "tiers-TOTAL_FORMS": "5",
        "tiers-INITIAL_FORMS": "0",
        "tiers-MIN_NUM_FORMS": "0",
        "tiers-MAX_NUM_FORMS": "5",
    }
    for index, row in enumerate(rows):
        data.update({f"tiers-{index}-{key}": value for key, value in row.items()})
    return data


def test_finance_creates_a_program_with_tiers_typed_as_decimals(finance_client):
    response = finance_client.post(
        reverse("payments:incentive_program_new"),
        {
            "name": "Gold week",
            "scope": "everyone",
            "period": "week",
            "currency": "USD",
            "kind": "bonus",
            "cap": "50.00",
            "budget": "",
            "budget_policy": "scale",
            **_tiers(
                {"reward": "10.00", "min_final_tasks": "500", "min_gold_low": "95"},
                {"reward": "25.5", "min_final_tasks": "800", "min_review_pass": "97.25"},
            ),
        },
    )

    assert response.status_code == 302
    version = IncentiveVersion.objects.get()
    assert version.cap_minor == 5_000
    assert version.tiers == [
        {"reward": 1_000, "min_final_tasks": 500, "min_gold_low_ppm": 950_000},
        {"reward": 2_550, "min_final_tasks": 800, "min_review_pass_ppm": 972_500},
    ]
    page = finance_client.get(response["Location"]).content.decode()
    assert (
        "10.00 USD for final tasks at least 500, gold accuracy (95% lower bound) at least 95.00%"
        in page
    )


def test_a_bad_tier_is_shown_next_to_its_field_and_nothing_is_saved(finance_client):
    response = finance_client.post(
        reverse("payments:incentive_program_new"),
        {
            "name": "Bad",
            "scope": "everyone",
            "period": "week",
            "currency": "USD",
            "kind": "bonus",
            "budget_policy": "scale",
            **_tiers({"reward": "10.001", "min_final_tasks": "5"}),
        },
    )

    assert response.status_code == 200
    assert response.context["tiers"].forms[0].errors["reward"]
    assert not IncentiveProgram.objects.exists()


def test_people_other_than_finance_are_refused(client):
    client.force_login(make_user(Role.MANAGER, mfa=True))

    assert client.get(reverse("payments:incentive_programs")).status_code == 403
    assert client.get(reverse("payments:incentive_program_new")).status_code == 403


def test_preview_then_the_close_button_pays_and_shows_progress(
    finance_client, project, django_capture_on_commit_callbacks
):
    rolled_up_until(WEEK + timedelta(days=7))
    person = make_user(Role.ANNOTATOR)
    work(person, project, final_tasks=15)
    quality_week = program()

    preview = finance_client.get(
        reverse("payments:incentive_preview", args=[quality_week.pk]),
        {"period_start": f"{WEEK:%Y-%m-%d}"},
    )
    with django_capture_on_commit_callbacks(execute=True):  # the job runs eagerly
        closed = finance_client.post(
            reverse("payments:incentive_close", args=[quality_week.pk]),
            {"period_start": f"{WEEK:%Y-%m-%d}"},
        )

    assert preview.context["total"] == "10.00 USD"
    period = IncentivePeriod.objects.get()
    assert closed["Location"] == reverse("payments:incentive_period", args=[period.pk])
    page = finance_client.get(closed["Location"]).content.decode()
    assert "Tier 1 met (final tasks: 15 ≥ 10)" in page and "1 of 1 people judged" in page
    progress = finance_client.get(reverse("payments:incentive_period_progress", args=[period.pk]))
    assert 'value="100"' in progress.content.decode() and "hx-get" not in progress.content.decode()


def test_finance_adds_a_version_from_the_latest_one(finance_client):
    quality_week = program()
    url = reverse("payments:incentive_version_new", args=[quality_week.pk])

    form = finance_client.get(url)
    response = finance_client.post(
        url,
        {
            "kind": "multiplier",
            "budget_policy": "stop",
            **_tiers({"reward": "7.5", "min_active_minutes": "600"}),
        },
    )

    assert form.context["tiers"].forms[0].initial["reward"] == "10.00"
    assert response.status_code == 302
    latest = IncentiveVersion.objects.get(number=2)
    assert latest.tiers == [{"reward": 75_000, "min_active_minutes": 600}]
