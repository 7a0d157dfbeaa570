"""Settings for the livestream realtime backend.

Everything an operator may change is read from the environment here, once,
with a default that is safe to run on a laptop.
"""

from __future__ import annotations

import ipaddress
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from livestream import embedded_redis, gc_tuning, private_files, secret_key
from livestream.env import env_bool, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(env_str("LIVESTREAM_DATA_DIR", str(BASE_DIR / "var"))).resolve()

DEBUG = env_bool("DEBUG", False)

SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    # Never a literal: a key in the repository would let anyone mint tokens. A
    # key a DEBUG run made in the data folder serves later commands too.
    SECRET_KEY = secret_key.load_or_create(DATA_DIR) if DEBUG else secret_key.load(DATA_DIR)
    if not SECRET_KEY:
        raise ImproperlyConfigured(
            "SECRET_KEY must be set when DEBUG is off "
            f"(or set DEBUG=1 for local development: a key is then kept in {DATA_DIR})"
        )

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
# Browser origins allowed to open a WebSocket; requests without Origin
# (native apps, server-side clients) are always allowed.
ALLOWED_ORIGINS = env_list(
    "ALLOWED_ORIGINS",
    ["http://localhost", "http://127.0.0.1", "http://localhost:*", "http://127.0.0.1:*"],
)

# Reverse proxies whose X-Forwarded-For is believed (networks, e.g. 127.0.0.1/32,
# 10.0.0.0/8). None by default: the TCP peer is the client (livestream.client_address).
TRUSTED_PROXIES = env_list("TRUSTED_PROXIES", [])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "livestream",
    "accounts",
    "gateway",
    "streams",
    "chat",
    "notifications",
    "audit",
    "moderation",
    "web",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "livestream.http_metrics.RouteLabelMiddleware",
]

ROOT_URLCONF = "livestream.urls"
ASGI_APPLICATION = "livestream.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
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

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{DATA_DIR / 'db.sqlite3'}"),
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    private_files.private_dir(DATA_DIR)
    _sqlite_file = Path(DATABASES["default"]["NAME"])
    if DATA_DIR in _sqlite_file.parents:
        # 0600 before SQLite makes it; its -wal and -shm files copy the database's mode.
        private_files.private_file(_sqlite_file)
    # Several processes (daphne workers, management commands) share the file.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": env_int("SQLITE_BUSY_TIMEOUT_MS", 20_000) / 1000,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "test-db.sqlite3")}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(DATA_DIR / "static")))
# Not the Manifest variant: with DEBUG off its {% static %} raises ValueError for
# every file missing from the manifest, so the admin would break on any checkout
# where collectstatic has not run (or ran before an upgrade).
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Serve the admin's CSS straight from the apps when collectstatic has not run.
WHITENOISE_USE_FINDERS = True
# WhiteNoise warns on every start while STATIC_ROOT is missing; before
# collectstatic an empty folder is the truth.
try:
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)
except OSError:
    pass
WHITENOISE_AUTOREFRESH = DEBUG

# HTTPS hardening: on by default in production, switchable behind a proxy that
# terminates TLS (SECURE_PROXY_SSL_HEADER) or for plain-HTTP test rigs.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
if env_bool("SECURE_PROXY_SSL", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

# The workers' garbage collector (livestream/gc_tuning.py), gc.set_threshold's counts.
GC_THRESHOLDS = gc_tuning.parse_thresholds(env_str("GC_THRESHOLDS", gc_tuning.DEFAULT_THRESHOLDS))

# --- Redis: channel layer and presence -------------------------------------
# Without REDIS_URL the project runs its own redis-server (see embedded_redis).
# A comma-separated list names several independent instances (shards): the
# channel layer spreads its channels over all of them, the project's keys pick
# theirs by hash tag (livestream/redis_clients.py), the cache uses the first.
REDIS_URL = env_str("REDIS_URL")
EMBEDDED_REDIS_DIR = None if REDIS_URL else DATA_DIR
if not REDIS_URL:
    REDIS_URL = embedded_redis.url_for(DATA_DIR)
REDIS_URLS = [url.strip() for url in REDIS_URL.split(",") if url.strip()]
if not REDIS_URLS or len(set(REDIS_URLS)) != len(REDIS_URLS):
    raise ImproperlyConfigured(f"REDIS_URL must list distinct Redis URLs, got {REDIS_URL!r}")
REDIS_PREFIX = env_str("REDIS_PREFIX", "ls")
# Connections each worker keeps to each shard, and how long a command may wait for
# one when all are busy before it fails (join storms queue before the pool instead,
# streams/events.py).
REDIS_POOL_SIZE = env_int("REDIS_POOL_SIZE", 32, minimum=2)
REDIS_POOL_TIMEOUT_MS = env_int("REDIS_POOL_TIMEOUT_MS", 10_000, minimum=1)

# Shared by every worker: DRF throttles and other counters hold across processes.
# One instance only: Django reads further LOCATIONs as read replicas, not shards.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URLS[0],
        "KEY_PREFIX": f"{REDIS_PREFIX}:cache",
    }
}

# The bus between workers (docs/architecture.md has the measurements behind the
# default). Each worker's hub subscribes once per room, so group fan-out is per
# process, never per socket.
CHANNEL_LAYER = env_str("CHANNEL_LAYER", "pubsub")
if CHANNEL_LAYER == "pubsub":
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": REDIS_URLS, "prefix": f"{REDIS_PREFIX}:asgi"},
        }
    }
elif CHANNEL_LAYER == "redis":
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                "hosts": REDIS_URLS,
                "prefix": f"{REDIS_PREFIX}:asgi",
                # One hub channel per worker carries every room: no silent drops.
                "capacity": 100_000,
                "expiry": 60,
            },
        }
    }
else:
    raise ImproperlyConfigured(f"CHANNEL_LAYER must be 'pubsub' or 'redis', got {CHANNEL_LAYER!r}")

# --- Realtime gateway (Socket.IO v5 / Engine.IO v4) -------------------------
SOCKETIO = {
    "PING_INTERVAL_MS": env_int("SOCKETIO_PING_INTERVAL_MS", 25_000, minimum=1),
    "PING_TIMEOUT_MS": env_int("SOCKETIO_PING_TIMEOUT_MS", 20_000, minimum=1),
    "MAX_PAYLOAD": env_int("SOCKETIO_MAX_PAYLOAD", 1_000_000, minimum=1),
    # Before CONNECT succeeds (docs/events.md, "Before CONNECT"): how long a socket
    # may take, how big its frames may be (a JWT plus slack), how many per address.
    "CONNECT_TIMEOUT_MS": env_int("SOCKETIO_CONNECT_TIMEOUT_MS", 10_000, minimum=1),
    "MAX_CONNECT_FRAME": env_int("SOCKETIO_MAX_CONNECT_FRAME", 8_192, minimum=64),
    "MAX_PENDING_PER_IP": env_int("SOCKETIO_MAX_PENDING_PER_IP", 20),
    # A WebSocket probing to upgrade a long-polling session must send "5" within this.
    "UPGRADE_TIMEOUT_MS": env_int("SOCKETIO_UPGRADE_TIMEOUT_MS", 10_000, minimum=1),
    # At most one viewer_count_updated per room per window (first and last always sent).
    "COUNT_COALESCE_MS": env_int("SOCKETIO_COUNT_COALESCE_MS", 500),
    # Limits (docs/events.md, "Limits"); 0 turns a limit off.
    # Events per socket: a bucket of EVENT_BURST refilled at EVENT_RATE per second.
    "EVENT_RATE": env_int("SOCKETIO_EVENT_RATE", 50),
    "EVENT_BURST": env_int("SOCKETIO_EVENT_BURST", 100, minimum=1),
    "MAX_CONNECTIONS_PER_USER": env_int("SOCKETIO_MAX_CONNECTIONS_PER_USER", 20),
    "MAX_STREAM_ROOMS": env_int("SOCKETIO_MAX_STREAM_ROOMS", 10),
    # Bytes a socket may have queued for sending (a peer that does not read);
    # over it the socket is dropped with 4008 "slow consumer".
    "MAX_BUFFERED_BYTES": env_int("SOCKETIO_MAX_BUFFERED_BYTES", 4 * 1024 * 1024),
    # Connection-state recovery (docs/events.md, "Recovery"): how long a dropped
    # socket's session is kept (0: off), and the broadcasts kept per room and process.
    "RECOVERY_WINDOW_MS": env_int("SOCKETIO_RECOVERY_WINDOW_MS", 120_000),
    "RECOVERY_MAX_PACKETS": env_int("SOCKETIO_RECOVERY_MAX_PACKETS", 10_000, minimum=1),
    # Chat messages per user, across sockets and processes: CHAT_RATE_MESSAGES per
    # CHAT_RATE_WINDOW_MS sustained, up to CHAT_RATE_BURST back to back.
    "CHAT_RATE_MESSAGES": env_int("SOCKETIO_CHAT_RATE_MESSAGES", 5),
    "CHAT_RATE_WINDOW_MS": env_int("SOCKETIO_CHAT_RATE_WINDOW_MS", 3_000, minimum=1),
    "CHAT_RATE_BURST": env_int("SOCKETIO_CHAT_RATE_BURST", 5, minimum=1),
    "CHAT_DUPLICATE_WINDOW_MS": env_int("SOCKETIO_CHAT_DUPLICATE_WINDOW_MS", 1_000),
}
# The stream key is a publishing credential (docs/ingest.md): anyone holding it can
# go live as the owner. Off unless asked for, even with DEBUG (a DEBUG server reached
# by others must not hand it to every viewer).
EXPOSE_STREAM_KEY_FOR_DEV = env_bool("EXPOSE_STREAM_KEY_FOR_DEV", False)

# --- Ingest: the media server's publish hooks (streams/ingest.py, docs/ingest.md) ---
# Without a secret the hook endpoints refuse everything.
INGEST_HOOK_SECRET = env_str("INGEST_HOOK_SECRET")
# Source networks allowed to call the hooks (client address as livestream.client_address
# sees it); empty: any address that knows the secret.
INGEST_ALLOWED_NETWORKS = env_list("INGEST_ALLOWED_NETWORKS", [])
for _network in INGEST_ALLOWED_NETWORKS:
    try:
        ipaddress.ip_network(_network, strict=False)
    except ValueError:
        raise ImproperlyConfigured(
            f"INGEST_ALLOWED_NETWORKS: {_network!r} is not a network"
        ) from None
INGEST_RECONNECT_GRACE_SECONDS = env_int("INGEST_RECONNECT_GRACE_SECONDS", 15)
# A live stream whose media server has not reported for this long is ended
# (nginx-rtmp reports every notify_update_timeout, 30 s in deploy/).
INGEST_LIVENESS_TIMEOUT_SECONDS = env_int("INGEST_LIVENESS_TIMEOUT_SECONDS", 90, minimum=1)
INGEST_SWEEP_INTERVAL_SECONDS = env_int("INGEST_SWEEP_INTERVAL_SECONDS", 5, minimum=1)
# Where viewers play a live stream; "{stream_id}" is replaced. Empty: no playback URL.
PLAYBACK_URL_TEMPLATE = env_str(
    "PLAYBACK_URL_TEMPLATE", "http://127.0.0.1:8080/hls/{stream_id}.m3u8"
)
# Where broadcasters publish, shown on the streamer's page (web/) with their stream key.
RTMP_INGEST_URL = env_str("RTMP_INGEST_URL", "rtmp://127.0.0.1:1935/live")
CHAT_MESSAGE_MAX_LENGTH = 500
CHAT_HISTORY_SIZE = 20

# --- REST API -----------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework_simplejwt.authentication.JWTAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 20,
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"]
    + (["rest_framework.renderers.BrowsableAPIRenderer"] if DEBUG else []),
    "DEFAULT_SCHEMA_CLASS": "livestream.openapi.AutoSchema",
    "DEFAULT_THROTTLE_RATES": {
        "auth": env_str("AUTH_THROTTLE_RATE", "20/min"),
    },
}

# OpenAPI 3 at /api/schema/ (livestream/api_docs.py); Swagger UI's files come from
# drf-spectacular-sidecar, served by WhiteNoise: no CDN.
SPECTACULAR_SETTINGS = {
    "TITLE": "Livestream API",
    "DESCRIPTION": (
        "REST API of the livestream backend. Authenticate with `Authorization: Bearer <access>`,"
        " the access token from `POST /api/auth/token/` (renewed at `/api/auth/token/refresh/`)."
        " Errors are JSON: `{detail}`, or field name to messages for invalid input."
        " The socket events are in docs/asyncapi.yaml (AsyncAPI 3)."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "livestream.openapi.document_owner_only_fields",
    ],
}

# Admin login lockout (accounts.login_lockout): failures per account and per
# client address within the window lock further attempts until it ends.
ADMIN_LOGIN_MAX_FAILURES_PER_ACCOUNT = env_int("ADMIN_LOGIN_MAX_FAILURES_PER_ACCOUNT", 5, minimum=1)
ADMIN_LOGIN_MAX_FAILURES_PER_ADDRESS = env_int(
    "ADMIN_LOGIN_MAX_FAILURES_PER_ADDRESS", 20, minimum=1
)
ADMIN_LOGIN_LOCKOUT_SECONDS = env_int("ADMIN_LOGIN_LOCKOUT_SECONDS", 900, minimum=1)

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env_int("JWT_ACCESS_MINUTES", 60, minimum=1)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env_int("JWT_REFRESH_DAYS", 7, minimum=1)),
    "LEEWAY": env_int("JWT_LEEWAY_SECONDS", 0),
    "ALGORITHM": "HS256",
    "SIGNING_KEY": SECRET_KEY,
    "UPDATE_LAST_LOGIN": False,
    # Each refresh answers a new refresh token and blacklists the one used, so a
    # stolen refresh token stops working at the next refresh of either holder;
    # logout and password changes blacklist them too (accounts.revocation).
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
}

# --- Operations: metrics, readiness, logs (livestream/ops.py, docs/architecture.md) ---
# /metrics answers these networks (client address as livestream.client_address
# sees it), or any request with "Authorization: Bearer <METRICS_TOKEN>".
METRICS_ALLOWED_NETWORKS = env_list("METRICS_ALLOWED_NETWORKS", ["127.0.0.1/32", "::1/128"])
for _network in METRICS_ALLOWED_NETWORKS:
    try:
        ipaddress.ip_network(_network, strict=False)
    except ValueError:
        raise ImproperlyConfigured(
            f"METRICS_ALLOWED_NETWORKS: {_network!r} is not a network"
        ) from None
METRICS_TOKEN = env_str("METRICS_TOKEN")
METRICS_TOP_STREAMS = env_int("METRICS_TOP_STREAMS", 10)
READINESS_TIMEOUT_MS = env_int("READINESS_TIMEOUT_MS", 1_000, minimum=1)
# "plain" lines, or "json": one object per line (livestream/log_format.py).
LOG_FORMAT = env_str("LOG_FORMAT", "plain")
if LOG_FORMAT not in ("plain", "json"):
    raise ImproperlyConfigured(f"LOG_FORMAT must be 'plain' or 'json', got {LOG_FORMAT!r}")
_JSON_LOGS = {"()": "livestream.log_format.JsonFormatter"}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": _JSON_LOGS
        if LOG_FORMAT == "json"
        else {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
        # NCSA lines (livestream.access_log)
        "access": _JSON_LOGS if LOG_FORMAT == "json" else {"format": "%(message)s"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain"},
        "access": {
            "class": "logging.StreamHandler",
            "formatter": "access",
            "stream": "ext://sys.stdout",
        },
        # Counts Redis and database errors as they are logged (livestream_backend_errors).
        "metrics": {"class": "livestream.metrics.BackendErrorCounter"},
    },
    "root": {"handlers": ["console", "metrics"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        "daphne": {"level": "WARNING"},
        "livestream.access": {"handlers": ["access"], "level": "INFO", "propagate": False},
    },
}
