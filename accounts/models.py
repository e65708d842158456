from __future__ import annotations

from typing import Any, ClassVar

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from core.sessions import generations_replace, person_generation_key


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **extra: Any) -> User:
        if not email:
            raise ValueError("An e-mail address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **extra: Any) -> User:
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self.create_user(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    """A person who signs in: annotator, reviewer, manager, finance, admin or customer user."""

    email = models.EmailField("e-mail address", unique=True)
    full_name = models.CharField(max_length=150, blank=True)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(
        default=False, help_text="May sign in to the Django admin site (given with the admin role)."
    )
    date_joined = models.DateTimeField(default=timezone.now)

    objects: ClassVar[UserManager] = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    class Meta:
        constraints = [
            models.UniqueConstraint(Lower("email"), name="accounts_user_email_ci_unique"),
        ]

    def __str__(self) -> str:
        return self.email

    def save(self, *args: Any, **kwargs: Any) -> None:
        """Save; a new password also ends what other processes cached of the person's sign-ins
        (see `core.sessions`), whichever way it was set: their own change, a reset by e-mail, an
        administrator."""
        password_changed = getattr(self, "_password", None) is not None  # set by set_password
        super().save(*args, **kwargs)
        if password_changed and self.pk is not None:
            generations_replace([person_generation_key(self.pk)])

    def get_full_name(self) -> str:
        return self.full_name or self.email

    def get_short_name(self) -> str:
        return self.full_name.split(" ")[0] if self.full_name else self.email


class Role(models.TextChoices):
    ANNOTATOR = "annotator", "Annotator"
    REVIEWER = "reviewer", "Reviewer"
    MANAGER = "manager", "Workforce manager"
    FINANCE = "finance", "Finance"
    ADMIN = "admin", "Administrator"
    CUSTOMER = "customer", "Customer"


class RoleGrant(models.Model):
    """One role held by a user; reviewers hold theirs at a level (1 is the first review level)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="role_grants"
    )
    role = models.CharField(max_length=20, choices=Role.choices)
    level = models.PositiveSmallIntegerField(null=True, blank=True)
    granted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    granted_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "role"], name="accounts_rolegrant_one_per_role"
            ),
            models.CheckConstraint(
                # "IS NOT NULL" matters: a NULL level would make the check unknown, which passes.
                condition=(models.Q(role="reviewer", level__isnull=False, level__gte=1))
                | (~models.Q(role="reviewer") & models.Q(level__isnull=True)),
                name="accounts_rolegrant_level_only_for_reviewers",
            ),
        ]

    def __str__(self) -> str:
        suffix = f" L{self.level}" if self.level else ""
        return f"{self.user} is {self.get_role_display()}{suffix}"


class ApiToken(models.Model):
    """A key for API clients. Only a SHA-256 digest is stored; the key is shown once at creation."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, unique=True, help_text="Public part, shown in lists.")
    key_digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        if self.revoked_at is not None:
            return False
        return self.expires_at is None or self.expires_at > timezone.now()


class ErasureStatus(models.TextChoices):
    REQUESTED = "requested", "Requested"
    EXECUTED = "executed", "Executed: personal data erased"
    CANCELLED = "cancelled", "Cancelled by the person"
    REJECTED = "rejected", "Rejected by an administrator"


class ErasureRequest(models.Model):
    """A person's request to erase their personal data; an administrator decides it once.

    The row outlives the erasure (it is the record that the request was honoured) and names the
    person only by their user id, which is pseudonymous once the erasure is executed.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="erasure_requests"
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The person themselves, or an administrator acting on their written request.",
    )
    requested_at = models.DateTimeField(default=timezone.now)
    status = models.CharField(
        max_length=10, choices=ErasureStatus.choices, default=ErasureStatus.REQUESTED
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.TextField(
        blank=True, help_text="Why a request was rejected; shown to the person."
    )
    outcome = models.JSONField(
        default=dict, blank=True, help_text="What the erasure changed, section by section (counts)."
    )

    class Meta:
        ordering = ["-requested_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["user"],
                condition=models.Q(status="requested"),
                name="accounts_erasure_one_open_per_user",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "requested_at"], name="accounts_erasure_by_status"),
        ]

    def __str__(self) -> str:
        # Never the e-mail address: this text is copied into the audit trail.
        return f"Erasure request {self.pk} of user {self.user_id}"
