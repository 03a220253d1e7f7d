"""Settings for the CX hub: one module, every value from the environment (12-factor).

Each setting has a demo-safe default so `make demo` runs with nothing configured; production sets
them through the environment or a `.env` file (see `.env.example`). `X_FILE` variants read secrets from
files (Docker/Kubernetes secrets), thanks to `environ.FileAwareEnv`.
"""

from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.FileAwareEnv(
    DEBUG=(bool, False),
    ALLOWED_HOSTS=(list, ["localhost", "127.0.0.1", "[::1]"]),
    TIME_ZONE=(str, "UTC"),
)
environ.FileAwareEnv.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env("DEBUG")
# Customers' links (tracking, returns, unsubscribe) are signed with SECRET_KEY, so a key anyone can read
# would let anyone forge a link to any order: the demo key works only while DEBUG is on.
DEMO_SECRET_KEY = "django-insecure-demo-key-change-me-for-production-0123456789abcdef"
SECRET_KEY = env("SECRET_KEY", default=DEMO_SECRET_KEY if DEBUG else environ.Env.NOTSET)
if not DEBUG and SECRET_KEY == DEMO_SECRET_KEY:
    raise environ.ImproperlyConfigured("SECRET_KEY is the public demo key: set a secret one of your own.")
# The previous keys while a new SECRET_KEY takes over: links signed with them keep working.
SECRET_KEY_FALLBACKS = env.list("SECRET_KEY_FALLBACKS", default=[])
ALLOWED_HOSTS = env("ALLOWED_HOSTS")
PUBLIC_BASE_URL = env("PUBLIC_BASE_URL", default="http://127.0.0.1:8000").rstrip("/")
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[PUBLIC_BASE_URL])
CSRF_FAILURE_VIEW = "portal.errors.csrf_failure"  # a branded page that says what to do, not Django's own

INSTALLED_APPS = [
    "cxhub.apps.CXAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_rq",
    "cxhub",
    "orders",
    "playbooks",
    "notifications",
    "portal",
    "insights",
    "returns",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Static files (the admin's, the API docs') from STATIC_ROOT, where `collectstatic` puts them.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "cxhub.urls"
WSGI_APPLICATION = "cxhub.wsgi.application"

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

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'cxhub.sqlite3'}")}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# Behind PgBouncer in transaction mode a server-side cursor (QuerySet.iterator) can outlive its backend.
DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = env.bool("DISABLE_SERVER_SIDE_CURSORS", default=False)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # SQLite is the demo database: WAL lets the web server and the worker share it.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA busy_timeout=5000;",
        }
    )
    # The sweeps' covering indexes (INCLUDE columns) are a PostgreSQL speed-up; SQLite builds them as
    # plain indexes, which is all the demo needs.
    SILENCED_SYSTEM_CHECKS = ["models.W040"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = env("TIME_ZONE")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = env("STATIC_ROOT", default=str(BASE_DIR / "staticfiles"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # `collectstatic` also writes gzip copies, which WhiteNoise serves to the browsers that take them.
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
MEDIA_URL = "media/"
MEDIA_ROOT = env("MEDIA_ROOT", default=str(BASE_DIR / "media"))

# The customer pages' rate limits (lookups per IP and per order number) live in the cache. The default is
# per process: with several web processes, point CACHE_URL at Redis (rediscache://host:6379/1) so every
# process counts the same attempts (`check --deploy` warns otherwise).
CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://")}
# A cache call waits this long at most for Redis, then the page goes on without it (cxhub/cache.py).
CACHE_TIMEOUT_SECONDS = 0.5
if CACHES["default"]["BACKEND"].endswith(".RedisCache"):
    for _option in ("socket_timeout", "socket_connect_timeout"):
        CACHES["default"].setdefault("OPTIONS", {}).setdefault(_option, CACHE_TIMEOUT_SECONDS)

# --- Redis and jobs ------------------------------------------------------------------------------------
REDIS_URL = env("REDIS_URL", default="redis://127.0.0.1:6379/0")
# RQ_SYNC runs jobs in the process that enqueues them, with no Redis at all: the demo's fallback on a
# machine where no Redis server can be started. Production always runs Redis and workers.
RQ_SYNC = env.bool("RQ_SYNC", default=False)
_queue = {"URL": REDIS_URL, "DEFAULT_TIMEOUT": 300}
RQ_QUEUES = {"high": dict(_queue), "default": dict(_queue), "low": dict(_queue)}
RQ_SHOW_ADMIN_LINK = True
# What `manage.py rqworker` (and rqworker-pool) run unless --worker-class says otherwise: RQ's SimpleWorker, which
# runs each job in the worker process itself, warmed up before the first (cxhub/worker.py). The hub's jobs are short and
# database-bound: RQ's forking worker (cxhub.worker.Worker) pays a fork and a new PostgreSQL connection, with cold
# caches, for every job; two of those did 85 events a second where two of these keep up with 100 (README).
RQ = {"WORKER_CLASS": "cxhub.worker.SimpleWorker"}

# --- Email -------------------------------------------------------------------------------------------------
EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="CX hub <cx@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- Notifications ----------------------------------------------------------------------------------------
# SMS through Twilio: a Messaging Service SID or a From number. TWILIO_API_BASE_URL points the official SDK
# at a Twilio-compatible API (tests use a loopback fake).
TWILIO_ACCOUNT_SID = env("TWILIO_ACCOUNT_SID", default="")
TWILIO_AUTH_TOKEN = env("TWILIO_AUTH_TOKEN", default="")
TWILIO_MESSAGING_SERVICE_SID = env("TWILIO_MESSAGING_SERVICE_SID", default="")
TWILIO_FROM_NUMBER = env("TWILIO_FROM_NUMBER", default="")
TWILIO_API_BASE_URL = env("TWILIO_API_BASE_URL", default="https://api.twilio.com")
TWILIO_TIMEOUT_SECONDS = env.float("TWILIO_TIMEOUT_SECONDS", default=10.0)

# --- Security -----------------------------------------------------------------------------------------------
# Secure by default once DEBUG is off; a TLS-terminating proxy sets X-Forwarded-Proto.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^healthz(/work)?$", r"^webhooks/"]
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

# Webhook bodies beyond this are refused (413) before they are parsed.
WEBHOOK_MAX_BODY_BYTES = env.int("WEBHOOK_MAX_BODY_BYTES", default=1024 * 1024)
# A worker applies up to this many waiting deliveries per job, and runs detection once for them.
INBOUND_BATCH_SIZE = env.int("INBOUND_BATCH_SIZE", default=50)
# Raw deliveries applied (or duplicates, or ignored) are deleted this many days after they arrived; 0 keeps them.
INBOUND_RETENTION_DAYS = env.int("INBOUND_RETENTION_DAYS", default=30)
# A delivery whose rows another session holds longer than this waits for its retry (PostgreSQL's
# lock_timeout for a batch, which its default would leave waiting for ever) while its batch goes on.
INBOUND_LOCK_TIMEOUT_SECONDS = env.float("INBOUND_LOCK_TIMEOUT_SECONDS", default=10.0)
DATA_UPLOAD_MAX_MEMORY_SIZE = max(WEBHOOK_MAX_BODY_BYTES, 2621440)
# A CSV uploaded in the admin is read into memory and stored until imported: larger ones go to the command.
ORDER_IMPORT_MAX_BYTES = env.int("ORDER_IMPORT_MAX_BYTES", default=50 * 1024 * 1024)

# --- Integrations: single-store fallback secrets ----------------------------------------------------------
SHOPIFY_WEBHOOK_SECRET = env("SHOPIFY_WEBHOOK_SECRET", default="")
EASYPOST_WEBHOOK_SECRET = env("EASYPOST_WEBHOOK_SECRET", default="")
AFTERSHIP_WEBHOOK_SECRET = env("AFTERSHIP_WEBHOOK_SECRET", default="")
STRIPE_WEBHOOK_SECRET = env("STRIPE_WEBHOOK_SECRET", default="")
STRIPE_WEBHOOK_TOLERANCE_SECONDS = env.int("STRIPE_WEBHOOK_TOLERANCE_SECONDS", default=300)
# The store used when a delivery names no store (or an unknown one) and an env secret is set.
DEFAULT_STORE_SLUG = env("DEFAULT_STORE_SLUG", default="")

# --- Playbooks -------------------------------------------------------------------------------------------------
# What actions that change other systems talk to. The built-in local provider records exactly what it
# was asked to do; a Shopify or Stripe provider plugs in here.
COMMERCE_PROVIDER = env("COMMERCE_PROVIDER", default="playbooks.providers.LocalProvider")
# Jobs told which shipments/orders changed whenever facts arrive (event-driven detection).
FACT_LISTENERS = ["playbooks.jobs.facts_changed_job"]
# Builds the customer's signed tracking link for messages ({{ tracking_url }}): order -> URL.
TRACKING_URL_BUILDER = "portal.links.tracking_url"
# Sections the apps above add to GET /api/v1/orders/{number}/ (each: order -> dict of keys).
ORDER_DETAIL_SECTIONS = ["playbooks.api.order_sections"]
# What each app holds of a customer's personal data: copied out and erased on request (orders/privacy.py).
PERSONAL_DATA_HOLDERS = [
    "orders.privacy.OrdersData",
    "notifications.privacy.MessagesData",
    "playbooks.privacy.TrailData",
    "portal.privacy.FeedbackData",
]
# How often the periodic detector sweeps run (seconds).
SWEEP_INTERVAL_SECONDS = env.int("SWEEP_INTERVAL_SECONDS", default=300)
# /healthz/work fails once deliveries or messages have waited this long for a worker.
HEALTH_WORK_STALLED_SECONDS = env.int("HEALTH_WORK_STALLED_SECONDS", default=300)
# Hours an approval may wait before it escalates.
APPROVAL_SLA_HOURS = env.int("APPROVAL_SLA_HOURS", default=4)

# The anomaly watch: a carrier's problems to one region in the last ANOMALY_WINDOW_HOURS, against the
# ANOMALY_BASELINE_DAYS before. An incident needs ANOMALY_FACTOR times the baseline rate and at least
# ANOMALY_MIN_COUNT problems (so small numbers never alarm).
ANOMALY_WINDOW_HOURS = env.int("ANOMALY_WINDOW_HOURS", default=6)
ANOMALY_BASELINE_DAYS = env.int("ANOMALY_BASELINE_DAYS", default=14)
ANOMALY_FACTOR = env.float("ANOMALY_FACTOR", default=5.0)
ANOMALY_MIN_COUNT = env.int("ANOMALY_MIN_COUNT", default=10)

# --- Returns ---------------------------------------------------------------------------------------------------
# Issues return labels (carrier, tracking number, drop-off QR code). The built-in provider needs no carrier.
RETURN_LABEL_PROVIDER = env("RETURN_LABEL_PROVIDER", default="returns.labels.local.LocalLabelProvider")
# Largest photo a customer may attach to a return (bytes).
RETURN_PHOTO_MAX_BYTES = env.int("RETURN_PHOTO_MAX_BYTES", default=8 * 1024 * 1024)

# --- REST API --------------------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["orders.api.authentication.StoreTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["orders.api.authentication.HasStoreToken"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 50,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "CX hub API",
    "DESCRIPTION": "Orders, shipments, tracking events and tickets in; the one-look order view out.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    # The docs page loads Swagger UI from the hub itself, never from a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    # The twilio SDK logs every request's URL and headers at INFO: ten lines per SMS.
    "loggers": {"django.db.backends": {"level": "WARNING"}, "twilio.http_client": {"level": "WARNING"}},
}
