import pytest
from django.db import IntegrityError, transaction

from accounts.models import Role, RoleGrant
from accounts.selectors import user_roles
from accounts.services import RoleSpec, role_grant, role_revoke, user_create
from core.errors import Conflict, NotFound, ValidationFailed
from core.models import AuditEvent
from tests.factories import make_user

pytestmark = pytest.mark.django_db


def role_events(user):
    return AuditEvent.objects.filter(
        target_type__model="user", target_id=str(user.pk), action__startswith="role."
    )


def test_granting_a_role_is_audited_with_who_and_after():
    admin = make_user(Role.ADMIN)
    person = make_user(Role.ANNOTATOR)

    role_grant(user=person, role=Role.REVIEWER, level=2, actor=admin)

    event = role_events(person).get(action="role.granted", after__role="reviewer")
    assert event.actor == admin
    assert event.before is None
    assert event.after == {"role": "reviewer", "level": 2}


def test_changing_a_reviewer_level_records_before_and_after():
    admin = make_user(Role.ADMIN)
    person = make_user(Role.REVIEWER, level=1)

    role_grant(user=person, role=Role.REVIEWER, level=3, actor=admin)

    event = role_events(person).get(action="role.changed")
    assert event.before == {"role": "reviewer", "level": 1}
    assert event.after == {"role": "reviewer", "level": 3}
    assert user_roles(person)["reviewer"] == 3


def test_repeating_the_same_grant_changes_nothing_and_records_nothing():
    admin = make_user(Role.ADMIN)
    person = make_user(Role.REVIEWER, level=1)
    count = role_events(person).count()

    role_grant(user=person, role=Role.REVIEWER, level=1, actor=admin)

    assert role_events(person).count() == count
    assert RoleGrant.objects.filter(user=person, role=Role.REVIEWER).count() == 1


def test_revoking_a_role_is_audited_and_takes_effect():
    admin = make_user(Role.ADMIN)
    person = make_user(Role.CUSTOMER)

    role_revoke(user=person, role=Role.CUSTOMER, actor=admin)

    assert "customer" not in user_roles(person)
    event = role_events(person).get(action="role.revoked")
    assert event.before == {"role": "customer", "level": None}
    assert event.after is None


def test_revoking_a_role_the_user_does_not_hold_is_not_found():
    person = make_user(Role.CUSTOMER)

    with pytest.raises(NotFound):
        role_revoke(user=person, role=Role.FINANCE, actor=None)


def test_a_reviewer_needs_a_level_and_other_roles_take_none():
    person = make_user(Role.ANNOTATOR)

    with pytest.raises(ValidationFailed) as missing:
        role_grant(user=person, role=Role.REVIEWER, actor=None)
    with pytest.raises(ValidationFailed) as extra:
        role_grant(user=person, role=Role.MANAGER, level=2, actor=None)

    assert missing.value.extra["fields"] == {"level": ["Required for reviewers."]}
    assert "level" in extra.value.extra["fields"]


def test_the_database_refuses_a_reviewer_without_a_level():
    person = make_user(Role.ANNOTATOR)

    with pytest.raises(IntegrityError), transaction.atomic():
        RoleGrant.objects.create(user=person, role=Role.REVIEWER, level=None)


def test_the_admin_role_opens_the_django_admin_and_revoking_closes_it():
    person = make_user(Role.CUSTOMER)

    role_grant(user=person, role=Role.ADMIN, actor=None)
    person.refresh_from_db()
    assert person.is_staff and person.is_superuser

    role_revoke(user=person, role=Role.ADMIN, actor=None)
    person.refresh_from_db()
    assert not person.is_staff and not person.is_superuser


def test_creating_a_user_is_audited_and_refuses_a_taken_email_in_any_case():
    user = user_create(
        email="Ana@Example.test", password="a-long-unusual-pass", roles=[RoleSpec(Role.CUSTOMER)]
    )

    assert user.email == "ana@example.test"
    assert AuditEvent.objects.filter(action="user.created", target_id=str(user.pk)).exists()
    with pytest.raises(Conflict):
        user_create(email="ANA@example.test", password="a-long-unusual-pass")


def test_creating_a_user_with_a_weak_password_names_the_field_and_stores_nothing():
    with pytest.raises(ValidationFailed) as error:
        user_create(email="weak@example.test", password="123")

    assert "password" in error.value.extra["fields"]
    from accounts.models import User

    assert not User.objects.filter(email="weak@example.test").exists()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("manager", RoleSpec(Role.MANAGER)),
        ("reviewer:2", RoleSpec(Role.REVIEWER, 2)),
        (" Admin ", RoleSpec(Role.ADMIN)),
    ],
)
def test_role_specs_parse(text, expected):
    assert RoleSpec.parse(text) == expected


@pytest.mark.parametrize("text", ["boss", "reviewer:x", "reviewer:0"])
def test_bad_role_specs_are_refused_with_the_reason(text):
    with pytest.raises(ValidationFailed):
        RoleSpec.parse(text)
