"""Settings for CX Platform, read only from environment variables (django-environ).

Variables: DATABASE_URL, REDIS_URL, SECRET_KEY, DEBUG, ALLOWED_HOSTS, EMAIL_URL, TIME_ZONE
(and a few optional ones documented in README.md). A missing or malformed variable stops
start-up with one line naming it (see `cxplatform.env`).
"""

from pathlib import Path

from .env import config

BASE_DIR = Path(__file__).resolve().parent.parent

# `make run` / `make test` write the embedded stack's URLs here so that a plain
# `.venv/bin/python manage.py shell` finds the same servers. Real environment variables win.
config.read_env_file(BASE_DIR / ".cx" / "env")

DEBUG = config.bool("DEBUG", default=False)
SECRET_KEY = config.secret_key("SECRET_KEY")
ALLOWED_HOSTS = config.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = config.list("CSRF_TRUSTED_ORIGINS", default=[])
TIME_ZONE = config.time_zone("TIME_ZONE", default="UTC")
USE_TZ = True
USE_I18N = True
LANGUAGE_CODE = "en-us"

DATABASES = {"default": config.database("DATABASE_URL")}
DATABASES["default"]["CONN_MAX_AGE"] = config.int("CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
REDIS_URL = config.redis("REDIS_URL")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "django.contrib.humanize",
    "django_htmx",
    "django_filters",
    "template_partials",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI's files, served from /static/ (no CDN)
    "accounts",
    "support",
    "success",
    "metrics",
    "cxplatform",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "cxplatform.middleware.SecurityHeadersMiddleware",
    # Under /api/ only: JSON errors (never an HTML page) and the rate-limit headers.
    "accounts.api.errors.ApiErrorMiddleware",
]

ROOT_URLCONF = "cxplatform.urls"
WSGI_APPLICATION = "cxplatform.wsgi.application"
ASGI_APPLICATION = "cxplatform.asgi.application"

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
            ],
        },
    },
]

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.ModelBackend"]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = config.path("STATIC_ROOT", default=BASE_DIR / "staticfiles")
MEDIA_URL = "/media/"
MEDIA_ROOT = config.path("MEDIA_ROOT", default=BASE_DIR / ".cx" / "media")

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "cx",
        "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
    }
}
SESSION_ENGINE = "django.contrib.sessions.backends.db"

vars().update(config.email("EMAIL_URL", default="consolemail://"))
DEFAULT_FROM_EMAIL = config.str("DEFAULT_FROM_EMAIL", default="CX Platform <support@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# Celery: Redis is broker and result store; tasks are acknowledged after they finish.
CELERY_BROKER_URL = config.celery_broker(REDIS_URL)
CELERY_RESULT_BACKEND = config.celery_backend(REDIS_URL)
CELERY_TIMEZONE = TIME_ZONE
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = 300
CELERY_TASK_TIME_LIMIT = 360
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {"socket_connect_timeout": 2, "socket_timeout": 5}

# The API's foundation lives in accounts/api/ (see its modules' docstrings).
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # First, so that "not authenticated" is a 401 with a Bearer challenge.
        "accounts.api.authentication.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",  # the browsable API (CSRF)
    ],
    "DEFAULT_PERMISSION_CLASSES": ["accounts.api.permissions.ScopedPermission"],
    "DEFAULT_THROTTLE_CLASSES": ["accounts.api.throttling.ApiRateThrottle"],
    "DEFAULT_PAGINATION_CLASS": "accounts.api.pagination.ApiCursorPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "EXCEPTION_HANDLER": "accounts.api.errors.api_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "accounts.api.schema.ApiAutoSchema",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
# Requests a minute per API token (per user for a session).
CX_API_RATE_LIMIT = config.int("CX_API_RATE_LIMIT", default=700)
# Webhook targets on loopback/private/link-local/metadata addresses are refused unless this is on.
CX_WEBHOOK_ALLOW_PRIVATE = config.bool("CX_WEBHOOK_ALLOW_PRIVATE", default=False)
SPECTACULAR_SETTINGS = {
    "TITLE": "CX Platform API",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # /api/v1/docs/ loads Swagger UI from /static/ (drf-spectacular-sidecar), not a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    # One enum for priorities wherever they appear (a ticket's, a policy's conditions).
    "ENUM_NAME_OVERRIDES": {
        "PriorityEnum": "support.choices.Priority",
        "TierEnum": "accounts.choices.Tier",
        "TicketTypeEnum": "support.choices.TicketType",
        "ChannelEnum": "support.choices.Channel",
    },
}

# Security: safe by default, relaxed only when DEBUG is on (local development).
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # htmx reads the token from the page, not the cookie
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if not DEBUG:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = config.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = config.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = config.bool("SECURE_HSTS_PRELOAD", default=True)
    # Load balancers probe /healthz over plain HTTP inside the cluster.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": config.str("LOG_LEVEL", default="INFO")},
}

# Domain settings (each overridable from the environment).
CX_SOLVED_TICKETS_CLOSE_AFTER_DAYS = config.int("CX_SOLVED_TICKETS_CLOSE_AFTER_DAYS", default=4)
CX_ATTACHMENT_MAX_BYTES = config.int("CX_ATTACHMENT_MAX_BYTES", default=10 * 1024 * 1024)
CX_PRESENCE_TTL_SECONDS = config.int("CX_PRESENCE_TTL_SECONDS", default=30)
CX_SEARCH_CONFIG = config.str("CX_SEARCH_CONFIG", default="english")
# How long the queue's shared view counts may be reused (any ticket change forgets them).
CX_QUEUE_COUNTS_CACHE_SECONDS = config.int("CX_QUEUE_COUNTS_CACHE_SECONDS", default=10)
# Where people reach the web UI: links in emails.
CX_BASE_URL = config.str("CX_BASE_URL", default="http://127.0.0.1:8000")
# Email channel: the support mailbox (replies come back to support+<token>@its domain),
# the IMAP mailbox polled by `fetch_mail` (imaps://user:password@host:993/INBOX; empty:
# polling off), the webhook's shared secret (empty: webhook refuses everything) and the
# largest message accepted (bigger mail is kept without its attachments; the webhook
# answers 413).
CX_SUPPORT_EMAIL = config.str("CX_SUPPORT_EMAIL", default="support@localhost")
CX_IMAP_URL = config.str("CX_IMAP_URL", default="")
CX_INBOUND_EMAIL_SECRET = config.str("CX_INBOUND_EMAIL_SECRET", default="")
CX_INBOUND_EMAIL_MAX_BYTES = config.int("CX_INBOUND_EMAIL_MAX_BYTES", default=25 * 1024 * 1024)
# Surveys: how long a CSAT/NPS link stays valid, and whether the CSAT page also asks CES.
CX_SURVEY_LINK_MAX_AGE_DAYS = config.int("CX_SURVEY_LINK_MAX_AGE_DAYS", default=14)
CX_SURVEY_CES = config.bool("CX_SURVEY_CES", default=True)
