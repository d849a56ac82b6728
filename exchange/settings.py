"""Exchange settings, read from the environment (SPEC §7).

Every variable has a safe default for the embedded mode: SQLite and files under var/,
the in-memory channel layer. Setting DATABASE_URL and REDIS_URL switches to the
production path (PostgreSQL, channels_redis) without touching code.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from exchange.env import env_bool, env_int, env_list, env_rates, env_str
from exchange.kernel.redis import redis_place_from

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
if "*" in ALLOWED_HOSTS:
    # The allowed hosts are also the Origins a cookie-authenticated socket may come from
    # (permissions/sign_in/ws_auth.py): '*' would let any web page open a socket as its visitor.
    raise ImproperlyConfigured("EXCHANGE_ALLOWED_HOSTS must name the hosts; '*' is refused")
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
    "csp",
    "ninja",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "axes",
    "permissions",
    "channels_app",
    "audit",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "exchange.middleware.ApiOverHttpsOnly",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # After authentication: ends sessions past their absolute lifetime, and sends a
    # password-only session of a two-factor user to the code step (docs/sign-in.md).
    "permissions.sign_in.middleware.SignInPolicyMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "exchange.views.ApiErrorShapeMiddleware",
    # Last, as django-axes requires: turns a locked-out sign-in into its lockout page.
    "axes.middleware.AxesMiddleware",
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
                "permissions.institutions.context_processors.certification_reminders",
                "audit.context_processors.audit_link",
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
        },
        # Parameters travel apart from the SQL, and psycopg prepares a statement on a
        # pooled connection the second time it runs there: the per-frame access check and
        # the message insert are then planned once per connection, not once per frame
        # (planning was two thirds of PostgreSQL's CPU per message). Django switches
        # psycopg's preparing off unless asked; a pooler in transaction mode that cannot
        # carry prepared statements (PgBouncer < 1.21) needs EXCHANGE_DB_PREPARED=0.
        "server_side_binding": True,
        "prepare_threshold": 2 if env_bool("EXCHANGE_DB_PREPARED", True) else None,
    }

# One Redis (REDIS_URL) or a Sentinel-watched primary (REDIS_SENTINELS and
# REDIS_SENTINEL_MASTER): the layer, the rate limits and /healthz all follow this one
# place (exchange/kernel/redis.py), and follow a failover together.
REDIS_URL = env_str("REDIS_URL")
REDIS = redis_place_from(
    url=REDIS_URL,
    sentinels=env_str("REDIS_SENTINELS"),
    master=env_str("REDIS_SENTINEL_MASTER", "exchange"),
    db=env_int("REDIS_SENTINEL_DB", 0, maximum=15),
)
if REDIS.configured:
    CHANNEL_LAYERS = {
        "default": {
            # The pub/sub layer: the plain RedisChannelLayer drops group messages
            # silently once a per-process capacity is reached (see README, performance).
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {
                "hosts": [
                    # redis-py's async pool refuses connections past 100 by default.
                    REDIS.layer_host(
                        max_connections=env_int("EXCHANGE_REDIS_MAX_CONNECTIONS", 1000)
                    )
                ],
                "prefix": env_str("EXCHANGE_CHANNEL_LAYER_PREFIX", "exchange"),
            },
        }
    }
else:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels.layers.InMemoryChannelLayer",
            # One reader per process takes every channel's broadcasts (exchange/kernel/fanout.py):
            # its queue must hold a burst, and its group memberships must not expire.
            "CONFIG": {"capacity": 10_000, "group_expiry": 10 * 365 * 86400},
        }
    }

AUTH_USER_MODEL = "permissions.User"
AUTHENTICATION_BACKENDS = [
    # First: refuses a locked-out username before any password is checked.
    "axes.backends.AxesStandaloneBackend",
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
# JSON bodies (and the non-file fields of a multipart body) are read into memory: the
# largest legitimate one is an epoch's key shares, ~300 bytes per member.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("EXCHANGE_MAX_JSON_BODY_KB", 1024, minimum=16) * 1024
# How long a request may take to arrive (exchange/server.py): its request line and headers
# within REQUEST_HEADERS_SECONDS; its body within REQUEST_BODY_SECONDS plus its length at
# REQUEST_MIN_KB_PER_SECOND (a 100 MB upload over a 256 kbit/s line still fits). A
# request that trickles in slower holds a connection for nothing: it gets 408.
REQUEST_HEADERS_SECONDS = env_int("EXCHANGE_REQUEST_HEADERS_SECONDS", 10, minimum=1)
REQUEST_BODY_SECONDS = env_int("EXCHANGE_REQUEST_BODY_SECONDS", 30, minimum=1)
REQUEST_MIN_KB_PER_SECOND = env_int("EXCHANGE_REQUEST_MIN_KB_PER_SECOND", 16, minimum=1)
# What may wait for a socket whose client stopped reading, beyond its 64 KiB write buffer,
# before it is closed with 4009 (exchange/server.py): a slow reader never reaches it.
WS_SEND_QUEUE_KB = env_int("EXCHANGE_WS_SEND_QUEUE_KB", 1024, minimum=64)

# --- rate limits and caps, per user (exchange/kernel/ratelimit.py) ---------------------------
# Generous for people and their scripts; they stop a runaway client or a stolen token
# from flooding a channel. Several windows joined by ';' all apply. A page subscribing to
# every channel it shows sends a burst of frames at once, hence the per-second headroom.
RATE_WS_FRAMES = env_rates("EXCHANGE_RATE_WS_FRAMES", "100/second;1200/minute")
RATE_API_WRITES = env_rates("EXCHANGE_RATE_API_WRITES", "20/second;600/minute")
RATE_UPLOADS = env_rates("EXCHANGE_RATE_UPLOADS", "30/minute;300/hour")
# A socket whose frames were refused this many times in a row is closed with 1008.
WS_RATE_LIMITED_CLOSE_AFTER = env_int("EXCHANGE_WS_RATE_LIMITED_CLOSE_AFTER", 20, minimum=1)
MAX_SOCKETS_PER_USER = env_int("EXCHANGE_MAX_SOCKETS_PER_USER", 20, minimum=1)
# How long a socket's slot outlives its server process (production: a crashed process
# stops refreshing its sockets' slots, which then expire after this many seconds).
SOCKET_SLOT_TTL = env_int("EXCHANGE_SOCKET_SLOT_TTL", 60, minimum=3, maximum=3600)
# Counters and socket slots share REDIS_URL across server processes; the prefix keeps
# installations (and test runs) sharing one Redis apart.
RATE_LIMIT_PREFIX = env_str(
    "EXCHANGE_RATE_LIMIT_PREFIX", env_str("EXCHANGE_CHANNEL_LAYER_PREFIX", "exchange") + ":limits"
)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Sessions (docs/sign-in.md): an idle session ends after EXCHANGE_SESSION_IDLE_MINUTES,
# since every request pushes its expiry on; any session ends EXCHANGE_SESSION_MAX_HOURS
# after its sign-in, however busy (permissions.sign_in.middleware checks the time it stored).
SESSION_IDLE_MINUTES = env_int("EXCHANGE_SESSION_IDLE_MINUTES", 30, minimum=1)
SESSION_MAX_HOURS = env_int("EXCHANGE_SESSION_MAX_HOURS", 12, minimum=1)
SESSION_COOKIE_AGE = SESSION_IDLE_MINUTES * 60
# How often an open socket looks again that its credential still lives (a session idled
# out or deleted, a row changed by hand); known ends (a token's expiry, a session's
# lifetime, a lapse) close it on time anyway (permissions/sign_in/socket_lifetime.py).
SESSION_SOCKET_CHECK_SECONDS = env_int("EXCHANGE_SESSION_SOCKET_CHECK_SECONDS", 60, minimum=1)
SESSION_SAVE_EVERY_REQUEST = True

# --- browser hardening (docs/security.md) ---------------------------------------------
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = not DEBUG and env_bool("EXCHANGE_SECURE_COOKIES", True)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
# Under /api/ a CSRF refusal is SPEC §3's JSON error, not Django's HTML page.
CSRF_FAILURE_VIEW = "exchange.views.csrf_failure"
if SESSION_COOKIE_SECURE:
    # __Host-: the browser keeps such a cookie only if Secure, for this exact host and
    # path /, so neither a sibling subdomain nor plain HTTP can plant or overwrite it.
    SESSION_COOKIE_NAME = "__Host-sessionid"
    CSRF_COOKIE_NAME = "__Host-csrftoken"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# HTTPS only, once not in the embedded development mode. SecurityMiddleware sends HSTS on
# HTTPS responses only, so a plain-HTTP test server never pins itself.
SECURE_SSL_REDIRECT = not DEBUG and env_bool("EXCHANGE_SSL_REDIRECT", True)
# Pages redirect; the API and the socket do not, so that a client configured with http://
# fails loudly (exchange/middleware.py) instead of sending its token in clear every time.
# /healthz answers a load balancer's plain-HTTP check on the worker's own port.
SECURE_REDIRECT_EXEMPT = [r"^api/", r"^ws/", r"^healthz$"]
SECURE_HSTS_SECONDS = env_int("EXCHANGE_HSTS_SECONDS", 0 if DEBUG else 365 * 86400)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("EXCHANGE_HSTS_INCLUDE_SUBDOMAINS", True)
# The header only declares eligibility; nothing is preloaded until the operator submits
# the domain to the browsers' list.
SECURE_HSTS_PRELOAD = env_bool("EXCHANGE_HSTS_PRELOAD", True)
# Behind nginx, TLS ends at the proxy: trust its X-Forwarded-Proto only when told to,
# because a server reachable directly would let any client claim HTTPS.
_PROXY_SSL_HEADER = env_str("EXCHANGE_PROXY_SSL_HEADER")
if _PROXY_SSL_HEADER:
    _name, _, _value = _PROXY_SSL_HEADER.partition(":")
    if not _name.strip() or not _value.strip():
        raise ImproperlyConfigured(
            "EXCHANGE_PROXY_SSL_HEADER is 'Header-Name: value', e.g. 'X-Forwarded-Proto: https'"
        )
    SECURE_PROXY_SSL_HEADER = (
        "HTTP_" + _name.strip().upper().replace("-", "_"),
        _value.strip(),
    )

# Content-Security-Policy (django-csp 4). Every script is an ES module served from
# static/; no inline script, no eval. The age bundle (static/dist/age.js) is pure
# JavaScript (@noble's X25519, ChaCha20-Poly1305 and scrypt) with no WebAssembly, so
# 'wasm-unsafe-eval' is not needed either. CSP Level 3 lets 'self' match the page's own
# host over ws: and wss:, which is all connect-src needs for /ws/v1/.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'"],
        "connect-src": ["'self'"],
        "frame-ancestors": ["'none'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
    }
}

# Sign-in lockout (django-axes). Failures count per username and per address+username,
# never per address alone: a whole office behind one address must not be locked out by
# one person's typos, nor by someone guessing at another account. A lockout lasts the
# cool-off, then lifts by itself.
AXES_FAILURE_LIMIT = env_int("EXCHANGE_LOGIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("EXCHANGE_LOGIN_COOLOFF_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = ["username", ["ip_address", "username"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "permissions.sign_in.views.locked_out"
AXES_VERBOSE = False
# EXCHANGE_PROXY_COUNT: how many reverse proxies stand in front (nginx alone: 1). With
# none, the address is the connection's own and X-Forwarded-For is ignored (a client
# could write anything there). With N, the proxies append to X-Forwarded-For and the
# client is the entry the first of them appended; python-ipware counts only the proxies
# that appear in the header, hence N - 1.
PROXY_COUNT = env_int("EXCHANGE_PROXY_COUNT", 0, maximum=10)
AXES_IPWARE_META_PRECEDENCE_ORDER: tuple[str, ...]
if PROXY_COUNT:
    AXES_IPWARE_META_PRECEDENCE_ORDER = ("HTTP_X_FORWARDED_FOR", "REMOTE_ADDR")
    AXES_IPWARE_PROXY_COUNT = PROXY_COUNT - 1
    # Count from the right even when the client prepended addresses of its own; the
    # strict default would then give up and fall back to the proxy's address.
    IPWARE_STRICT = False
else:
    AXES_IPWARE_META_PRECEDENCE_ORDER = ("REMOTE_ADDR",)

# Two-factor sign-in (django-otp). Each wrong code doubles the wait before the next try
# on that device (1 s, 2 s, 4 s, ...); 0 would switch throttling off, so it is refused.
OTP_TOTP_THROTTLE_FACTOR = env_int("EXCHANGE_OTP_THROTTLE_FACTOR", 1, minimum=1)
OTP_STATIC_THROTTLE_FACTOR = OTP_TOTP_THROTTLE_FACTOR
OTP_TOTP_ISSUER = env_str("EXCHANGE_OTP_ISSUER", "Exchange")

# Bearer tokens: how long a new personal API token lives unless told otherwise.
API_TOKEN_DEFAULT_DAYS = env_int("EXCHANGE_TOKEN_DAYS", 90, minimum=1, maximum=3650)

# Recertification (docs/moderation.md): a focal point confirms each user of their
# institution every RECERTIFY_DAYS; a user left unconfirmed RECERTIFY_GRACE_DAYS longer
# loses access (the guard refuses them, recertification_sweep deactivates them).
RECERTIFY_DAYS = env_int("EXCHANGE_RECERTIFY_DAYS", 180, minimum=1, maximum=3650)
RECERTIFY_GRACE_DAYS = env_int("EXCHANGE_RECERTIFY_GRACE_DAYS", 14, minimum=0, maximum=365)

# Invitations: the link to set a password is Django's password-reset token, valid this long.
# Links start with EXCHANGE_PUBLIC_URL (e.g. https://exchange.example.org) when it is set,
# else with the scheme and host of the request (behind a TLS proxy that may say http).
PUBLIC_URL = env_str("EXCHANGE_PUBLIC_URL").rstrip("/")
PASSWORD_RESET_TIMEOUT = env_int("EXCHANGE_INVITE_DAYS", 7, minimum=1, maximum=60) * 86400

# Email (invitations). Without EXCHANGE_EMAIL_HOST the embedded mode prints mail on the
# console; production names its SMTP relay.
EMAIL_HOST = env_str("EXCHANGE_EMAIL_HOST")
EMAIL_BACKEND = (
    "django.core.mail.backends.smtp.EmailBackend"
    if EMAIL_HOST
    else "django.core.mail.backends.console.EmailBackend"
)
EMAIL_PORT = env_int("EXCHANGE_EMAIL_PORT", 587, minimum=1, maximum=65535)
EMAIL_HOST_USER = env_str("EXCHANGE_EMAIL_USER")
EMAIL_HOST_PASSWORD = env_str("EXCHANGE_EMAIL_PASSWORD")
EMAIL_USE_TLS = env_bool("EXCHANGE_EMAIL_USE_TLS", True)
EMAIL_TIMEOUT = env_int("EXCHANGE_EMAIL_TIMEOUT", 10, minimum=1)
DEFAULT_FROM_EMAIL = env_str("EXCHANGE_EMAIL_FROM", "Exchange <no-reply@localhost>")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("EXCHANGE_LOG_LEVEL", "WARNING")},
}
