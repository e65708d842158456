"""The journey's demo data seeds once and leaves the states the docs promise."""

import pytest
from django.test import override_settings

from demo.onboarding import demo_onboarding_seed
from demo.services import demo_seed
from workforce.models import AnnotatorProfile, Notification

pytestmark = pytest.mark.django_db


@override_settings(CELERY_TASK_ALWAYS_EAGER=True)
def test_the_demo_shows_people_part_way_suspended_and_told():
    first = demo_seed().created  # demo_seed calls demo_onboarding_seed
    again = demo_onboarding_seed()

    status = dict(
        AnnotatorProfile.objects.filter(user__email__endswith="@demo.quorum").values_list(
            "user__email", "status"
        )
    )
    assert first and again == []
    assert status["kwame@demo.quorum"] == "terms_accepted"
    assert status["mai@demo.quorum"] == "terms_accepted"
    assert status["lucia@demo.quorum"] == "suspended"
    assert Notification.objects.filter(user__email="annotator@demo.quorum").exists()
