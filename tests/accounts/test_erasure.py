"""Erasure: a person asks, an administrator executes; the person is gone, the work stays."""

import pytest
from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from django.core.management import call_command
from rest_framework.test import APIClient

from accounts.erasure import erasure_request_create, erasure_request_execute
from accounts.models import ApiToken, ErasureRequest, Role, User
from accounts.personal_data import PersonalDataSection, erased_email
from core.models import AuditEvent
from labeling.models import (
    Annotation,
    GoldScore,
    Lease,
    Review,
)
from quality.models import (
    Appeal,
    RuleAction,
)
from tests.accounts.factories import api_as, rows_mentioning
from tests.factories import PASSWORD, make_user
from workforce.models import AnnotatorProfile, TermsAcceptance

pytestmark = pytest.mark.django_db

EMAIL = "ana.example@example.test"
NAME = "Ana Example"


def ask(person):
    response = api_as(person).post("/api/v1/me/erasure-request/", {"confirm": True}, format="json")
    assert response.status_code == 201, response.content
    return response.json()["id"]


def execute(admin, request_id):
    return api_as(admin).post(
        f"/api/v1/erasure-requests/{request_id}/execute/", {"confirm": True}, format="json"
    )


def work_ids():
    return {
        "annotations": sorted(Annotation.objects.values_list("pk", "author_id")),
        "reviews": sorted(Review.objects.values_list("pk", "author_id", "reviewer_id")),
        "gold_scores": sorted(GoldScore.objects.values_list("pk", "user_id")),
        "rule_actions": sorted(RuleAction.objects.values_list("pk", "user_id")),
        "appeals": sorted(Appeal.objects.values_list("pk", "author_id")),
        "audit": sorted(
            AuditEvent.objects.values_list("pk", "action", "actor_id", "target_type", "target_id")
        ),
    }


def test_after_the_admin_executes_the_request_the_person_cannot_sign_in(client, scenario):
    person = scenario.person
    session = APIClient()
    assert session.login(email=EMAIL, password=PASSWORD)
    assert session.get("/api/v1/me/").status_code == 200
    tokens = APIClient(HTTP_AUTHORIZATION=f"Token {scenario.token_key}")
    assert tokens.get("/api/v1/me/").status_code == 200  # and now in the token cache
    request_id = ask(person)

    response = execute(scenario.admin, request_id)

    assert response.status_code == 200, response.content
    assert response.json()["status"] == "executed"
    assert not client.login(email=EMAIL, password=PASSWORD)
    assert session.get("/api/v1/me/").status_code == 401  # the old session is over
    assert tokens.get("/api/v1/me/").status_code == 401
    person.refresh_from_db()
    assert (person.email, person.full_name, person.is_active) == (
        erased_email(person.pk),
        "",
        False,
    )
    assert not person.has_usable_password()


def test_the_e_mail_and_name_are_gone_from_every_table(scenario):
    assert rows_mentioning(EMAIL) and rows_mentioning(NAME)

    execute(scenario.admin, ask(scenario.person))

    assert rows_mentioning(EMAIL) == []
    assert rows_mentioning(NAME) == []
    assert rows_mentioning("203.0.113.5") == []  # the terms acceptance's IP address
    assert rows_mentioning("rita.reviewer@example.test")  # nobody else is touched


def test_the_dump_of_the_database_no_longer_holds_the_person(tmp_path, scenario):
    execute(scenario.admin, ask(scenario.person))
    dump = tmp_path / "dump.json"

    call_command("dumpdata", output=str(dump), verbosity=0)

    text = dump.read_text().lower()
    assert EMAIL not in text
    assert NAME.lower() not in text
    assert "rita.reviewer@example.test" in text


def test_labels_reviews_scores_and_audit_events_keep_their_ids(scenario):
    before = work_ids()

    execute(scenario.admin, ask(scenario.person))

    after = work_ids()
    assert after["annotations"] == before["annotations"]
    assert after["reviews"] == before["reviews"]
    assert after["gold_scores"] == before["gold_scores"]
    assert after["rule_actions"] == before["rule_actions"]
    assert after["appeals"] == before["appeals"]
    # Every event is still there, unchanged in who/what/which; only the erasure's own are new.
    assert set(before["audit"]) <= set(after["audit"])
    new = [a for a in after["audit"] if a not in before["audit"]]
    assert sorted(a[1] for a in new) == [
        "erasure.executed",
        "erasure.requested",
        "personal_data.erased",
    ]
    assert Annotation.objects.get(pk=scenario.ids["annotation"]).result == {"label": "cat"}


def test_audit_snapshots_about_the_person_are_redacted_and_the_erasure_names_ids_only(scenario):
    person = scenario.person

    execute(scenario.admin, ask(person))

    created = AuditEvent.objects.get(action="user.created", target_id=str(person.pk))
    assert created.after["email"] == "[erased]"
    assert created.after["full_name"] == "[erased]"
    assert created.after["is_active"] is True  # not personal: kept as it was
    assert created.target_repr == erased_email(person.pk)
    profile = AnnotatorProfile.objects.get(user=person)
    profile_created = AuditEvent.objects.get(action="profile.created", target_id=str(profile.pk))
    assert profile_created.after == {
        "country": "[erased]",
        "time_zone": "[erased]",
        "languages": "[erased]",
    }
    accepted = AuditEvent.objects.get(action="terms.accepted", actor=person)
    assert accepted.ip_address is None
    appeal = AuditEvent.objects.get(action="appeal.filed")
    assert appeal.after["reason"] == "[erased]"
    erased = AuditEvent.objects.get(action="personal_data.erased")
    assert erased.actor == scenario.admin
    assert erased.after["user"] == person.pk
    assert "account" in erased.after["outcome"] and "audit" in erased.after["outcome"]


def test_personal_fields_elsewhere_are_blanked_and_access_is_removed(scenario):
    person = scenario.person

    execute(scenario.admin, ask(person))

    profile = AnnotatorProfile.objects.get(user=person)
    assert (profile.country, profile.time_zone, profile.languages, profile.status) == (
        "",
        "",
        [],
        "offboarded",
    )
    assert TermsAcceptance.objects.get(user=person).ip_address is None
    assert ApiToken.objects.get(pk=scenario.ids["token"]).revoked_at is not None
    assert not person.role_grants.exists()
    assert Appeal.objects.get(pk=scenario.ids["appeal"]).reason == "[erased]"
    assert Lease.objects.get(user=person, state="skipped").skip_reason == "[erased]"
    assert not EmailAddress.objects.filter(user=person).exists()
    assert not Authenticator.objects.filter(user=person).exists()


def test_executing_again_changes_nothing(scenario):
    request_id = ask(scenario.person)
    execute(scenario.admin, request_id)
    events = AuditEvent.objects.count()
    state = work_ids()

    again = execute(scenario.admin, request_id)

    assert again.status_code == 200
    assert again.json()["status"] == "executed"
    assert AuditEvent.objects.count() == events
    assert work_ids() == state


def test_an_erased_person_cannot_be_put_up_for_erasure_again(scenario):
    execute(scenario.admin, ask(scenario.person))

    response = api_as(scenario.admin).post(
        "/api/v1/erasure-requests/", {"user": scenario.person.pk, "confirm": True}, format="json"
    )

    assert response.status_code == 409
    assert response.json()["code"] == "already_erased"


def test_a_failing_section_leaves_everything_as_it_was(monkeypatch, scenario):
    person = scenario.person
    request = erasure_request_create(user=person, requested_by=person)
    events = AuditEvent.objects.count()

    def fail(erasure):
        raise RuntimeError("payments is down")

    from accounts import personal_data

    sections = dict(personal_data._sections)
    sections["zz-failing"] = PersonalDataSection(
        name="zz-failing", title="", export=lambda user: {}, erase=fail, erase_order=950
    )
    monkeypatch.setattr(personal_data, "_sections", sections)

    with pytest.raises(RuntimeError):
        erasure_request_execute(request=request, actor=scenario.admin)

    person.refresh_from_db()
    assert (person.email, person.full_name, person.is_active) == (EMAIL, NAME, True)
    assert ApiToken.objects.get(pk=scenario.ids["token"]).revoked_at is None
    assert ErasureRequest.objects.get(pk=request.pk).status == "requested"
    assert AuditEvent.objects.count() == events
    assert AuditEvent.objects.filter(action="user.created", after__email=EMAIL).exists()


@pytest.mark.parametrize("role", [Role.MANAGER, Role.FINANCE, Role.ANNOTATOR, Role.CUSTOMER])
def test_only_administrators_execute_or_list_requests(scenario, role):
    request_id = ask(scenario.person)
    someone = make_user(role, mfa=True)

    response = execute(someone, request_id)

    assert response.status_code == 403
    assert api_as(someone).get("/api/v1/erasure-requests/").status_code == 403
    assert ErasureRequest.objects.get(pk=request_id).status == "requested"


def test_the_person_cannot_execute_their_own_request(scenario):
    request_id = ask(scenario.person)

    assert execute(scenario.person, request_id).status_code == 403
    assert ErasureRequest.objects.get(pk=request_id).status == "requested"


def test_an_administrator_without_a_second_factor_is_refused(scenario):
    request_id = ask(scenario.person)
    admin = make_user(Role.ADMIN)

    response = execute(admin, request_id)

    assert response.status_code == 403
    assert response.json()["code"] == "mfa_required"


def test_administrators_do_not_execute_their_own_erasure(scenario):
    request_id = ask(scenario.admin)

    response = execute(scenario.admin, request_id)

    assert response.status_code == 403
    assert response.json()["code"] == "erasure_own_request"


def test_a_request_needs_confirmation(scenario):
    response = api_as(scenario.person).post("/api/v1/me/erasure-request/", {}, format="json")

    assert response.status_code == 400
    assert not ErasureRequest.objects.exists()


def test_asking_twice_keeps_one_open_request(scenario):
    first = ask(scenario.person)

    assert ask(scenario.person) == first
    assert ErasureRequest.objects.count() == 1


def test_the_person_withdraws_their_request_and_it_can_no_longer_be_executed(scenario):
    request_id = ask(scenario.person)

    withdrawn = api_as(scenario.person).delete("/api/v1/me/erasure-request/")

    assert withdrawn.status_code == 204
    assert ErasureRequest.objects.get(pk=request_id).status == "cancelled"
    assert execute(scenario.admin, request_id).status_code == 409
    scenario.person.refresh_from_db()
    assert scenario.person.email == EMAIL


def test_a_rejection_needs_a_reason_that_the_person_reads(scenario):
    request_id = ask(scenario.person)
    admin = api_as(scenario.admin)

    empty = admin.post(f"/api/v1/erasure-requests/{request_id}/reject/", {"note": ""})
    rejected = admin.post(
        f"/api/v1/erasure-requests/{request_id}/reject/", {"note": "Open payout dispute"}
    )
    seen = api_as(scenario.person).get("/api/v1/me/erasure-request/")

    assert empty.status_code == 400
    assert rejected.status_code == 200
    assert (seen.json()["status"], seen.json()["decision_note"]) == (
        "rejected",
        "Open payout dispute",
    )


def test_a_person_sees_only_their_own_request(scenario):
    ask(scenario.person)

    response = api_as(scenario.other).get("/api/v1/me/erasure-request/")

    assert response.status_code == 404


def test_portal_request_then_admin_executes_with_confirmation(client, scenario):
    client.force_login(scenario.person)
    unconfirmed = client.post("/me/data/", {"op": "request"})
    assert unconfirmed.status_code == 200 and not ErasureRequest.objects.exists()
    client.post("/me/data/", {"op": "request", "confirm": "on"})
    request = ErasureRequest.objects.get(user=scenario.person)
    client.force_login(scenario.admin)

    listed = client.get("/staff/erasure-requests/?status=requested")
    not_confirmed = client.post(f"/staff/erasure-requests/{request.pk}/", {"op": "execute"})
    done = client.post(f"/staff/erasure-requests/{request.pk}/", {"op": "execute", "confirm": "on"})

    assert [r.pk for r in listed.context["page"]] == [request.pk]
    assert not_confirmed.status_code == 200
    assert done.status_code == 302
    request.refresh_from_db()
    assert request.status == "executed"
    assert User.objects.get(pk=scenario.person.pk).email == erased_email(scenario.person.pk)


def test_the_erasure_pages_are_for_administrators_only(client, scenario):
    request = erasure_request_create(user=scenario.person, requested_by=scenario.person)
    client.force_login(make_user(Role.MANAGER, mfa=True))

    assert client.get("/staff/erasure-requests/").status_code == 403
    assert (
        client.post(
            f"/staff/erasure-requests/{request.pk}/", {"op": "execute", "confirm": "on"}
        ).status_code
        == 403
    )
