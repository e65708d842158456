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


class AnnotatorProfile(models.Model):
    """What an annotator tells us at sign-up: where they are, their time zone and languages."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="annotator_profile"
    )
    country = CountryField()
    time_zone = models.CharField(max_length=64)
    languages = models.JSONField(default=list, help_text='Language codes, e.g. ["en", "fr"].')
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Profile of {self.user}"
