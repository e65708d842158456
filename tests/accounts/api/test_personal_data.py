"""Downloading one's personal data: what each section holds, and that it is one's own only."""

import json

import pytest
from rest_framework.test import APIClient

from accounts.models import Role
from accounts.personal_data import EXPORT_FORMAT
from labeling.models import Annotation
from tests.accounts.factories import GOLD_EXPLANATION, api_as
from tests.factories import make_user

pytestmark = pytest.mark.django_db


def download(client, url="/api/v1/me/data/"):
    response = client.get(url)
    assert response.status_code == 200, response.content
    assert response.streaming
    raw = b"".join(response.streaming_content)
    return response, raw, json.loads(raw)


def test_the_download_holds_each_section_about_the_person(scenario):
    person = scenario.person

    response, _, data = download(api_as(person))

    assert response["Content-Type"].startswith("application/json")
    assert response["Content-Disposition"].startswith(
        f'attachment; filename="quorum-personal-data-{person.pk}-'
    )
    assert (data["format"], data["user_id"]) == (EXPORT_FORMAT, person.pk)
    account = data["sections"]["account"]
    assert account["user"]["email"] == "ana.example@example.test"
    assert account["user"]["full_name"] == "Ana Example"
    assert {r["role"] for r in account["roles"]} == {"annotator", "customer"}
    assert account["email_addresses"][0]["email"] == "ana.example@example.test"
    assert [t["name"] for t in account["api_tokens"]] == ["laptop"]
    profile = data["sections"]["profile"]
    assert profile["profile"]["country"] == "KE"
    assert profile["profile"]["languages"] == ["en", "sw"]
    assert profile["terms_acceptances"][0]["ip_address"] == "203.0.113.5"
    work = data["sections"]["work"]
    mine = set(Annotation.objects.filter(author=person).values_list("pk", flat=True))
    assert {a["id"] for a in work["annotations"]} == mine
    assert [r["id"] for r in work["reviews_of_your_work"]] == [scenario.ids["review"]]
    assert [s["skip_reason"] for s in work["skips"]] == ["Ana Example cannot read this image"]
    assert work["gold_accuracy_by_project"][0]["scored"] == 12
    quality = data["sections"]["quality"]
    assert [a["id"] for a in quality["quality_actions"]] == [scenario.ids["action"]]
    assert [a["reason"] for a in quality["appeals"]] == ["I was ill, Ana Example"]
    actions = {e["action"] for e in data["sections"]["audit"]["events"]}
    assert {"user.created", "profile.created", "terms.accepted", "token.created"} <= actions
    assert {"role.granted", "appeal.filed", "rule_action.taken"} <= actions


def test_the_download_names_other_people_by_id_only_and_keeps_gold_answers_out(scenario):
    _, raw, data = download(api_as(scenario.person))

    text = raw.decode().lower()
    for foreign in ("rita.reviewer@example.test", "rita reviewer", "otto.other@example.test"):
        assert foreign not in text
    assert "198.51.100.7" not in text  # the reviewer's terms IP address
    assert GOLD_EXPLANATION.lower() not in text
    [review] = data["sections"]["work"]["reviews_of_your_work"]
    assert review["reviewer_id"] == scenario.reviewer.pk
    # The admin who granted a role is named by id, and their IP is not the person's to read.
    granted = next(
        e
        for e in data["sections"]["audit"]["events"]
        if e["action"] == "role.granted" and e["after"] == {"role": "customer", "level": None}
    )
    assert granted["actor_id"] == scenario.admin.pk
    assert "ip_address" not in granted
    # Gold results are per project, never per task: which tasks were gold stays hidden.
    assert set(data["sections"]["work"]["gold_accuracy_by_project"][0]) == {
        "project_id",
        "scored",
        "mean_score",
        "first_scored_at",
        "last_scored_at",
    }


def test_the_reviewer_s_download_holds_the_review_they_gave_without_the_author_s_identity(
    scenario,
):
    _, raw, data = download(api_as(scenario.reviewer))

    assert [r["id"] for r in data["sections"]["work"]["reviews_you_gave"]] == [
        scenario.ids["review"]
    ]
    assert data["sections"]["work"]["reviews_you_gave"][0]["author_id"] == scenario.person.pk
    assert b"ana.example@example.test" not in raw.lower()


def test_no_one_can_download_someone_else_s_data(scenario):
    other = scenario.other

    _, raw, data = download(api_as(other), f"/api/v1/me/data/?user={scenario.person.pk}")

    assert data["user_id"] == other.pk
    assert b"ana.example@example.test" not in raw.lower()
    ids = {a["id"] for a in data["sections"]["work"]["annotations"]}
    assert ids == {scenario.ids["other_annotation"]}


def test_signed_out_visitors_get_no_download(client):
    assert APIClient().get("/api/v1/me/data/").status_code == 401
    assert client.get("/me/data/download/").status_code == 302


def test_the_portal_page_offers_the_download_of_one_s_own_data(client, scenario):
    client.force_login(scenario.person)

    page = client.get("/me/data/")
    _, _, data = download(client, f"/me/data/download/?user={scenario.other.pk}")

    assert page.status_code == 200
    assert b"/me/data/download/" in page.content
    assert [s.name for s in page.context["sections"]] == [
        "account",
        "audit",
        "earnings",
        "payouts",
        "profile",
        "quality",
        "work",
    ]
    assert data["user_id"] == scenario.person.pk


def test_the_download_is_written_in_chunks(monkeypatch, scenario):
    monkeypatch.setattr("accounts.personal_data.STREAM_CHUNK_CHARS", 256)

    response = api_as(scenario.person).get("/api/v1/me/data/")
    chunks = list(response.streaming_content)

    assert len(chunks) > 5
    assert json.loads(b"".join(chunks))["user_id"] == scenario.person.pk


def test_downloads_are_rate_limited_per_person():
    person = make_user(Role.ANNOTATOR)
    client = api_as(person)

    statuses = [client.get("/api/v1/me/data/").status_code for _ in range(11)]

    assert statuses == [200] * 10 + [429]
