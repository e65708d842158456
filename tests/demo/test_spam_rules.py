"""The demo gives each project without rules the default quality rules, once."""

import pytest

from demo.spam_rules import demo_spam_rules_seed
from quality.models import QualityRule
from tests.labeling.factories import make_customer, make_project

pytestmark = pytest.mark.django_db


def test_each_project_gets_the_default_rules_once():
    customer = make_customer()
    project = make_project(customer)

    first = demo_spam_rules_seed(customer=customer)
    again = demo_spam_rules_seed(customer=customer)

    assert len(first) == 2 and again == []
    assert QualityRule.objects.filter(project=project, is_active=True).count() == 2
