from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class Customer(models.Model):
    """A data owner: an organisation whose projects Quorum's workforce labels."""

    name = models.CharField(max_length=150)
    slug = models.SlugField(max_length=60, unique=True)
    created_at = models.DateTimeField(default=timezone.now)

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

    def __str__(self) -> str:
        return f"{self.user} @ {self.customer}"
