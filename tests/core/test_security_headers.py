"""Content-Security-Policy on every page, and templates that need no inline script."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings

from accounts.models import Role
from tests.factories import make_user

pytestmark = pytest.mark.django_db

_ROOT = Path(settings.BASE_DIR)
_TEMPLATE_DIRS = ["templates", "core", "accounts", "workforce", "labeling", "payments", "demo"]
# A <script> element without a src (inline code), an on*= handler attribute, a javascript: URL.
_INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
_HANDLER = re.compile(r"""\son[a-z]+\s*=\s*["']""", re.IGNORECASE)
_JS_URL = re.compile(r"javascript:", re.IGNORECASE)


def _directives(header: str) -> dict[str, list[str]]:
    parts = (part.strip().split() for part in header.split(";") if part.strip())
    return {name: values for name, *values in parts}


def _templates() -> list[Path]:
    found: list[Path] = []
    for top in _TEMPLATE_DIRS:
        found += [p for p in (_ROOT / top).rglob("*.html") if "templates" in p.parts]
    return found


def test_a_portal_page_carries_the_content_security_policy(client):
    client.force_login(make_user(Role.CUSTOMER))

    response = client.get("/tokens/")

    assert response.status_code == 200
    policy = _directives(response["Content-Security-Policy"])
    assert policy["script-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert "'unsafe-inline'" not in policy["default-src"]


def test_the_sign_in_page_carries_the_policy_too(client):
    response = client.get("/accounts/login/")

    assert _directives(response["Content-Security-Policy"])["script-src"] == ["'self'"]


def test_no_template_has_inline_script():
    templates = _templates()
    offending = [
        f"{path.relative_to(_ROOT)}: {match.group(0)}"
        for path in templates
        for pattern in (_INLINE_SCRIPT, _HANDLER, _JS_URL)
        for match in pattern.finditer(path.read_text())
    ]

    assert len(templates) > 20  # the walk found the templates
    assert offending == []


def test_the_api_docs_page_has_no_inline_script(client):
    response = client.get("/api/v1/docs/")

    assert response.status_code == 200
    assert _INLINE_SCRIPT.findall(response.content.decode()) == []
    assert _directives(response["Content-Security-Policy"])["script-src"] == ["'self'"]
