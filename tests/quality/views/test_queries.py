"""The quality rule pages do a number of queries that does not grow with the rows they show."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from quality.models import (
    QualityRule,
    RuleAction,
)
from quality.services.actions import rule_action_appeal
from quality.services.evaluation import rules_evaluate
from tests.labeling.factories import make_worker
from tests.quality.factories import (
    GOLD_SPAM,
    gold_record,
    spam_rule,
)

pytestmark = pytest.mark.django_db


def test_page_queries_do_not_grow_with_the_rows(
    client, manager, project, django_assert_max_num_queries
):
    rule = spam_rule(manager, action="notify")
    people = []
    pages = [
        (manager, "/quality/rules/"),
        (manager, "/quality/actions/"),
        (manager, "/quality/appeals/"),
        (manager, f"/quality/rules/{rule.pk}/dry-run/"),
        (None, "/quality/mine/"),
    ]

    def seed(count):
        for _ in range(count):
            person = make_worker()
            gold_record(project, person, GOLD_SPAM)
            actions = rules_evaluate(user=person, project=project)
            rule_action_appeal(action=actions[0], user=person, reason="Not a bot.")
            spam_rule(manager, is_active=False)
            people.append(person)
        # The person's own page grows too: every rule acts on the first person.
        for rule in QualityRule.objects.exclude(actions__user=people[0]):
            rule.is_active = True
            rule.save()
        rules_evaluate(user=people[0], project=project)

    def queries(viewer, url):
        client.force_login(viewer or people[0])
        client.get(url)  # warm the per-process caches (content types, sessions)
        with CaptureQueriesContext(connection) as counted:
            assert client.get(url).status_code == 200
        return len(counted)

    seed(1)
    before = {url: queries(viewer, url) for viewer, url in pages}
    seed(4)
    for viewer, url in pages:
        client.force_login(viewer or people[0])
        with django_assert_max_num_queries(before[url], info=url):
            assert client.get(url).status_code == 200
    assert RuleAction.objects.filter(user=people[0]).count() > 1
