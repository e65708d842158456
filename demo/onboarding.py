"""Demo data of the onboarding journey and notifications (idempotent).

Call `demo_onboarding_seed()` after `demo_seed()` has made the demo people. It leaves:
- Kwame and Mai part-way through onboarding (signed up, terms accepted, training next), Kwame
  waiting since two days, so the Onboarding page has someone waiting longest;
- Lucía suspended with a reason (a manager can reinstate her to where she was);
- Ana with a welcome notification, so the header shows an unread count.
Everything goes through the services, as real work would.
"""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from workforce.models import AnnotatorProfile, AnnotatorStatus, Notification, NotificationKind
from workforce.services.notifications import notify
from workforce.services.onboarding import journey_suspend, journey_transition


@transaction.atomic
def demo_onboarding_seed() -> list[str]:
    """Seed the journey's demo states; return what was created."""
    created: list[str] = []
    people = {u.email: u for u in User.objects.filter(email__endswith="@demo.quorum")}
    manager = people.get("manager@demo.quorum")

    kwame = AnnotatorProfile.objects.filter(user__email="kwame@demo.quorum").first()
    if kwame is not None and kwame.status == AnnotatorStatus.APPLICANT:
        # Profiles from before the journey: walk them to where sign-up puts people now.
        journey_transition(profile=kwame, to=AnnotatorStatus.PROFILE_COMPLETE, actor=None)
        journey_transition(profile=kwame, to=AnnotatorStatus.TERMS_ACCEPTED, actor=None)
    if kwame is not None and kwame.status_changed_at > timezone.now() - timedelta(days=1):
        AnnotatorProfile.objects.filter(pk=kwame.pk).update(
            status_changed_at=timezone.now() - timedelta(days=2)
        )
        created.append("kwame@demo.quorum waiting for training for two days")

    lucia = AnnotatorProfile.objects.filter(user__email="lucia@demo.quorum").first()
    if lucia is not None and lucia.status in (AnnotatorStatus.ACTIVE, AnnotatorStatus.PROBATION):
        journey_suspend(profile=lucia, actor=manager, reason="Identity check pending (demo data).")
        created.append("lucia@demo.quorum suspended")

    ana = people.get("annotator@demo.quorum")
    if (
        ana is not None
        and not Notification.objects.filter(user=ana, title__startswith="Welcome").exists()
    ):
        notify(
            user=ana,
            kind=NotificationKind.ACCOUNT_ACTIVATED,
            title="Welcome to Quorum",
            body="Your account is active: pick a project on your work page.",
            url="/work/",
        )
        created.append("a welcome notification for annotator@demo.quorum")
    return created
