"""The action pages: a person sees the actions taken on them and appeals one; a manager sees the
full evidence and lifts an action."""

import re

import pytest

from quality.models import Appeal
from quality.services.evaluation import rules_evaluate
from tests.labeling.factories import make_worker
from tests.quality.factories import (
    GOLD_SPAM,
    gold_record,
    hit,
)
from workforce.models import AnnotatorProfile

pytestmark = pytest.mark.django_db


def test_a_person_sees_their_actions_and_appeals_one(client, manager, project):
    spammer, other = make_worker(), make_worker()
    action = hit(manager, project, spammer)
    gold_record(project, other, GOLD_SPAM)
    [others] = rules_evaluate(user=other, project=project)
    client.force_login(spammer)

    mine = client.get("/quality/mine/").content.decode()
    detail = client.get(f"/quality/actions/{action.pk}/")
    hidden = client.get(f"/quality/actions/{others.pk}/")
    filed = client.post(f"/quality/actions/{action.pk}/appeal/", {"reason": "I am not a bot."})

    assert f"/quality/actions/{action.pk}/" in mine
    assert f"/quality/actions/{others.pk}/" not in mine
    assert detail.status_code == 200
    assert "not shown: they would tell which tasks were checks" in detail.content.decode()
    # The evidence names no item; the form's random CSRF token may hold any digits, so it is left
    # out before looking (the test failed once on a token with "12" in it).
    evidence = re.sub(
        r'name="csrfmiddlewaretoken" value="[^"]*"', "", detail.content.decode()
    ).split("Evidence", 1)[1]
    assert not re.search(rf"\b{action.item_ids[0]}\b", evidence)
    assert hidden.status_code == 404
    assert filed.status_code == 302
    assert Appeal.objects.get().reason == "I am not a bot."


def test_an_empty_appeal_is_refused_next_to_the_field(client, manager, project):
    spammer = make_worker()
    action = hit(manager, project, spammer)
    client.force_login(spammer)

    response = client.post(f"/quality/actions/{action.pk}/appeal/", {"reason": ""})

    assert response.status_code == 200
    assert "reason" in response.context["appeal_form"].errors
    assert Appeal.objects.count() == 0


def test_a_manager_sees_the_full_evidence_and_lifts_an_action(manager_client, manager, project):
    spammer = make_worker()
    action = hit(manager, project, spammer)

    detail = manager_client.get(f"/quality/actions/{action.pk}/").content.decode()
    lifted = manager_client.post(f"/quality/actions/{action.pk}/lift/", {"note": "Our mistake."})

    assert ", ".join(str(i) for i in action.item_ids) in detail
    assert "Account status set to suspended (was active)" in detail
    assert lifted.status_code == 302
    assert AnnotatorProfile.objects.get(user=spammer).status == "active"
