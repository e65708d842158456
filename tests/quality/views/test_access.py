"""Only managers and administrators reach the rule, action and appeal pages; visitors sign in first."""

import pytest

from accounts.models import Role
from quality.models import QualityRule
from tests.factories import make_user
from tests.quality.factories import RULE_FORM

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("role", [Role.ANNOTATOR, Role.CUSTOMER])
def test_others_are_refused_the_rule_pages(client, role):
    client.force_login(make_user(role))

    for url in ("/quality/rules/", "/quality/actions/", "/quality/appeals/"):
        assert client.get(url).status_code == 403
    assert client.post("/quality/rules/new/", RULE_FORM).status_code == 403
    assert QualityRule.objects.count() == 0


def test_signed_out_visitors_are_sent_to_sign_in(client):
    response = client.get("/quality/mine/")

    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]
