"""Settings, read from the environment with safe defaults for a newcomer.

Development (the default) runs on a bare machine: SQLite and a filesystem Celery broker under
var/, keys generated on first use under var/keys. `OUTREACH_PROFILE=production` refuses to start
without a real SECRET_KEY, database, broker and the pseudonymisation and field-encryption keys,
and turns on the security settings that `manage.py check --deploy` looks for.
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("OUTREACH_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)

PROFILE = os.environ.get("OUTREACH_PROFILE", "development")
PRODUCTION = PROFILE == "production"


def _env(name: str, default: str | None = None) -> str | None:
    """Read NAME, or the file named by NAME_FILE (for secrets mounted as files)."""
    file_name = os.environ.get(f"{name}_FILE")
    if file_name:
        return Path(file_name).read_text().strip()
    return os.environ.get(name, default)


def _required_in_production(name: str, dev_default: str) -> str:
    value = _env(name)
    if value:
        return value
    if PRODUCTION:
        raise ImproperlyConfigured(f"{name} must be set when OUTREACH_PROFILE=production")
    return dev_default


def _csv(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in (_env(name, default) or "").split(",") if item.strip()]


SECRET_KEY = _required_in_production(
    "SECRET_KEY", "dev-only-insecure-secret-key-change-me-" + "x" * 20)
DEBUG = not PRODUCTION and os.environ.get("DEBUG", "1") == "1"
ALLOWED_HOSTS = _csv(
    "ALLOWED_HOSTS", "" if PRODUCTION else "localhost,127.0.0.1,[::1],testserver")
CSRF_TRUSTED_ORIGINS = _csv("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "outreach.apps.OutreachAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "axes",
    "outreach",
    "organisations",
    "directory",
    "segments",
    "campaigns",
    "delivery",
    "interventions",
    "evaluation",
    "channels",
    "helpline",
    "learning",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "outreach.middleware.RequestSizeLimitMiddleware",
    "outreach.middleware.EdgeTextMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "outreach.middleware.AdminLocaleMiddleware",
    "outreach.middleware.ApiCommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    # outreach.browser_middleware: Django's own middleware, stepping aside on the API-key-only
    # endpoints (no session can authenticate there); every other path gets it in full.
    "outreach.browser_middleware.AuthenticationMiddleware",
    "outreach.browser_middleware.OTPMiddleware",
    "outreach.browser_middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "outreach.urls"
WSGI_APPLICATION = "outreach.wsgi.application"
ASGI_APPLICATION = "outreach.asgi.application"

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
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
DATABASE_URL = _required_in_production("DATABASE_URL", f"sqlite:///{VAR_DIR / 'outreach.sqlite3'}")
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Workers and the web server share the file: wait for locks instead of failing at once.
    DATABASES["default"]["OPTIONS"] = {"timeout": 20, "transaction_mode": "IMMEDIATE"}
    DATABASES["default"]["CONN_MAX_AGE"] = 0
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache (throttling, rate limits, health) -----------------------------------------------
REDIS_URL = _env("REDIS_URL")
CACHE_URL = _env("CACHE_URL", REDIS_URL)
if CACHE_URL:
    CACHES = {"default": {"BACKEND": "core.cache.RedisCache",
                          "LOCATION": CACHE_URL, "TIMEOUT": 300}}
elif PRODUCTION:
    raise ImproperlyConfigured(
        "CACHE_URL or REDIS_URL must be set when OUTREACH_PROFILE=production")
else:
    # A file cache is shared by the web server and workers on one machine, unlike locmem.
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
                          "LOCATION": str(VAR_DIR / "cache")}}

# --- Celery ----------------------------------------------------------------------------------
_BROKER_DIR = VAR_DIR / "broker"
CELERY_BROKER_URL = _required_in_production("CELERY_BROKER_URL", "filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    for sub in ("in", "processed", "control"):
        (_BROKER_DIR / sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_BROKER_DIR / "in"),
        "data_folder_out": str(_BROKER_DIR / "in"),
        "processed_folder": str(_BROKER_DIR / "processed"),
        "control_folder": str(_BROKER_DIR / "control"),
        "store_processed": False,
    }
else:
    # The visibility timeout must exceed every task's hard time limit (see CELERY_TASK_TIME_LIMIT)
    # or Redis hands a running task to a second worker.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = 240
CELERY_TASK_TIME_LIMIT = 300
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_ALWAYS_EAGER = os.environ.get("CELERY_TASK_ALWAYS_EAGER") == "1"
CELERY_BEAT_SCHEDULE: dict = {}  # filled in by outreach.celery from each app's BEAT_SCHEDULE

# --- Keys (pseudonyms, field encryption) -----------------------------------------------------
# Each is a directory of key files or an env var; see outreach/keys.py.
KEY_DIR = Path(_env("OUTREACH_KEY_DIR", str(VAR_DIR / "keys")) or VAR_DIR / "keys")
PSEUDONYM_KEYS = _env("OUTREACH_PSEUDONYM_KEYS")
FIELD_ENCRYPTION_KEYS = _env("OUTREACH_FIELD_ENCRYPTION_KEYS")
BLIND_INDEX_KEYS = _env("OUTREACH_BLIND_INDEX_KEYS")
# Generating missing keys is convenient for a newcomer and wrong in production, where every
# machine must share the same keys from a secret store.
KEYS_AUTO_CREATE = not PRODUCTION
PSEUDONYM_KEY_PERIOD = "month"

# --- Auth ------------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
     "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = int(_env("AXES_FAILURE_LIMIT", "5") or 5)
AXES_COOLOFF_TIME = 1  # hours
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
# Two-factor admin login: required in production, optional for the local demo.
ADMIN_REQUIRE_OTP = PRODUCTION or os.environ.get("ADMIN_REQUIRE_OTP") == "1"
OTP_TOTP_ISSUER = "Outreach"
LOGIN_URL = "admin:login"

# --- API -------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "organisations.api.authentication.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["organisations.api.permissions.HasOrganisationScope"],
    "DEFAULT_THROTTLE_CLASSES": ["organisations.api.throttling.OrganisationRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"organisation": _env("API_RATE_PER_ORGANISATION", "6000/min")},
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "core.edge.BoundedLimitOffsetPagination",
    # Every body is checked once here: nesting depth, NUL, lone surrogates (core.edge).
    "DEFAULT_PARSER_CLASSES": ["core.edge.CheckedJSONParser", "core.edge.CheckedFormParser",
                               "core.edge.CheckedMultiPartParser"],
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "outreach.openapi.OutreachAutoSchema",
    "EXCEPTION_HANDLER": "core.api_errors.exception_handler",
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Outreach API",
    "DESCRIPTION": (
        "Partner API for offender-outreach campaigns: help resources, live interventions, "
        "outcomes, recipients and evaluation reports. Authenticate with "
        "`Authorization: Bearer <key>`."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # The schema and docs are public documentation; every endpoint they describe is not.
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    # Several apps have a field called "kind" or "channel" with different choices.
    "ENUM_NAME_OVERRIDES": {
        "ContactChannelEnum": "segments.models.ContactChannel.choices",
        "HelpResourceKindEnum": "directory.models.ResourceKind",
        "ArmKindEnum": "campaigns.models.ArmKind",
        "ScheduleKindEnum": "campaigns.models.ScheduleKind",
        "ChannelEnum": "core.vocabulary.Channel",
        "OutcomeKindEnum": "core.vocabulary.OutcomeKind",
        "ReportedOutcomeKindEnum": "interventions.outcomes.REPORTABLE_KINDS",
    },
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
}
# Largest request body accepted anywhere (bulk uploads have their own limit below it).
MAX_REQUEST_BYTES = int(_env("MAX_REQUEST_BYTES", str(20 * 1024 * 1024)) or 0)
DATA_UPLOAD_MAX_MEMORY_SIZE = MAX_REQUEST_BYTES

# /healthz fails (503) when no worker completed a heartbeat recently; on where workers run.
HEALTH_REQUIRE_WORKERS = (_env("HEALTH_REQUIRE_WORKERS", "1" if PRODUCTION else "0") == "1")

# --- Delivery engine (see delivery/README.md) ------------------------------------------------
def _number(name: str, default: float) -> float:
    return float(_env(name, str(default)) or default)


# Beat: how often `delivery.tick` fans out due steps, sweeps leases and starts send lanes.
DELIVERY_TICK_SECONDS = _number("DELIVERY_TICK_SECONDS", 2.0)
# A claimed row belongs to its worker for this long unless the live batch renews it (it
# does, halfway through its sending time); after a kill the sweeper re-queues it then.
DELIVERY_LEASE_SECONDS = _number("DELIVERY_LEASE_SECONDS", 20.0)
# Stop sending from a batch this long before its lease ends (and hand the rest back).
DELIVERY_LEASE_MARGIN_SECONDS = _number("DELIVERY_LEASE_MARGIN_SECONDS", 10.0)
# Rows claimed at once: each batch pays a few queries, a render and a connection.
DELIVERY_BATCH_SIZE = int(_number("DELIVERY_BATCH_SIZE", 500))
# Outcomes are recorded (sent + exposure, one transaction) after at most this many sends.
DELIVERY_FLUSH_SIZE = int(_number("DELIVERY_FLUSH_SIZE", 25))
# Parallel send loops across all workers; each is one task that loops for LANE_SECONDS.
DELIVERY_SEND_LANES = int(_number("DELIVERY_SEND_LANES", 2))
DELIVERY_LANE_SECONDS = _number("DELIVERY_LANE_SECONDS", 5.0)
DELIVERY_MAX_ATTEMPTS = int(_number("DELIVERY_MAX_ATTEMPTS", 8))
DELIVERY_RETRY_BASE_SECONDS = _number("DELIVERY_RETRY_BASE_SECONDS", 30.0)
DELIVERY_RETRY_MAX_SECONDS = _number("DELIVERY_RETRY_MAX_SECONDS", 3600.0)
# Auto-pause: pause a campaign once this share of its finished sends failed ...
DELIVERY_AUTO_PAUSE_ERROR_RATE = _number("DELIVERY_AUTO_PAUSE_ERROR_RATE", 0.25)
# ... but only after this many finished sends (a few early failures are not a trend).
DELIVERY_AUTO_PAUSE_MIN_SAMPLE = int(_number("DELIVERY_AUTO_PAUSE_MIN_SAMPLE", 100))
# A rate-limit wait longer than this is not slept: the rows go back with a later due time.
DELIVERY_MAX_RATE_WAIT_SECONDS = _number("DELIVERY_MAX_RATE_WAIT_SECONDS", 2.0)
# Health: a heartbeat task older than this means tasks are not completing.
DELIVERY_HEARTBEAT_STALE_SECONDS = _number("DELIVERY_HEARTBEAT_STALE_SECONDS", 120.0)
DELIVERY_HTTP_TIMEOUT_SECONDS = _number("DELIVERY_HTTP_TIMEOUT_SECONDS", 10.0)
# SMS and webhook requests of a chunk in flight at once, per send lane (keep-alive each).
DELIVERY_HTTP_CONCURRENCY = int(_number("DELIVERY_HTTP_CONCURRENCY", 8))
# The Redis of the shared token buckets (default: REDIS_URL); none: a bucket per process.
DELIVERY_REDIS_URL = _env("DELIVERY_REDIS_URL", REDIS_URL) or ""

# --- Live interventions ----------------------------------------------------------------------
# Requests per partner across all web processes ("600/s", "20000/min").
INTERVENTIONS_RATE_PER_PARTNER = _env("INTERVENTIONS_RATE_PER_PARTNER", "12000/min")
# How stale a web process's view of campaigns, the directory and API keys may be (seconds).
INTERVENTIONS_SNAPSHOT_SECONDS = float(_env("INTERVENTIONS_SNAPSHOT_SECONDS", "5") or 5)

# --- Directory -------------------------------------------------------------------------------
HELP_RESOURCE_STALE_AFTER_DAYS = int(_env("HELP_RESOURCE_STALE_AFTER_DAYS", "365") or 365)
SHARED_DATA_DIR = Path(_env("OUTREACH_SHARED_DATA_DIR", str(BASE_DIR.parent / "shared" / "data"))
                       or "")
PUBLIC_BASE_URL = _env("PUBLIC_BASE_URL", "http://127.0.0.1:8000")

# --- Helpline (real-time chat) ---------------------------------------------------------------
# channels-redis wherever Redis is configured (production, CI), in memory otherwise (make demo:
# one ASGI process). Only ids and sequence numbers travel through it, and they are encrypted
# with the symmetric keys below (newest first; older ones still decrypt during a rotation).
CHANNEL_LAYER_URL = _env("CHANNEL_LAYER_URL", REDIS_URL)
CHANNEL_LAYER_KEYS = _csv("CHANNEL_LAYER_KEYS") or [SECRET_KEY]
if CHANNEL_LAYER_URL:
    # Redis pub/sub, not channels_redis.core: the core layer receives through one loop per
    # server process that makes four Redis round trips per message (EVAL, BZPOPMIN, ZADD,
    # ZPOPMIN), one message at a time, so every notification of the process queued behind it:
    # bench/helpline_chat.py traced commit -> consumer at 2.5 s p50 while the database calls
    # took 4-16 ms. Pub/sub pushes notifications down one subscribed connection. It delivers
    # at most once and only to sockets connected now, which is all the helpline needs: a
    # notification only says "read from PostgreSQL after sequence n", and pages poll and send
    # their last sequence number on reconnect.
    # redis-py 8 reads with a 5 s socket timeout; the receiver polls every 0.1 s, and
    # the timeout is kept long so a quiet connection is not dropped.
    CHANNEL_LAYERS = {"default": {
        "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
        "CONFIG": {"hosts": [{"address": CHANNEL_LAYER_URL, "socket_timeout": 30}],
                   "prefix": _env("CHANNEL_LAYER_PREFIX", "asgi"),
                   "symmetric_encryption_keys": CHANNEL_LAYER_KEYS}}}
elif PRODUCTION:
    raise ImproperlyConfigured("CHANNEL_LAYER_URL or REDIS_URL must be set in production")
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
HELPLINE_STARTS_PER_SOURCE_PER_HOUR = int(_env("HELPLINE_STARTS_PER_SOURCE_PER_HOUR", "6") or 6)
HELPLINE_RESUMES_PER_SOURCE_PER_HOUR = int(_env("HELPLINE_RESUMES_PER_SOURCE_PER_HOUR", "10")
                                           or 10)
HELPLINE_MESSAGES_PER_WINDOW = int(_env("HELPLINE_MESSAGES_PER_WINDOW", "20") or 20)
HELPLINE_MESSAGE_WINDOW_SECONDS = int(_env("HELPLINE_MESSAGE_WINDOW_SECONDS", "10") or 10)

# --- Email -----------------------------------------------------------------------------------
EMAIL_HOST = _env("EMAIL_HOST", "127.0.0.1")
EMAIL_PORT = int(_env("EMAIL_PORT", "1025") or 1025)
EMAIL_TIMEOUT = 10
DEFAULT_FROM_EMAIL = _env("DEFAULT_FROM_EMAIL", "Outreach <outreach@localhost>")

# --- I18n, static ----------------------------------------------------------------------------
LANGUAGE_CODE = "en-gb"
# The admin's languages (its switcher; outreach.middleware.AdminLocaleMiddleware). Our strings
# are marked with gettext; translations live in locale/ (compiled .mo files are committed).
LANGUAGES = [("en-gb", _("English")), ("de", _("German"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# --- Logging: identifiers never reach a log line (see outreach/logging.py) -------------------
# Every handler redacts (core.logging): messages, tracebacks and Django's error report carry no
# contact details, identifiers, tokens, query strings or bodies. Django's own "django" and
# "django.server" handlers are replaced here so none of them bypasses the filter; the admin
# e-mail (only sent when ADMINS is set) uses the strict reporter below.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact": {"()": "core.logging.RedactIdentifiersFilter"},
                "require_debug_false": {"()": "django.utils.log.RequireDebugFalse"}},
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain",
                    "filters": ["redact"]},
        "mail_admins": {"class": "django.utils.log.AdminEmailHandler", "level": "ERROR",
                        "filters": ["require_debug_false", "redact"],
                        "reporter_class": "core.logging.StrictExceptionReporter"},
    },
    "root": {"handlers": ["console"], "level": _env("LOG_LEVEL", "INFO")},
    "loggers": {
        "django": {"handlers": ["mail_admins"], "level": "INFO", "propagate": True},
        "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "django.db.backends": {"level": "WARNING"},
    },
}
DEFAULT_EXCEPTION_REPORTER = "core.logging.StrictExceptionReporter"
DEFAULT_EXCEPTION_REPORTER_FILTER = "core.logging.StrictExceptionReporterFilter"

if PRODUCTION:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = os.environ.get("SECURE_SSL_REDIRECT", "1") == "1"
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = 31536000
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_CONTENT_TYPE_NOSNIFF = True
    SECURE_REFERRER_POLICY = "no-referrer"
    X_FRAME_OPTIONS = "DENY"
    STORAGES["staticfiles"]["BACKEND"] = (
        "whitenoise.storage.CompressedManifestStaticFilesStorage")
    if not PSEUDONYM_KEYS and not (KEY_DIR / "pseudonym").is_dir():
        raise ImproperlyConfigured(
            "production needs pseudonymisation keys: OUTREACH_PSEUDONYM_KEYS or "
            "OUTREACH_KEY_DIR/pseudonym/")
    # Arm assignment hashes with a fixed key of the pseudonym ring (campaigns.assignment): without
    # it every live intervention failed. It is not a period key, so retention never destroys it,
    # and it must not change while a campaign runs (people would move between arms).
    if not (any(item.strip().startswith("assignment:") for item in PSEUDONYM_KEYS.split(","))
            if PSEUDONYM_KEYS else (KEY_DIR / "pseudonym" / "assignment.key").is_file()):
        raise ImproperlyConfigured(
            "production needs the arm-assignment key: an 'assignment:<base64 32 bytes>' entry "
            "in OUTREACH_PSEUDONYM_KEYS (or OUTREACH_KEY_DIR/pseudonym/assignment.key)")
    # Blind indexes and outcome idempotency hashes use one long-lived key, id k0001
    # (core.crypto.BLIND_INDEX_KEY_ID): another id made every outcome upload a 500.
    if BLIND_INDEX_KEYS and not any(item.strip().startswith("k0001:")
                                    for item in BLIND_INDEX_KEYS.split(",")):
        raise ImproperlyConfigured(
            "OUTREACH_BLIND_INDEX_KEYS needs the key id k0001: 'k0001:<base64 32 bytes>'")
    if not FIELD_ENCRYPTION_KEYS and not (KEY_DIR / "field").is_dir():
        raise ImproperlyConfigured(
            "production needs field-encryption keys: OUTREACH_FIELD_ENCRYPTION_KEYS or "
            "OUTREACH_KEY_DIR/field/")
