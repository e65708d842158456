"""Every write to users, roles and API tokens; each one leaves an audit record."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from allauth.account.models import EmailAddress
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone

from accounts.models import ApiToken, Role, RoleGrant, User
from accounts.selectors import (
    api_token_remember,
    api_tokens_forget,
    token_digest,
    user_roles_forget,
)
from core.audit import audit_record, snapshot
from core.errors import Conflict, NotFound, ValidationFailed

TOKEN_PREFIX = "qrm"  # noqa: S105  (the public prefix of every key, not a secret)
# A token's last-used time is written at most this often, to keep reads from becoming writes.
TOKEN_TOUCH_INTERVAL = timedelta(minutes=1)


@dataclass(frozen=True)
class RoleSpec:
    role: Role
    level: int | None = None

    @classmethod
    def parse(cls, text: str) -> RoleSpec:
        """Parse "manager" or "reviewer:2"; raise ValidationFailed naming the bad part."""
        name, _, level_text = text.strip().partition(":")
        try:
            role = Role(name.strip().lower())
        except ValueError:
            valid = ", ".join(Role.values)
            raise ValidationFailed(
                f"Unknown role {name!r}; use one of: {valid}.",
                fields={"role": [f"Unknown role {name!r}."]},
            ) from None
        level: int | None = None
        if level_text:
            if not level_text.isdigit() or int(level_text) < 1:
                raise ValidationFailed(
                    f"Level must be a whole number from 1, not {level_text!r}.",
                    fields={"level": ["Must be a whole number from 1."]},
                )
            level = int(level_text)
        return cls(role=role, level=level)


def _check_level(role: Role, level: int | None) -> int | None:
    if role == Role.REVIEWER:
        if level is None or level < 1:
            raise ValidationFailed(
                "A reviewer role needs a level of 1 or more.",
                fields={"level": ["Required for reviewers."]},
            )
        return level
    if level is not None:
        raise ValidationFailed(
            "Only the reviewer role has a level.",
            fields={"level": ["Only reviewers have a level."]},
        )
    return None


def _user_snapshot(user: User) -> dict[str, Any]:
    return snapshot(user, ["email", "full_name", "is_active", "is_staff", "is_superuser"])


@transaction.atomic
def user_create(
    *,
    email: str,
    password: str | None,
    full_name: str = "",
    roles: Iterable[RoleSpec] = (),
    actor: User | None = None,
    email_verified: bool = False,
) -> User:
    """Create a user with roles; raise ValidationFailed for a bad or taken e-mail or weak password."""
    email = email.strip().lower()
    try:
        validate_email(email)
    except DjangoValidationError:
        raise ValidationFailed(
            f"{email!r} is not a valid e-mail address.",
            fields={"email": ["Enter a valid e-mail address."]},
        ) from None
    if User.objects.filter(email__iexact=email).exists():
        raise Conflict(f"A user with the e-mail {email} already exists.", extra={"field": "email"})
    user = User(email=email, full_name=full_name)
    if password:
        try:
            validate_password(password, user)
        except DjangoValidationError as exc:
            raise ValidationFailed(
                "The password is too weak: " + " ".join(exc.messages),
                fields={"password": exc.messages},
            ) from None
        user.set_password(password)
    else:
        user.set_unusable_password()
    user.save()
    EmailAddress.objects.create(user=user, email=email, primary=True, verified=email_verified)
    audit_record(actor=actor, action="user.created", target=user, after=_user_snapshot(user))
    for spec in roles:
        role_grant(user=user, role=spec.role, level=spec.level, actor=actor)
    return user


@transaction.atomic
def user_set_active(*, user: User, is_active: bool, actor: User | None) -> User:
    """Activate or deactivate a user's sign-in."""
    locked = User.objects.select_for_update().get(pk=user.pk)
    before = _user_snapshot(locked)
    locked.is_active = is_active
    locked.save(update_fields=["is_active"])
    api_tokens_forget(user_id=locked.pk)
    audit_record(
        actor=actor,
        action="user.activated" if is_active else "user.deactivated",
        target=locked,
        before=before,
        after=_user_snapshot(locked),
    )
    return locked


def _sync_admin_flags(user: User, *, is_admin: bool) -> None:
    # The admin role is what opens the Django admin site; the flags follow the role.
    if user.is_staff != is_admin or user.is_superuser != is_admin:
        user.is_staff = is_admin
        user.is_superuser = is_admin
        user.save(update_fields=["is_staff", "is_superuser"])


@transaction.atomic
def role_grant(
    *, user: User, role: Role | str, level: int | None = None, actor: User | None
) -> RoleGrant:
    """Give `user` the role (or change a reviewer's level); repeating the same grant changes nothing."""
    role = Role(role)
    level = _check_level(role, level)
    User.objects.select_for_update().filter(pk=user.pk).first()
    grant = RoleGrant.objects.filter(user=user, role=role).first()
    before = snapshot(grant, ["role", "level"]) if grant else None
    if grant is None:
        grant = RoleGrant.objects.create(user=user, role=role, level=level, granted_by=actor)
    elif grant.level != level:
        grant.level = level
        grant.granted_by = actor
        grant.granted_at = timezone.now()
        grant.save(update_fields=["level", "granted_by", "granted_at"])
    else:
        return grant
    if role == Role.ADMIN:
        _sync_admin_flags(user, is_admin=True)
    user_roles_forget(user)
    api_tokens_forget(user_id=user.pk)
    audit_record(
        actor=actor,
        action="role.granted" if before is None else "role.changed",
        target=user,
        before=before,
        after=snapshot(grant, ["role", "level"]),
    )
    return grant


@transaction.atomic
def role_revoke(*, user: User, role: Role | str, actor: User | None) -> None:
    """Take the role from `user`; raise NotFound if they do not hold it."""
    role = Role(role)
    User.objects.select_for_update().filter(pk=user.pk).first()
    grant = RoleGrant.objects.filter(user=user, role=role).first()
    if grant is None:
        raise NotFound(f"{user.email} does not hold the {role.label} role.")
    before = snapshot(grant, ["role", "level"])
    grant.delete()
    if role == Role.ADMIN:
        _sync_admin_flags(user, is_admin=False)
    user_roles_forget(user)
    api_tokens_forget(user_id=user.pk)
    audit_record(actor=actor, action="role.revoked", target=user, before=before, after=None)


def _token_snapshot(token: ApiToken) -> dict[str, Any]:
    return snapshot(token, ["name", "prefix", "user", "expires_at", "revoked_at"])


@transaction.atomic
def api_token_create(
    *, user: User, name: str, expires_at: datetime | None = None, actor: User | None = None
) -> tuple[ApiToken, str]:
    """Create a token for `user`; return it and its key, which is never retrievable again."""
    name = name.strip()
    if not name:
        raise ValidationFailed(
            "Give the token a name.", fields={"name": ["This field is required."]}
        )
    if len(name) > 100:
        raise ValidationFailed(
            "The name is too long.", fields={"name": ["At most 100 characters."]}
        )
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationFailed(
            "The expiry must be in the future.", fields={"expires_at": ["Must be in the future."]}
        )
    prefix = secrets.token_hex(4)
    key = f"{TOKEN_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    token = ApiToken.objects.create(
        user=user, name=name, prefix=prefix, key_digest=token_digest(key), expires_at=expires_at
    )
    audit_record(
        actor=actor or user, action="token.created", target=token, after=_token_snapshot(token)
    )
    return token, key


@transaction.atomic
def api_token_revoke(*, token: ApiToken, actor: User) -> ApiToken:
    """Revoke the token at once; revoking twice is harmless."""
    locked = ApiToken.objects.select_for_update().get(pk=token.pk)
    if locked.revoked_at is not None:
        return locked
    before = _token_snapshot(locked)
    locked.revoked_at = timezone.now()
    locked.save(update_fields=["revoked_at"])
    api_tokens_forget(user_id=locked.user_id)
    audit_record(
        actor=actor,
        action="token.revoked",
        target=locked,
        before=before,
        after=_token_snapshot(locked),
    )
    return locked


def api_token_touch(*, token: ApiToken) -> None:
    """Note that the token was just used (one UPDATE, at most once per interval)."""
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at >= TOKEN_TOUCH_INTERVAL:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
        api_token_remember(token)
