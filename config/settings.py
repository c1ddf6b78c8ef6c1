"""Parapet settings, read from the environment (see the table in README.md)."""

import re
import warnings
from datetime import timedelta
from email.utils import parseaddr
from pathlib import Path
from urllib.parse import urlsplit

from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured
from kombu import Exchange, Queue

from accounts.oidc_config import read_oidc_config
from config.env import database_from_url, env_bool, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent

PARAPET_ENV = env_str("PARAPET_ENV", "development")
if PARAPET_ENV not in {"development", "production"}:
    raise ImproperlyConfigured(
        f"PARAPET_ENV must be 'development' or 'production', got {PARAPET_ENV!r}"
    )
DEBUG = env_bool("PARAPET_DEBUG", False)
SECRET_KEY = env_str("DJANGO_SECRET_KEY")
if not SECRET_KEY:
    if PARAPET_ENV == "production":
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY must be set (a long random string) when "
            "PARAPET_ENV=production"
        )
    SECRET_KEY = "insecure-development-key-for-demo-and-tests-only"  # noqa: S105

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "csp",
    "django_celery_beat",
    "axes",
    "mozilla_django_oidc",
    "accounts",
    "collectors",
    "findings",
    "demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "config.csp.ParapetCSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "accounts.signin.SessionLimitsMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    # Last, as django-axes asks: it turns a lockout into the login page's answer.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

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

_database_url = env_str("DATABASE_URL")
if not _database_url:
    raise ImproperlyConfigured(
        "DATABASE_URL is not set; run through manage.py (which starts the embedded "
        "PostgreSQL) or set DATABASE_URL=postgres://user:pass@host:5432/parapet"
    )
DATABASES = {"default": database_from_url("DATABASE_URL", _database_url)}
# PostgreSQL compiles plans whose estimated cost is high (jit_above_cost),
# which the dashboard's aggregates over rollups and the scans export reach:
# it spent 2.5 s of scans.csv's 2.55 s compiling, and about 250 ms on each
# large rollup aggregate, for queries that then run in milliseconds.
_db_options = DATABASES["default"]["OPTIONS"]
_db_options["options"] = f"{_db_options.get('options', '')} -c jit=off".strip()
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

_VALIDATORS = "django.contrib.auth.password_validation"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": f"{_VALIDATORS}.UserAttributeSimilarityValidator"},
    {
        "NAME": f"{_VALIDATORS}.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": f"{_VALIDATORS}.CommonPasswordValidator"},
    {"NAME": f"{_VALIDATORS}.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "findings:overview"
LOGOUT_REDIRECT_URL = "login"
# A session ends PARAPET_SESSION_SECONDS after sign-in, or after
# PARAPET_SESSION_IDLE_SECONDS without a request, whichever comes first
# (accounts.signin.SessionLimitsMiddleware).
PARAPET_SESSION_SECONDS = env_int("PARAPET_SESSION_SECONDS", 8 * 3600, minimum=300)
SESSION_COOKIE_AGE = min(
    PARAPET_SESSION_SECONDS,
    env_int("PARAPET_SESSION_IDLE_SECONDS", 3600, minimum=300),
)
# Login throttling (django-axes): this many failures for one username from one
# address lock that pair out for the cool-off; `manage.py axes_reset` unlocks.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env_int("PARAPET_LOGIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(
    minutes=env_int("PARAPET_LOGIN_COOLOFF_MINUTES", 15, minimum=1)
)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False  # no start-up banner on every command
# Masked in axes' log lines and in the form data it stores with each attempt.
AXES_SENSITIVE_PARAMETERS = ["username", "ip_address", "csrfmiddlewaretoken"]
AXES_LOCKOUT_CALLABLE = "accounts.signin.lockout_response"
AXES_CLIENT_IP_CALLABLE = "accounts.audit.client_ip"
# Proxies in front of Parapet that append the client's address to
# X-Forwarded-For. 0: the header is ignored (anyone can forge it) and the
# connection's address counts.
PARAPET_TRUSTED_PROXY_COUNT = env_int("PARAPET_TRUSTED_PROXY_COUNT", 0, minimum=0)
# Single sign-on (OpenID Connect), on when its variables are set
# (accounts/oidc_config.py). Local accounts keep working beside it.
_oidc = read_oidc_config(production=PARAPET_ENV == "production")
PARAPET_OIDC_ENABLED = _oidc is not None
if _oidc:
    AUTHENTICATION_BACKENDS.append("accounts.oidc.TeamMappingOIDCBackend")
    PARAPET_OIDC_ISSUER = _oidc.issuer
    PARAPET_OIDC_NAME = _oidc.display_name
    PARAPET_OIDC_GROUPS_CLAIM = _oidc.groups_claim
    PARAPET_OIDC_TEAM_MAP = _oidc.team_map
    OIDC_RP_CLIENT_ID = _oidc.client_id
    OIDC_RP_CLIENT_SECRET = _oidc.client_secret
    OIDC_RP_SIGN_ALGO = _oidc.sign_algo
    OIDC_RP_SCOPES = _oidc.scopes
    OIDC_OP_AUTHORIZATION_ENDPOINT = _oidc.endpoints["authorization"]
    OIDC_OP_TOKEN_ENDPOINT = _oidc.endpoints["token"]
    OIDC_OP_USER_ENDPOINT = _oidc.endpoints["userinfo"]
    OIDC_OP_JWKS_ENDPOINT = _oidc.endpoints.get("jwks")
    OIDC_USE_PKCE = True
    OIDC_TIMEOUT = 10
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
_https = env_bool("PARAPET_HTTPS", False)
SESSION_COOKIE_SECURE = _https
CSRF_COOKIE_SECURE = _https
SECURE_SSL_REDIRECT = _https
SECURE_HSTS_SECONDS = 31536000 if _https else 0
# Names under Parapet's own host are Parapet's too; preloading is a decision for
# whoever owns the registrable domain, not for one app on a subdomain of it.
SECURE_HSTS_INCLUDE_SUBDOMAINS = _https
SILENCED_SYSTEM_CHECKS = ["security.W021"]
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if _https else None
# Every script and stylesheet is served by the app (htmx is vendored by
# django-htmx) and templates carry no inline script, style or handler, so no
# 'unsafe-inline' or 'unsafe-eval' anywhere. A view that needs another policy
# sets its own header (the digest preview), which the middleware leaves alone.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "object-src": [NONE],
        "base-uri": [NONE],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
    },
}

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = True
# Before `collectstatic` has run (development, tests, the demo) STATIC_ROOT does
# not exist and static files come from the finders; whitenoise need not warn.
warnings.filterwarnings("ignore", message="No directory at")

# Celery: a Redis broker when REDIS_URL is set; otherwise every task runs
# in-process (eagerly), which is how `make demo` works on a laptop.
REDIS_URL = env_str("REDIS_URL")
CELERY_BROKER_URL = REDIS_URL or "memory://localhost/"
CELERY_RESULT_BACKEND = REDIS_URL or "cache+memory://"
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Celery's consumer, plus settling what it held when a Redis connection
# dropped: without it those messages wait an hour (config/redelivery.py).
CELERY_WORKER_CONSUMER = "config.redelivery:Consumer"
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_EXPIRES = 24 * 3600
# Celery closes every database connection before and after each task unless
# this is set, and a scan is thousands of short tasks: a connection each
# cost more than the unit's own queries. With it, a task's connection is
# kept as Django keeps a request's (CONN_MAX_AGE, health checks; see
# config/celery.py), and Celery closes it itself every 500 tasks.
CELERY_DB_REUSE_MAX = 500
# A key prefix lets several deployments (or test runs) share one Redis.
_redis_prefix = env_str("PARAPET_REDIS_KEY_PREFIX")
CELERY_BROKER_TRANSPORT_OPTIONS = {
    # Longer than the slowest unit, so a unit is not redelivered while running.
    "visibility_timeout": env_int("PARAPET_UNIT_TIMEOUT_SECONDS", 3600, minimum=60),
    **({"global_keyprefix": _redis_prefix} if _redis_prefix else {}),
}
CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = (
    {"global_keyprefix": _redis_prefix} if _redis_prefix else {}
)
# Dashboard aggregates (findings/dashboard.py), shared by every web process
# through Redis when there is one; else each process keeps its own. Entries are
# keyed by a rollup version, so neither ever serves figures a write replaced.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": _redis_prefix or "parapet",
    }
    if REDIS_URL
    else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
}
# A broker or result store that restarts is waited for, never given up on: a
# worker that exits after N retries leaves its scan hanging, and a result that
# is not stored leaves the scan's chord waiting for it forever.
CELERY_BROKER_CONNECTION_RETRY = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
CELERY_RESULT_BACKEND_ALWAYS_RETRY = True
CELERY_RESULT_BACKEND_MAX_RETRIES = 30
# Two queues. `collect` holds scan units, which mostly wait on AWS: give its
# workers a high concurrency. `default` starts and finishes scans, and
# finishing evaluates every control (CPU-bound): about one process per core.
# A worker started without -Q consumes both (docs/architecture.md).
PARAPET_COLLECT_QUEUE = "collect"
CELERY_TASK_DEFAULT_QUEUE = "default"
# Each queue on its own exchange and key, as Celery makes a queue it is only
# named (a Queue without them would share the default one's binding, and
# every message would reach both).
CELERY_TASK_QUEUES = [
    Queue(name, Exchange(name), routing_key=name)
    for name in (CELERY_TASK_DEFAULT_QUEUE, PARAPET_COLLECT_QUEUE)
]
CELERY_TASK_ROUTES = {
    "collectors.run_unit": {"queue": PARAPET_COLLECT_QUEUE},
}
# Pool processes of a worker (its --concurrency wins); 0: one per core.
CELERY_WORKER_CONCURRENCY = env_int("PARAPET_WORKER_CONCURRENCY", 0, minimum=0) or None
# A pool process keeps the AWS clients of every account session it used in
# the last hour (a scan of 50 accounts x 3 regions made 4,500, 0.17 MB each):
# one past this resident size is replaced after its task, by a fork of the
# worker that has botocore's models parsed already (config/warmup.py). MB;
# 0: never.
_worker_memory_mb = env_int("PARAPET_WORKER_MAX_MEMORY_MB", 1024, minimum=0)
CELERY_WORKER_MAX_MEMORY_PER_CHILD = _worker_memory_mb * 1024 or None  # KiB
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# A unit whose worker has not sent a heartbeat for this many seconds is marked
# failed ("worker stopped responding") by the reaper every 5 minutes; a
# redelivered unit takes over after a tenth of it (collectors/pipeline.py).
PARAPET_UNIT_HEARTBEAT_TIMEOUT = env_int(
    "PARAPET_UNIT_HEARTBEAT_TIMEOUT", 15 * 60, minimum=60
)
# Without a broker, a scan's units run on this many threads of the process.
PARAPET_INPROCESS_CONCURRENCY = env_int("PARAPET_INPROCESS_CONCURRENCY", 8, minimum=1)

# AWS access. Base credentials come from the standard boto3 chain; the endpoint
# from botocore's own AWS_ENDPOINT_URL.
PARAPET_ROLE_SESSION_SECONDS = env_int(
    "PARAPET_ROLE_SESSION_SECONDS", 3600, minimum=900
)
# 0 (unset): 6 attempts against AWS, 2 against a custom endpoint (a local
# simulator never throttles, and answers calls it lacks with a 500 that is
# not worth retrying).
PARAPET_AWS_MAX_ATTEMPTS = env_int("PARAPET_AWS_MAX_ATTEMPTS", 0, minimum=0)
PARAPET_AWS_TIMEOUT_SECONDS = env_int("PARAPET_AWS_TIMEOUT_SECONDS", 30, minimum=1)
PARAPET_DEFAULT_REGIONS = env_list("PARAPET_DEFAULT_REGIONS", [])
# Raw history (superseded snapshots, status changes, scan units, long-deleted
# resources) older than this many days is pruned nightly (findings/retention.py);
# rollups, and so every trend, are kept. 0 keeps everything forever.
PARAPET_RETENTION_DAYS = env_int("PARAPET_RETENTION_DAYS", 400, minimum=0)
if 0 < PARAPET_RETENTION_DAYS < 30:
    raise ImproperlyConfigured(
        "PARAPET_RETENTION_DAYS must be 0 (keep forever) or at least 30, "
        f"got {PARAPET_RETENTION_DAYS}"
    )
# The IAM role (or user) the workers run as: the onboarding page fills it in as
# the principal the member accounts' audit role trusts. Empty: a placeholder.
PARAPET_SCANNER_PRINCIPAL_ARN = env_str("PARAPET_SCANNER_PRINCIPAL_ARN").strip()
if PARAPET_SCANNER_PRINCIPAL_ARN and not re.fullmatch(
    r"arn:aws[a-z-]*:iam::\d{12}:(role|user)/[\w+=,.@/-]+",
    PARAPET_SCANNER_PRINCIPAL_ARN,
):
    raise ImproperlyConfigured(
        "PARAPET_SCANNER_PRINCIPAL_ARN must be the ARN of one IAM role or user, "
        f"e.g. arn:aws:iam::111111111111:role/parapet, got "
        f"{PARAPET_SCANNER_PRINCIPAL_ARN!r}"
    )

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    # Libraries log credentials at DEBUG (botocore: request headers and
    # AssumeRole responses); the filter takes them out of every line written.
    "filters": {"redact": {"()": "accounts.log_redaction.RedactSecrets"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["redact"],
        }
    },
    "root": {"handlers": ["console"], "level": env_str("PARAPET_LOG_LEVEL", "INFO")},
    "loggers": {
        "botocore": {"level": "WARNING"},
        "boto3": {"level": "WARNING"},
        "urllib3": {"level": "WARNING"},
        # One line per task is noise when tasks run in-process (the demo).
        "celery.app.trace": {"level": "WARNING"},
        # Parapet's audit log records sign-ins; axes' INFO lines repeat them.
        "axes": {"level": "WARNING"},
    },
}

# Email (scheduled digests): SMTP when EMAIL_HOST is set, else the console
# backend, which prints each message (development and the demo).
EMAIL_HOST = env_str("EMAIL_HOST")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)  # STARTTLS, usually port 587
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)  # implicit TLS, usually port 465
if EMAIL_USE_TLS and EMAIL_USE_SSL:
    raise ImproperlyConfigured(
        "EMAIL_USE_TLS (STARTTLS) and EMAIL_USE_SSL (implicit TLS) are both on; "
        "set only one of them"
    )
EMAIL_PORT = env_int(
    "EMAIL_PORT", 465 if EMAIL_USE_SSL else 587 if EMAIL_USE_TLS else 25, minimum=1
)
if EMAIL_PORT > 65535:
    raise ImproperlyConfigured(f"EMAIL_PORT must be at most 65535, got {EMAIL_PORT}")
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 30, minimum=1)
EMAIL_BACKEND = (
    "django.core.mail.backends.smtp.EmailBackend"
    if EMAIL_HOST
    else "django.core.mail.backends.console.EmailBackend"
)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Parapet <parapet@localhost>")
if "@" not in parseaddr(DEFAULT_FROM_EMAIL)[1]:
    raise ImproperlyConfigured(
        "DEFAULT_FROM_EMAIL must be an address such as "
        f"'Parapet <parapet@example.com>', got {DEFAULT_FROM_EMAIL!r}"
    )
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# Links in emails are absolute: the address users open Parapet at.
SITE_URL = env_str("PARAPET_SITE_URL").rstrip("/")
if SITE_URL:
    _site = urlsplit(SITE_URL)
    if _site.scheme not in {"http", "https"} or not _site.netloc:
        raise ImproperlyConfigured(
            f"PARAPET_SITE_URL must be an http(s) URL, got {SITE_URL!r}"
        )
elif PARAPET_ENV == "production" and EMAIL_HOST:
    raise ImproperlyConfigured(
        "PARAPET_SITE_URL must be set (e.g. https://parapet.example.com) when "
        "EMAIL_HOST is: digest links are absolute"
    )
else:
    SITE_URL = "http://127.0.0.1:8000"
# A digest period with nothing to report: send a one-line email, or skip it.
DIGEST_SEND_EMPTY = env_bool("PARAPET_DIGEST_SEND_EMPTY", True)
