"""Writing rate cards: finance adds versions, never retroactively; versions in force never change."""

from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import Role
from core.errors import Conflict, PermissionDenied, ValidationFailed
from core.models import AuditEvent
from payments.models import Rate, RateCard, RateCardVersion, RateImmutableError
from payments.services.rates import rate_card_version_create, rate_card_version_withdraw
from tests.factories import make_user
from tests.labeling.factories import make_customer
from tests.payments.factories import rate, rate_version

pytestmark = pytest.mark.django_db


def test_finance_adds_a_versioned_project_card_and_it_is_audited(finance, project):
    version = rate_version(rate("annotation", 3_500), project=project, actor=finance)

    assert version.number == 1 and version.card.project == project
    assert version.card.customer == project.customer
    assert [(r.work_kind, r.amount_micros) for r in version.rates.all()] == [("annotation", 3_500)]
    event = AuditEvent.objects.get(action="rates.version_create")
    assert event.actor == finance and event.after["rates"][0]["amount_micros"] == 3_500


def test_each_change_is_a_new_version_of_the_same_card(finance, project):
    first = rate_version(rate(amount_micros=1), project=project, actor=finance)
    later = timezone.now() + timedelta(days=3)

    second = rate_version(
        rate(amount_micros=2), project=project, actor=finance, effective_from=later
    )

    assert second.card == first.card and second.number == 2
    assert RateCard.objects.count() == 1


def test_a_customer_default_has_no_project(finance, project):
    version = rate_version(customer=project.customer, actor=finance)

    assert version.card.is_customer_default and version.card.customer == project.customer


def test_a_change_before_now_is_refused_naming_effective_from(finance, project):
    with pytest.raises(ValidationFailed) as refused:
        rate_version(
            project=project, actor=finance, effective_from=timezone.now() - timedelta(minutes=1)
        )

    assert "effective_from" in refused.value.extra["fields"]
    assert "never before" in refused.value.message
    assert not RateCardVersion.objects.exists() and not RateCard.objects.exists()


def test_the_database_refuses_a_retroactive_version_too(finance, project):
    version = rate_version(project=project, actor=finance)

    with pytest.raises(IntegrityError), transaction.atomic():
        RateCardVersion.objects.create(
            card=version.card,
            number=2,
            effective_from=version.created_at - timedelta(seconds=1),
            currency="USD",
            created_at=version.created_at,
        )


def test_a_version_in_force_cannot_be_edited(project):
    version = rate_version(project=project)
    version.currency = "EUR"

    with pytest.raises(RateImmutableError):
        version.save()
    with pytest.raises(RateImmutableError):
        version.rates.update(amount_micros=1)
    with pytest.raises(RateImmutableError):
        version.rates.first().delete()
    assert RateCardVersion.objects.get(pk=version.pk).currency == "USD"


def test_a_version_in_force_cannot_be_withdrawn(finance, project):
    version = rate_version(project=project, actor=finance)

    with pytest.raises(Conflict) as refused:
        rate_card_version_withdraw(version=version, actor=finance, reason="typo")

    assert "in force" in refused.value.message
    assert refused.value.extra["fields"] == {
        "effective_from": ["This version is already in force."]
    }


def test_a_scheduled_version_can_be_withdrawn_with_a_reason(finance, project):
    scheduled = rate_version(
        project=project, actor=finance, effective_from=timezone.now() + timedelta(days=2)
    )

    with pytest.raises(ValidationFailed) as no_reason:
        rate_card_version_withdraw(version=scheduled, actor=finance, reason=" ")
    withdrawn = rate_card_version_withdraw(version=scheduled, actor=finance, reason="wrong rate")

    assert "reason" in no_reason.value.extra["fields"]
    assert withdrawn.withdrawn_at is not None and withdrawn.withdraw_reason == "wrong rate"
    assert AuditEvent.objects.filter(action="rates.version_withdraw").count() == 1


def test_two_versions_of_a_card_cannot_start_at_the_same_moment(finance, project):
    moment = timezone.now() + timedelta(days=1)
    rate_version(project=project, actor=finance, effective_from=moment)

    with pytest.raises(Conflict):
        rate_version(project=project, actor=finance, effective_from=moment)

    assert RateCardVersion.objects.count() == 1


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        (rate("painting"), "rates.0.work_kind"),
        (rate(unit="per_day"), "rates.0.unit"),
        (rate(amount_micros=0), "rates.0.amount_micros"),
        (rate(amount_micros=1.5), "rates.0.amount_micros"),  # type: ignore[arg-type]  # a float is never an amount
        (rate(amount_micros=True), "rates.0.amount_micros"),
        (rate("annotation", review_level=1), "rates.0.review_level"),
        (rate("review", review_level=99), "rates.0.review_level"),
        (rate(tier="boss"), "rates.0.tier"),
        (rate(tier="reviewer-9"), "rates.0.tier"),
        (rate(min_skill_level=11), "rates.0.min_skill_level"),
    ],
)
def test_a_bad_rate_is_refused_naming_its_field(finance, project, spec, field):
    with pytest.raises(ValidationFailed) as refused:
        rate_version(spec, project=project, actor=finance)

    assert field in refused.value.extra["fields"]
    assert not RateCardVersion.objects.exists()


def test_the_same_rate_twice_in_a_version_is_refused(finance, project):
    with pytest.raises(ValidationFailed) as refused:
        rate_version(rate(amount_micros=1), rate(amount_micros=2), project=project, actor=finance)

    assert "rates.1" in refused.value.extra["fields"]


def test_an_unknown_currency_is_refused_naming_currency(finance, project):
    with pytest.raises(ValidationFailed) as refused:
        rate_version(project=project, actor=finance, currency="XYZ")

    assert "currency" in refused.value.extra["fields"]


def test_a_project_of_another_customer_is_refused_naming_customer(finance, project):
    with pytest.raises(ValidationFailed) as refused:
        rate_card_version_create(
            actor=finance,
            customer=make_customer(),
            project=project,
            currency="USD",
            rates=[rate()],
        )

    assert "customer" in refused.value.extra["fields"]


@pytest.mark.parametrize("role", [Role.ANNOTATOR, Role.MANAGER, Role.ADMIN, Role.CUSTOMER])
def test_only_finance_writes_rate_cards(project, role):
    actor = make_user(role, mfa=True)

    with pytest.raises(PermissionDenied):
        rate_version(project=project, actor=actor)

    assert not RateCard.objects.exists()


def test_finance_without_a_second_factor_is_refused(project):
    finance = make_user(Role.FINANCE)

    with pytest.raises(PermissionDenied) as refused:
        rate_version(project=project, actor=finance)

    assert refused.value.code == "mfa_required"


def test_a_failed_version_leaves_no_card_and_no_rate(finance, project):
    with pytest.raises(ValidationFailed):
        rate_version(rate(amount_micros=5), rate("review", -1), project=project, actor=finance)

    assert not RateCard.objects.exists() and not Rate.objects.exists()
