"""Quorum settings: every value comes from the environment (see README, "Configuration")."""

from __future__ import annotations

import base64
import hashlib
import secrets
from pathlib import Path
from typing import Any

import environ
from kombu import Queue

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# A local .env is optional and never committed; real deployments set variables in the environment.
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)


def _secret_key() -> str:
    key: str | None = env.str("SECRET_KEY", default=None)
    if key:
        return key
    if DEBUG:
        # A development key that is stable for this checkout, so sessions survive restarts.
        path = BASE_DIR / ".secret_key"
        if not path.exists():
            path.write_text(secrets.token_urlsafe(50))
            path.chmod(0o600)
        return path.read_text().strip()
    raise environ.ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")


SECRET_KEY = _secret_key()
ALLOWED_HOSTS: list[str] = env.list(
    "ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"] if DEBUG else []
)
CSRF_TRUSTED_ORIGINS: list[str] = env.list("CSRF_TRUSTED_ORIGINS", default=[])
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "django_countries",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "core",
    "accounts",
    "workforce",
    "labeling",
    "quality",
    "payments",
    "dashboards",
    "demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "labeling.middleware.CustomerIpAllowlistMiddleware",
    "accounts.middleware.MfaRequiredMiddleware",
    "core.middleware.QuorumErrorMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "accounts.context_processors.navigation",
                "workforce.context_processors.notifications",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
# Embedded default: a SQLite file beside the project. IMMEDIATE transactions take the write lock
# at BEGIN, so concurrent writers queue on the busy timeout instead of failing mid-transaction.
DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'quorum.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": (
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"
            ),
        }
    )
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DB_CONN_MAX_AGE", default=60))
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = env.bool("DB_CONN_HEALTH_CHECKS", default=True)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis, cache, Celery -------------------------------------------------------------------
REDIS_URL: str | None = env.str("REDIS_URL", default=None) or None

if REDIS_URL:
    CACHES: dict[str, Any] = {
        "default": {
            "BACKEND": "core.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="quorum"),
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "quorum",
        }
    }

CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = REDIS_URL or "cache+memory://"
# Without Redis there is no broker: tasks run in-process (the embedded default).
CELERY_TASK_ALWAYS_EAGER = REDIS_URL is None
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Celery's Django fix-up closes the database connection before and after every task unless this
# is set; it then closes it only every this many tasks. A new PostgreSQL connection per task (a
# server process started, the per-connection prepared statements lost) cost a payout item more
# than its own work. Between tasks, config/celery.py closes a connection as Django's request
# cycle does: once it is older than DB_CONN_MAX_AGE, or unusable (DB_CONN_HEALTH_CHECKS).
CELERY_DB_REUSE_MAX = 1000
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_QUEUES = (Queue("default"), Queue("imports"), Queue("payouts"))
CELERY_TASK_ROUTES = {
    "labeling.tasks.import_*": {"queue": "imports"},
    "labeling.tasks.export_*": {"queue": "imports"},
    "payments.tasks.payout_*": {"queue": "payouts"},
    "payments.tasks.stripe_*": {"queue": "payouts"},
}
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_EXPIRES = 60 * 60 * 24
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 60 * 60}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = "UTC"

# --- Authentication -------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "home"

ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_EMAIL_VERIFICATION_BY_CODE_ENABLED = True
ACCOUNT_PASSWORD_RESET_BY_CODE_ENABLED = False
ACCOUNT_PREVENT_ENUMERATION = True
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_SESSION_REMEMBER = None
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[Quorum] "
ACCOUNT_ADAPTER = "accounts.adapter.AccountAdapter"
ACCOUNT_FORMS = {"signup": "workforce.forms.AnnotatorSignupForm"}
# Rate limits (allauth keeps the counters in the cache: Redis in production).
# Failed passwords are not counted here but per account and address (accounts/signin_throttle.py):
# "login_failed" limits the codes of the second step of sign-in, per address and per person.
ACCOUNT_RATE_LIMITS = {
    "login": env.str("RATE_LIMIT_LOGIN", default="30/m/ip"),
    "login_failed": env.str("RATE_LIMIT_LOGIN_FAILED", default="10/m/ip,5/5m/key"),
    "signup": env.str("RATE_LIMIT_SIGNUP", default="20/m/ip"),
    "confirm_email": "1/3m/key",
    "reset_password": "20/m/ip,5/m/key",
    "reset_password_from_key": "20/m/ip",
    "change_password": "5/m/user",
}
# Failed sign-ins slow down the address that fails, not the account (accounts/signin_throttle.py):
# this many failures per account and address, and per address, are free within the window; each
# further one doubles the address's wait before its next attempt, from 2 s up to the ceiling.
QUORUM_SIGNIN_FREE_FAILURES_PER_ACCOUNT_AND_ADDRESS = env.int("SIGNIN_FREE_FAILURES", default=5)
QUORUM_SIGNIN_FREE_FAILURES_PER_ADDRESS = env.int("SIGNIN_FREE_FAILURES_PER_ADDRESS", default=20)
QUORUM_SIGNIN_FAILURE_WINDOW_SECONDS = env.int("SIGNIN_FAILURE_WINDOW_SECONDS", default=60 * 60)
QUORUM_SIGNIN_MAX_WAIT_SECONDS = env.int("SIGNIN_MAX_WAIT_SECONDS", default=15 * 60)
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = env.str("MFA_TOTP_ISSUER", default="Quorum")
# Roles that may not use the portal or the API until they have set up a second factor.
QUORUM_MFA_REQUIRED_ROLES = ("manager", "finance", "admin")

# --- E-mail ---------------------------------------------------------------------------------
EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Quorum <noreply@quorum.local>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- API ------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # accounts' token authentication plus the customer's IP allowlist (labeling/access.py)
        "labeling.api.authentication.AllowlistedTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
        "accounts.permissions.MfaEnrolled",
    ],
    "DEFAULT_PAGINATION_CLASS": "core.api.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    # JSON bodies are read strictly (no NaN, bounded nesting and size), as the hot path reads them.
    "DEFAULT_PARSER_CLASSES": [
        "core.api.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_FILTER_BACKENDS": [
        "core.api.filters.FilterBackend",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_SCHEMA_CLASS": "core.api.schema.QuorumAutoSchema",
    "EXCEPTION_HANDLER": "core.api.exceptions.exception_handler",
    "DEFAULT_THROTTLE_RATES": {
        "token_create": env.str("RATE_LIMIT_TOKEN_CREATE", default="20/hour"),
        "work": env.str("RATE_LIMIT_WORK", default="600/minute"),
    },
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Quorum API",
    "DESCRIPTION": (
        "Quorum runs a data-labeling workforce. Authenticate with `Authorization: Token <key>` "
        "(create keys under API tokens in the portal). Errors are "
        '`{"code", "message", "extra"}`.'
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "ENUM_NAME_OVERRIDES": {
        "ProjectStatusEnum": "labeling.models.ProjectStatus",
        "TaskStatusEnum": "labeling.models.TaskStatus",
        "ImportStatusEnum": "labeling.models.ImportStatus",
        "ExportStatusEnum": "labeling.models.ExportStatus",
        "LeaseStateEnum": "labeling.models.LeaseState",
        "AnnotationStatusEnum": "labeling.models.AnnotationStatus",
        "WebhookDeliveryStatusEnum": "labeling.models.WebhookDeliveryStatus",
        "AnnotatorStatusEnum": "workforce.models.AnnotatorStatus",
    },
    # The API reference is public; every endpoint it describes still needs a token or session.
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
}

# --- Stripe ---------------------------------------------------------------------------------
# Every Stripe call goes through payments/stripe_client.py, which reads these (docs/payouts-stripe.md).
# The platform's secret API key (sk_live_... or sk_test_...); empty: Stripe is not used.
STRIPE_API_KEY: str = env.str("STRIPE_API_KEY", default="")
STRIPE_PUBLISHABLE_KEY: str = env.str("STRIPE_PUBLISHABLE_KEY", default="")
# The signing secret of the webhook endpoint (whsec_...); several, comma-separated, when Stripe
# has two endpoints for Quorum (platform and connected accounts) or while a secret is rolled.
# Empty: every delivery is refused.
STRIPE_WEBHOOK_SECRET: str = env.str("STRIPE_WEBHOOK_SECRET", default="")
# A delivery whose signed timestamp is older than this is refused as a replay.
STRIPE_WEBHOOK_TOLERANCE_SECONDS = env.int("STRIPE_WEBHOOK_TOLERANCE_SECONDS", default=300)
# Points the official SDK at another server (the bundled fake in tests and demos).
STRIPE_API_BASE: str = env.str("STRIPE_API_BASE", default="")
# The SDK retries connection errors, 409s and 5xx this many times, with the same idempotency key.
STRIPE_MAX_NETWORK_RETRIES = env.int("STRIPE_MAX_NETWORK_RETRIES", default=2)
STRIPE_CONNECT_TIMEOUT_SECONDS = env.float("STRIPE_CONNECT_TIMEOUT_SECONDS", default=5.0)
STRIPE_READ_TIMEOUT_SECONDS = env.float("STRIPE_READ_TIMEOUT_SECONDS", default=30.0)
# Processing a received event (payments/services/stripe_events.py) is tried this many times,
# with growing waits, before it is marked failed for finance to look at and retry.
STRIPE_EVENT_MAX_ATTEMPTS = env.int("STRIPE_EVENT_MAX_ATTEMPTS", default=8)

# --- Internationalisation, static -----------------------------------------------------------
LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "staticfiles")
MEDIA_ROOT = env.path("MEDIA_ROOT", default=BASE_DIR / "media")
MEDIA_URL = "media/"

# --- Security -------------------------------------------------------------------------------
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Database sessions whose deletion and password changes replace the generations that claim and
# submit cache sign-ins under (core/sessions.py).
SESSION_ENGINE = "core.sessions"
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 60 * 60 * 24 * 365)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# Content-Security-Policy (django-csp): scripts only from Quorum's own static files, never inline;
# styles also inline (a label's colour is a style attribute; htmx and Swagger UI add style
# elements), which cannot run code. Task images and media come from the customer's https hosts.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:", "https:"],
        "media-src": ["'self'", "https:"],
        "font-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
# /healthz is probed by load balancers over plain HTTP inside the private network.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
# How many proxies (load balancer, ingress) in front of Quorum append to X-Forwarded-For; the
# client's address is the one the outermost of them saw (core/net.py). 0: use REMOTE_ADDR only.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
}

# --- Quorum ---------------------------------------------------------------------------------
QUORUM_SIGNUP_OPEN = env.bool("SIGNUP_OPEN", default=True)

# On PostgreSQL the ordinary claim and submit run as one SQL statement each, composed in Python
# from the queue's conditions (labeling/services/claim.py, submit.py); false leaves every claim
# and submit to the transactional writer that SQLite uses (slower; for comparisons).
QUORUM_QUEUE_STATEMENTS = env.bool("QUORUM_QUEUE_STATEMENTS", default=True)
# ... and their API calls skip the general request stack when they carry a token (labeling/api/hotpath.py).
QUORUM_API_HOT_PATH = env.bool("QUORUM_API_HOT_PATH", default=True)
# Whether a claim's commit waits until PostgreSQL has flushed it to disk (its
# `synchronous_commit`, for the claim's own transaction only). Yes by default, like every write.
# False saves CPU per claim (docs/labeling.md) at a cost: a crash of PostgreSQL may lose the last
# fraction of a second of claims and hand their lease ids out again, so a page still holding a
# lost lease could submit into a new lease of the same person.
QUORUM_CLAIM_SYNCHRONOUS_COMMIT = env.bool("QUORUM_CLAIM_SYNCHRONOUS_COMMIT", default=True)
# Re-aggregation after the consensus estimates refresh (labeling/services/reaggregation.py):
# tasks in review and tasks final for less than this many hours are re-aggregated at once (older
# final ones on request, or when the project says so), this many tasks per transaction.
QUORUM_REAGGREGATE_RECENT_HOURS = env.int("QUORUM_REAGGREGATE_RECENT_HOURS", default=72)
QUORUM_REAGGREGATE_BATCH_SIZE = env.int("QUORUM_REAGGREGATE_BATCH_SIZE", default=500)

# --- quality: hourly rollups of people's work (quality/performance/rollups.py, docs/measures.md) ---
# The beat job rolls up to now minus this lag (work still committing), always redoes this many
# recent hours (leases ending, tasks becoming final), and recomputes at most this many hours per
# transaction.
QUORUM_ROLLUP_LAG_MINUTES = env.int("QUORUM_ROLLUP_LAG_MINUTES", default=2)
QUORUM_ROLLUP_RECENT_HOURS = env.int("QUORUM_ROLLUP_RECENT_HOURS", default=3)
QUORUM_ROLLUP_CHUNK_HOURS = env.int("QUORUM_ROLLUP_CHUNK_HOURS", default=24)

# --- workforce: the onboarding journey (workforce/services/onboarding.py) ---
# True: a person who completes every onboarding step waits in a manager's approval queue;
# false: they start work on probation at once.
QUORUM_ONBOARDING_APPROVAL = env.bool("ONBOARDING_APPROVAL", default=False)

# --- workforce: training modules and qualification tests (workforce/services/checks.py) ---
# Whether time spent on training modules and qualification tests is paid (read by payments'
# rate lookup, payments/selectors/rates.py: while false, no training or test rate applies).
QUORUM_TRAINING_TIME_PAID = env.bool("TRAINING_TIME_PAID", default=False)

# --- workforce: teams and notifications (workforce/services/teams.py, notifications.py) ---
# Teams: how many of their team's current announcements a member sees on their work home page.
QUORUM_TEAM_ANNOUNCEMENTS_SHOWN = env.int("TEAM_ANNOUNCEMENTS_SHOWN", default=5)
# Messages: how many messages one manager may send people a minute (workforce/services/messages.py).
QUORUM_MANAGER_MESSAGES_PER_MINUTE = env.int("MANAGER_MESSAGES_PER_MINUTE", default=20)
# The team role's choices get a schema name of their own (accounts' role choices are "RoleEnum").
SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"].update(  # type: ignore[attr-defined]  # a dict of mixed values
    {"TeamRoleEnum": "workforce.models.TeamRole", "RoleEnum": "accounts.models.Role"}
)

# --- quality: probation and tiers from evidence (quality/services/standing.py) ---
# Probation ends (active) once a person has this many scored items (gold scores and review
# verdicts of their work) and the lower bound of the 95% Wilson interval of their accuracy is
# above the pass threshold; an upper bound below the floor sends them back to training. The newest
# PROBATION_WINDOW_ITEMS items since their last standing decision count.
QUORUM_PROBATION_MIN_ITEMS = env.int("PROBATION_MIN_ITEMS", default=30)
QUORUM_PROBATION_PASS_LOWER = env.float("PROBATION_PASS_LOWER", default=0.85)
QUORUM_PROBATION_FLOOR_UPPER = env.float("PROBATION_FLOOR_UPPER", default=0.6)
QUORUM_PROBATION_WINDOW_ITEMS = env.int("PROBATION_WINDOW_ITEMS", default=200)
# Tiers: annotator, reviewer level 1..TIER_MAX_REVIEW_LEVEL (promotions computed up to it), lead
# (granted by managers). The weekly computation looks at the last TIER_WINDOW_DAYS days; a
# promotion needs the accuracy's lower bound >= PROMOTE_LOWER, at least MIN_VOLUME annotations and,
# for reviewers, the lower bound of how often a higher level upheld them >= UPHELD_LOWER; a
# demotion needs the accuracy's upper bound < DEMOTE_UPPER (or, for reviewers, the upheld share's
# upper bound < UPHELD_DEMOTE_UPPER). Either must hold on two consecutive weekly computations.
QUORUM_TIER_MAX_REVIEW_LEVEL = env.int("TIER_MAX_REVIEW_LEVEL", default=2)
QUORUM_TIER_WINDOW_DAYS = env.int("TIER_WINDOW_DAYS", default=28)
QUORUM_TIER_PROMOTE_LOWER = env.float("TIER_PROMOTE_LOWER", default=0.9)
QUORUM_TIER_DEMOTE_UPPER = env.float("TIER_DEMOTE_UPPER", default=0.75)
QUORUM_TIER_MIN_VOLUME = env.int("TIER_MIN_VOLUME", default=100)
QUORUM_TIER_UPHELD_LOWER = env.float("TIER_UPHELD_LOWER", default=0.85)
QUORUM_TIER_UPHELD_DEMOTE_UPPER = env.float("TIER_UPHELD_DEMOTE_UPPER", default=0.7)

# --- payments: the ledger (payments/services/ledger.py) ---
# The currency of platform accounts and of people who have not chosen one (ISO 4217 code listed
# in kit/money.py). The reconciliation job runs daily (config/celery.py) and needs no setting.
QUORUM_LEDGER_DEFAULT_CURRENCY = env.str("QUORUM_LEDGER_DEFAULT_CURRENCY", default="USD")
# How long an erased person's earnings records keep their details (payments/earnings_personal_data.py):
# the ledger rows stay (pseudonymous) for the accounts; bonus figures older than this are cleared.
QUORUM_EARNINGS_RETENTION_YEARS = env.int("QUORUM_EARNINGS_RETENTION_YEARS", default=7)
# The daily rollup of earnings (payments/services/earning_days.py): a run of its beat job adds the
# ledger up to the id the previous run noted once that is this old (postings still committing).
QUORUM_EARNING_DAYS_SETTLE_MINUTES = env.int("QUORUM_EARNING_DAYS_SETTLE_MINUTES", default=10)
# Rate cards (payments/services/rates.py): their choices get schema names of their own.
SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"].update(  # type: ignore[attr-defined]  # a dict of mixed values
    {
        "RateWorkKindEnum": "payments.models.WorkKind",
        "RateUnitEnum": "payments.models.RateUnit",
        "RateVersionStatusEnum": "payments.selectors.rates.VersionStatus",
    }
)

# --- payments: payout accounts (payments/services/payout_accounts.py, docs/payouts-accounts.md) ---
# Fernet keys (comma-separated, each 32 url-safe base64 bytes) that encrypt bank details at rest:
# the first encrypts, all decrypt, so a new key is put first and `manage.py payout_details_rotate_key`
# re-encrypts with it. Required when DEBUG is off; in development a key derived from SECRET_KEY.
PAYOUT_DETAILS_KEYS: list[str] = env.list("PAYOUT_DETAILS_KEY", default=[])
if not PAYOUT_DETAILS_KEYS and DEBUG:
    PAYOUT_DETAILS_KEYS = [
        base64.urlsafe_b64encode(
            hashlib.sha256(f"quorum-payout-details-dev:{SECRET_KEY}".encode()).digest()
        ).decode()
    ]
# New bank details are used only after the person confirms them by e-mail (the link expires after
# this many hours) and then after a cooling-off period (hours) in which no payout uses them.
QUORUM_PAYOUT_CONFIRM_LINK_HOURS = env.int("PAYOUT_CONFIRM_LINK_HOURS", default=24)
QUORUM_PAYOUT_COOLING_OFF_HOURS = env.int("PAYOUT_COOLING_OFF_HOURS", default=72)
# The payout providers offered in a country finance has not configured (bank_file, stripe_connect).
QUORUM_PAYOUT_DEFAULT_PROVIDERS: list[str] = env.list(
    "PAYOUT_DEFAULT_PROVIDERS", default=["bank_file"]
)
# Payout records (masked payout accounts, their history, payout items) are kept this long after
# a person's personal data is erased: the financial retention period (docs/payouts-accounts.md).
QUORUM_PAYOUT_RECORDS_RETENTION_YEARS = env.int("PAYOUT_RECORDS_RETENTION_YEARS", default=7)
# The platform's bank account that bank-file payouts leave from: the debtor of SEPA files
# (payments/bank_files.py, docs/payouts-bank-files.md).
# With DEBUG on (the demo), a published example account, so `make run` writes SEPA files; never
# in production, where a SEPA file cannot be written until the three are set.
QUORUM_BANK_FILE_DEBTOR_NAME: str = env.str(
    "BANK_FILE_DEBTOR_NAME", default="Quorum Demo Payouts" if DEBUG else ""
)
QUORUM_BANK_FILE_DEBTOR_IBAN: str = env.str(
    "BANK_FILE_DEBTOR_IBAN", default="DE02120300000000202051" if DEBUG else ""
)
QUORUM_BANK_FILE_DEBTOR_BIC: str = env.str(
    "BANK_FILE_DEBTOR_BIC", default="BYLADEM1001" if DEBUG else ""
)
SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"].update(  # type: ignore[attr-defined]  # a dict of mixed values
    {
        "PayoutAccountStatusEnum": "payments.models.PayoutAccountStatus",
        "PayoutProviderEnum": "payments.models.PayoutProvider",
    }
)
# --- payments: payout runs (payments/services/payout_runs.py, docs/payouts-runs.md) ---
# The minimum payout per currency in minor units ("USD=2000,JPY=1000"); a currency not listed
# uses PAYOUT_MINIMUM_MAJOR_DEFAULT whole units of it.
QUORUM_PAYOUT_MINIMUM_MINOR: dict[str, int] = env.dict(
    "PAYOUT_MINIMUM_MINOR", cast={"value": int}, default={}
)
QUORUM_PAYOUT_MINIMUM_MAJOR_DEFAULT = env.int("PAYOUT_MINIMUM_MAJOR_DEFAULT", default=10)
SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"].update(  # type: ignore[attr-defined]  # a dict of mixed values
    {
        "PayoutRunStatusEnum": "payments.models.PayoutRunStatus",
        "PayoutItemStatusEnum": "payments.models.PayoutItemStatus",
    }
)

# --- quality: default rules from the consensus model's scores (quality/defaults.py) ---
# True: every new project starts with the default rules (spammer score, gold accuracy upper
# bound), on and editable; false: new projects start with none.
QUORUM_DEFAULT_QUALITY_RULES = env.bool("QUORUM_DEFAULT_QUALITY_RULES", default=True)

# Imports: the largest file read, how long a URL may take, and which private hosts may be fetched.
IMPORT_MAX_BYTES = env.int("IMPORT_MAX_BYTES", default=2 * 1024**3)
IMPORT_URL_TIMEOUT = env.float("IMPORT_URL_TIMEOUT", default=30.0)
IMPORT_URL_ALLOWLIST: list[str] = env.list("IMPORT_URL_ALLOWLIST", default=[])
AWS_S3_ENDPOINT_URL: str = env.str("AWS_S3_ENDPOINT_URL", default="")
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024**2
FILE_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024**2

# Exports up to this many rows stream straight to the client; larger ones become background jobs.
EXPORT_DIRECT_MAX_ROWS = env.int("EXPORT_DIRECT_MAX_ROWS", default=10_000)
# Import and export jobs ANALYZE their tables when at least this many rows (and a tenth of the
# table) changed since the last analysis (core/table_statistics.py, tables_analyze_stale).
ANALYZE_AFTER_ROWS = env.int("ANALYZE_AFTER_ROWS", default=10_000)

# Webhooks: timeouts, how often to retry, and hosts allowed over plain http (tests, local tools).
WEBHOOK_TIMEOUT_SECONDS = env.float("WEBHOOK_TIMEOUT_SECONDS", default=10.0)
WEBHOOK_MAX_ATTEMPTS = env.int("WEBHOOK_MAX_ATTEMPTS", default=8)
WEBHOOK_ALLOW_HTTP_HOSTS: list[str] = env.list("WEBHOOK_ALLOW_HTTP_HOSTS", default=[])
