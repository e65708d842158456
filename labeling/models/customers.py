from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class Customer(models.Model):
    """A data owner: an organisation whose projects Quorum's workforce labels."""

    name = models.CharField(max_length=150)
    slug = models.SlugField(max_length=60, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    ip_allowlist = models.JSONField(
        default=list,
        blank=True,
        help_text=(
            "Networks (CIDR, IPv4 or IPv6) the customer's users may use the portal and API from; "
            "empty: anywhere. Written only by labeling.services.access."
        ),
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class CustomerMember(models.Model):
    """A user who acts for a customer (a person belongs to at most one customer)."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="members")
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="customer_membership"
    )
    joined_at = models.DateTimeField(default=timezone.now)
    is_admin = models.BooleanField(
        default=False,
        help_text="Administers the customer's settings (IP allowlist); set by Quorum administrators.",
    )

    def __str__(self) -> str:
        return f"{self.user} @ {self.customer}"
