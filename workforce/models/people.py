from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django_countries.fields import CountryField


class TermsVersion(models.Model):
    """One published version of the terms of work annotators accept; the newest published is current."""

    version = models.CharField(max_length=20, unique=True)
    title = models.CharField(max_length=200)
    body = models.TextField()
    published_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-published_at", "-id"]

    def __str__(self) -> str:
        return f"{self.title} (version {self.version})"


class TermsAcceptance(models.Model):
    """A person's acceptance of one terms version, with when and from where."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="terms_acceptances"
    )
    terms = models.ForeignKey(TermsVersion, on_delete=models.PROTECT, related_name="acceptances")
    accepted_at = models.DateTimeField(default=timezone.now)
    ip_address = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "terms"], name="workforce_terms_accepted_once"),
        ]

    def __str__(self) -> str:
        return f"{self.user} accepted {self.terms.version}"


class AnnotatorStatus(models.TextChoices):
    """Where a person is in their journey; the onboarding steps between applicant and probation are
    data (workforce/selectors/onboarding_steps.py), so a profile may also hold a registered step's name."""

    APPLICANT = "applicant", "Applicant"
    PROFILE_COMPLETE = "profile_complete", "Profile complete"
    TERMS_ACCEPTED = "terms_accepted", "Terms accepted"
    TRAINED = "trained", "Trained"
    QUALIFIED = "qualified", "Qualified"
    APPROVAL = "approval", "Waiting for approval"
    PROBATION = "probation", "Active (probation)"
    ACTIVE = "active", "Active"
    SUSPENDED = "suspended", "Suspended"
    OFFBOARDED = "offboarded", "Offboarded"


# Only these may take work from a queue.
WORKING_STATUSES = (AnnotatorStatus.PROBATION, AnnotatorStatus.ACTIVE)


class AnnotatorProfile(models.Model):
    """An annotator: where they are, their languages, and whether they may work now."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="annotator_profile"
    )
    country = CountryField()
    time_zone = models.CharField(max_length=64)
    languages = models.JSONField(default=list, help_text='Language codes, e.g. ["en", "fr"].')
    # A journey state: an AnnotatorStatus value or a registered onboarding step's name (no choices,
    # so another app's step needs no migration here); the services validate it.
    status = models.CharField(max_length=40, default=AnnotatorStatus.APPLICANT, db_index=True)
    status_changed_at = models.DateTimeField(default=timezone.now)
    status_before_suspension = models.CharField(
        max_length=40, blank=True, help_text="Where reinstating a suspended person returns them."
    )
    is_trusted = models.BooleanField(
        default=False,
        help_text="Proven by their record: reviewed and checked with gold less often.",
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Profile of {self.user}"

    def get_status_display(self) -> str:
        """The status's label (a registered step's name reads as words)."""
        if self.status in AnnotatorStatus.values:
            return str(AnnotatorStatus(self.status).label)
        return self.status.replace("_", " ").capitalize()


class Standing(models.TextChoices):
    """How much a person's work is checked: new people always, proven people less."""

    PROBATION = "probation", "Probation"
    REGULAR = "regular", "Regular"
    TRUSTED = "trusted", "Trusted"


class Skill(models.Model):
    """Something a person can be qualified for, e.g. "English sentiment" or "street-scene boxes"."""

    slug = models.SlugField(max_length=60, unique=True)
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class SkillLevel(models.Model):
    """A person's level in one skill (1 = qualified); projects ask for a minimum level."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="skill_levels"
    )
    skill = models.ForeignKey(Skill, on_delete=models.CASCADE, related_name="levels")
    level = models.PositiveSmallIntegerField()
    granted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    granted_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "skill"], name="workforce_skilllevel_one_per_skill"
            ),
            models.CheckConstraint(
                condition=models.Q(level__gte=1, level__lte=10), name="workforce_skilllevel_1_to_10"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} {self.skill.slug}={self.level}"
