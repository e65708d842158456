"""The permissions every API view of every app starts from: signed in, with MFA where the role
needs it. A view adds its own checks after these (`[*BASE_PERMISSIONS, PolicyAllows]`)."""

from __future__ import annotations

from rest_framework.permissions import BasePermission, IsAuthenticated

from accounts.permissions import MfaEnrolled

BASE_PERMISSIONS: list[type[BasePermission]] = [IsAuthenticated, MfaEnrolled]
