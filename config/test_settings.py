"""Settings for the test suite: production settings with test-only defaults for what CI leaves unset.

The suite runs with DEBUG off, like production; DATABASE_URL and REDIS_URL come from the
environment (CI points them at the real PostgreSQL and Redis).
"""

import os

os.environ.setdefault("SECRET_KEY", "test-only-secret-key-not-used-anywhere-else-0123456789")
os.environ.setdefault("DEBUG", "false")
os.environ.setdefault("SECURE_SSL_REDIRECT", "false")
os.environ.setdefault("SESSION_COOKIE_SECURE", "false")
os.environ.setdefault("CSRF_COOKIE_SECURE", "false")
os.environ.setdefault("CACHE_KEY_PREFIX", "quorum-test")
os.environ.setdefault("EMAIL_URL", "consolemail://")
# A fixed test-only key for bank details at rest (payments); never used outside the suite.
os.environ.setdefault("PAYOUT_DETAILS_KEY", "6GTf87gArppMMiBnhlEHlQULRmAL_b0zq0qg8S0QJqw=")

from config.settings import *  # noqa: F403

# A fast hasher: the suite creates many users and never stores a real password.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
