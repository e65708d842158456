"""The demo's rate cards: a customer default and a project card with a history; seeding twice adds nothing."""

import pytest

from payments.demo import rates_demo_seed
from payments.models import RateCard, RateCardVersion
from payments.selectors.rates import (
    VersionStatus,
    rate_lookup,
    rate_version_status,
    rate_versions_list,
)
from tests.labeling.factories import make_customer, make_project

pytestmark = pytest.mark.django_db


def test_the_demo_seeds_a_default_and_a_project_card_once(person):
    customer = make_customer()
    project = make_project(customer)
    other = make_project(customer)

    first = rates_demo_seed(customer=customer)
    again = rates_demo_seed(customer=customer)

    assert len(first) == 2 and again == []
    assert RateCard.objects.filter(customer=customer).count() == 2
    statuses = sorted(
        rate_version_status(v) for v in rate_versions_list().filter(card__project=project)
    )
    assert statuses == sorted(
        [VersionStatus.SUPERSEDED, VersionStatus.IN_FORCE, VersionStatus.SCHEDULED]
    )
    own = rate_lookup(project=project, person=person, work_kind="annotation")
    default = rate_lookup(project=other, person=person, work_kind="annotation")
    assert own.amount.amount == 55_000 and default.amount.amount == 35_000
    assert RateCardVersion.objects.count() == 4
