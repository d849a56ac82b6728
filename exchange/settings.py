"""Exchange settings, read from the environment (SPEC §7).

Every variable has a safe default for the embedded mode: SQLite and files under var/,
the in-memory channel layer. Setting DATABASE_URL and REDIS_URL switches to the
production path (PostgreSQL, channels_redis) without touching code.
"""

from __future__ import annotations

from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from exchange.env import env_bool, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

DEBUG = env_bool("EXCHANGE_DEBUG", False)

SECRET_KEY = env_str("EXCHANGE_SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "EXCHANGE_SECRET_KEY is required when EXCHANGE_DEBUG is off "
            "(generate one with: python -c 'import secrets; print(secrets.token_urlsafe(50))')"
        )
    SECRET_KEY = "insecure-embedded-development-key-never-use-in-production"  # noqa: S105

ALLOWED_HOSTS = env_list("EXCHANGE_ALLOWED_HOSTS", ["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env_list("EXCHANGE_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_countries",
    "guardian",
    "channels",
    "ninja",
    "permissions",
    "channels_app",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "exchange.views.ApiErrorShapeMiddleware",
]

ROOT_URLCONF = "exchange.urls"
ASGI_APPLICATION = "exchange.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASE_URL = env_str("DATABASE_URL")
if not DATABASE_URL:
    VAR_DIR.mkdir(exist_ok=True)  # the embedded default needs nothing installed or made
DATABASES = {
    "default": dj_database_url.parse(
        DATABASE_URL or f"sqlite:///{VAR_DIR / 'exchange.sqlite3'}",
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # One writer at a time, taken at BEGIN: a reader that later writes cannot deadlock
    # on a lock upgrade, and the WAL lets readers go on while a message commits.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # Kept open between socket frames (all run on one database thread); reopening the
    # file and replaying the PRAGMAs on every frame was a tenth of a send's cost.
    DATABASES["default"]["CONN_MAX_AGE"] = env_int("EXCHANGE_DB_CONN_MAX_AGE", 300)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # A process pool of connections: every socket frame borrows one for a few queries,
    # and opening a PostgreSQL connection per frame would cost more than the queries.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "pool": {
            "min_size": 1,
            "max_size": env_int("EXCHANGE_DB_POOL_SIZE", 16, minimum=1),
            # How long a request or frame waits for a connection before it is answered
            # `unavailable` (503): psycopg_pool's 30 s default would hold a socket's frame,
            # and a worker thread, that long while the database is down.
            "timeout": env_int("EXCHANGE_DB_POOL_TIMEOUT", 10, minimum=1),
        }
    }

REDIS_URL = env_str("REDIS_URL")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            # The pub/sub layer: the plain RedisChannelLayer drops group messages
            # silently once a per-process capacity is reached (see README, performance).
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {
                "hosts": [
                    {
                        "address": REDIS_URL,
                        # redis-py's async pool refuses connections past 100 by default.
                        "max_connections": env_int("EXCHANGE_REDIS_MAX_CONNECTIONS", 1000),
                    }
                ],
                "prefix": env_str("EXCHANGE_CHANNEL_LAYER_PREFIX", "exchange"),
            },
        }
    }
else:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels.layers.InMemoryChannelLayer",
            # One reader per process takes every channel's broadcasts (exchange/fanout.py):
            # its queue must hold a burst, and its group memberships must not expire.
            "CONFIG": {"capacity": 10_000, "group_expiry": 10 * 365 * 86400},
        }
    }

AUTH_USER_MODEL = "permissions.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
ANONYMOUS_USER_NAME = None

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "catalogue"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("es", "Español"), ("pt", "Português"), ("fr", "Français")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env_str("EXCHANGE_STATIC_ROOT", str(VAR_DIR / "static")))
# The embedded mode serves static files itself; production puts nginx in front (deploy/).
WHITENOISE_USE_FINDERS = DEBUG
MEDIA_ROOT = Path(env_str("EXCHANGE_MEDIA_ROOT", str(VAR_DIR / "media")))
MAX_UPLOAD_MB = env_int("EXCHANGE_MAX_UPLOAD_MB", 100, minimum=1)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = not DEBUG and env_bool("EXCHANGE_SECURE_COOKIES", True)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# Bearer tokens: how long a new personal API token lives unless told otherwise.
API_TOKEN_DEFAULT_DAYS = env_int("EXCHANGE_TOKEN_DAYS", 90, minimum=1, maximum=3650)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("EXCHANGE_LOG_LEVEL", "WARNING")},
}
