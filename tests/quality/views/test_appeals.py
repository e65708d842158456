"""The appeal pages: a manager upholds an appeal or rejects it with a note."""

import pytest

from quality.services.actions import rule_action_appeal
from tests.labeling.factories import make_worker
from tests.quality.factories import hit
from workforce.models import AnnotatorProfile

pytestmark = pytest.mark.django_db


def test_a_manager_upholds_an_appeal_and_access_comes_back(manager_client, manager, project):
    spammer = make_worker()
    action = hit(manager, project, spammer)
    appeal = rule_action_appeal(action=action, user=spammer, reason="I am not a bot.")
    page = manager_client.get("/quality/appeals/").content.decode()

    response = manager_client.post(
        f"/quality/appeals/{appeal.pk}/decide/", {"decision": "uphold", "note": ""}
    )

    assert "I am not a bot." in page
    assert response.status_code == 302
    appeal.refresh_from_db()
    assert appeal.status == "upheld"
    assert AnnotatorProfile.objects.get(user=spammer).status == "active"


def test_a_rejection_without_a_note_is_shown_next_to_the_note(manager_client, manager, project):
    spammer = make_worker()
    action = hit(manager, project, spammer)
    appeal = rule_action_appeal(action=action, user=spammer, reason="I am not a bot.")

    response = manager_client.post(
        f"/quality/appeals/{appeal.pk}/decide/", {"decision": "reject", "note": ""}
    )

    assert response.status_code == 400
    assert f'id="appeal-{appeal.pk}-note_errors"' in response.content.decode()
    appeal.refresh_from_db()
    assert appeal.status == "pending"
