"""The earnings and incentives API: a person reads only their own earnings (another's is 404),
finance reads anyone's and manages programs with MFA; no endpoint edits a ledger row."""

from datetime import timedelta

import pytest

from accounts.models import Role
from payments.models import IncentivePeriod, LedgerTransaction
from payments.services.incentives import incentive_period_close
from tests.factories import make_user
from tests.payments.incentives.helpers import (
    WEEK,
    accrual,
    program,
    rolled_up_until,
    work,
)

pytestmark = pytest.mark.django_db


def _earnings(person_id, what):
    return f"/api/v1/earnings/people/{person_id}/{what}"


ENDPOINTS = ["summary/", "lines/", "bonuses/", "statements/", "statements/2026-11/"]


@pytest.fixture
def earned(person, project):
    rolled_up_until(WEEK + timedelta(days=7))
    accrual(person, project, 1_500_000, "api-1", WEEK + timedelta(hours=1))
    work(person, project, final_tasks=10)
    incentive_period_close(
        program=program(), starts_at=WEEK, actor=None, now=WEEK + timedelta(days=8)
    )
    return person


def test_a_person_reads_their_own_earnings(person_client, earned):
    lines = person_client.get(_earnings(earned.pk, "lines/")).json()
    bonuses = person_client.get(_earnings(earned.pk, "bonuses/")).json()
    statement = person_client.get(_earnings(earned.pk, "statements/2026-11/")).json()

    assert (
        lines["results"][0]["earned_micros"] == 1_500_000
        and lines["results"][0]["earned"] == "1.50 USD"
    )
    bonus = bonuses["results"][0]
    assert (
        bonus["amount_minor"] == 1_000 and bonus["reason"] == "Tier 1 met (final tasks: 10 ≥ 10)."
    )
    assert bonus["figures"]["checks"][0] == {
        "threshold": "min_final_tasks",
        "name": "final tasks",
        "at_least": 10,
        "actual": 10,
        "met": True,
    }
    assert statement["totals"] == [
        {
            "currency": "USD",
            "earned_micros": 1_500_000,
            "reversed_micros": 0,
            "bonus_micros": 10_000_000,
            "total_micros": 11_500_000,
            "total": "11.50 USD",
        }
    ]


def test_another_persons_earnings_are_not_found_through_the_api(client, earned):
    client.force_login(make_user(Role.ANNOTATOR))

    assert [client.get(_earnings(earned.pk, what)).status_code for what in ENDPOINTS] == [404] * 5


def test_finance_reads_anyones_earnings(finance_client, earned):
    assert [finance_client.get(_earnings(earned.pk, w)).status_code for w in ENDPOINTS] == [200] * 5


def test_lines_refuse_a_bad_moment_naming_the_field(person_client, person):
    response = person_client.get(_earnings(person.pk, "lines/"), {"since": "yesterday"})

    assert response.status_code == 400 and "since" in response.json()["extra"]["fields"]


PROGRAMS = "/api/v1/incentive-programs/"


def _program_body():
    return {
        "name": "API week",
        "scope": "everyone",
        "period": "week",
        "currency": "USD",
        "first_version": {
            "kind": "bonus",
            "tiers": [{"reward": 1_000, "min_final_tasks": 10, "min_review_pass_ppm": None}],
            "cap_minor": 5_000,
        },
    }


def test_finance_creates_previews_and_closes_a_program_once(
    finance_client, person, project, django_capture_on_commit_callbacks
):
    rolled_up_until(WEEK + timedelta(days=7))
    work(person, project, final_tasks=11)
    created = finance_client.post(PROGRAMS, _program_body(), content_type="application/json")
    # A program made through the API starts now; the week closed here needs one that started before.
    quality_week = program(now=WEEK - timedelta(days=1))

    preview = finance_client.get(
        f"{PROGRAMS}{quality_week.pk}/preview/", {"period_start": WEEK.isoformat()}
    )
    with django_capture_on_commit_callbacks(execute=True):
        closed = finance_client.post(
            f"{PROGRAMS}{quality_week.pk}/close/",
            {"period_start": WEEK.isoformat()},
            content_type="application/json",
        )
    again = finance_client.post(
        f"{PROGRAMS}{quality_week.pk}/close/",
        {"period_start": WEEK.isoformat()},
        content_type="application/json",
    )

    assert created.status_code == 201
    assert created.json()["versions"][0]["tiers"] == [
        {
            "reward": 1_000,
            "min_final_tasks": 10,
            "min_active_minutes": None,
            "min_gold_low_ppm": None,
            "min_review_pass_ppm": None,
            "min_agreement_ppm": None,
        }
    ]
    assert preview.json()["total_minor"] == 1_000
    assert closed.status_code == 202 and again.json()["id"] == closed.json()["id"]
    assert IncentivePeriod.objects.get().status == "closed"
    assert LedgerTransaction.objects.filter(source_key__startswith="incentive:").count() == 1
    lines = finance_client.get(f"/api/v1/incentive-periods/{closed.json()['id']}/lines/").json()
    assert lines["results"][0]["amount_minor"] == 1_000


def test_a_float_reward_is_refused_naming_the_field(finance_client):
    body = _program_body()
    body["first_version"]["tiers"][0]["reward"] = 10.5

    response = finance_client.post(PROGRAMS, body, content_type="application/json")

    assert response.status_code == 400
    assert "first_version.tiers.0.reward" in str(response.json()["extra"])


def test_program_writes_need_finance_with_mfa(client):
    for user in (make_user(Role.FINANCE), make_user(Role.ANNOTATOR)):
        client.force_login(user)
        response = client.post(PROGRAMS, _program_body(), content_type="application/json")
        assert response.status_code == 403


def test_no_endpoint_edits_or_deletes_a_program_version_or_a_period(finance_client):
    quality_week = program()

    answers = [
        finance_client.delete(f"{PROGRAMS}{quality_week.pk}/").status_code,
        finance_client.put(
            f"{PROGRAMS}{quality_week.pk}/", {}, content_type="application/json"
        ).status_code,
        finance_client.patch(
            f"{PROGRAMS}{quality_week.pk}/", {}, content_type="application/json"
        ).status_code,
    ]

    assert answers == [405, 405, 405]
