"""Identidock settings: every value comes from the environment, read here once.

With nothing set, the service runs on embedded defaults (SQLite under var/, a
local-memory cache, the built-in renderer) so that one command starts it anywhere.
"""

from __future__ import annotations

import os
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import dj_database_url
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from identidock import env
from identidock.cache_config import monster_cache
from identidock.log_config import logging_config

BASE_DIR = Path(__file__).resolve().parent.parent


# The shared parsers (identidock/env.py: gunicorn.conf.py reads its settings with the
# same ones); a value they cannot take stops Django with ImproperlyConfigured, naming the
# variable and what it must be.
_env_bool = env.raising(ImproperlyConfigured, env.env_bool)
_env_str = env.raising(ImproperlyConfigured, env.env_str)
_env_list = env.raising(ImproperlyConfigured, env.env_list)
_env_int = env.raising(ImproperlyConfigured, env.env_int)
_env_float = env.raising(ImproperlyConfigured, env.env_float)
_env_addresses = env.raising(ImproperlyConfigured, env.env_addresses)


DEBUG = _env_bool("DEBUG")

SECRET_KEY = _env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "You must set SECRET_KEY (a long random string) when DEBUG is off."
        )
    SECRET_KEY = "insecure-development-key-do-not-use-in-production"  # noqa: S105

ALLOWED_HOSTS = _env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = _env_list("CSRF_TRUSTED_ORIGINS", "")
# The site's address as people reach it, e.g. https://identidock.example.com: the absolute
# URLs a monster's page shares start with it (monsters/web/public_url.py). Unset, they
# take the request's scheme and host name but not its port, which nothing checks
# (`check --deploy` warns: identidock.W004).
PUBLIC_BASE_URL = _env_str("PUBLIC_BASE_URL").rstrip("/")
if PUBLIC_BASE_URL and not re.fullmatch(r"https?://[^/?#@\s]+", PUBLIC_BASE_URL):
    raise ImproperlyConfigured(
        "PUBLIC_BASE_URL must be http:// or https:// and a host (and port), with no path, "
        f"e.g. https://identidock.example.com, not {PUBLIC_BASE_URL!r}."
    )

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "axes",
    "csp",
    "identidock.apps.IdentidockConfig",  # the deployment checks (identidock/checks.py)
    "monsters",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Methods, body types and sizes, before anything reads a body or a CSRF token.
    "monsters.web.middleware.RequestShapeMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "monsters.web.content_policy.ContentSecurityPolicyMiddleware",  # django-csp's, cheaper
    "axes.middleware.AxesMiddleware",  # last, as django-axes asks
]

# Admin logins: after ADMIN_LOGIN_FAILURE_LIMIT failures for one user name from one
# address, that pair is refused (429 with Retry-After) for ADMIN_LOGIN_COOLOFF_MINUTES,
# even with the right password; `manage.py axes_reset` (or axes_reset_username /
# axes_reset_ip) unlocks at once. The pair, not the name alone: otherwise anyone who
# knows a staff user name could lock that person out from anywhere.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = _env_int("ADMIN_LOGIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=_env_int("ADMIN_LOGIN_COOLOFF_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]  # axes' syntax for "both together"
AXES_LOCKOUT_CALLABLE = "monsters.web.lockout.locked_out"
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "monsters.guards.clients.client_address"

# A strict Content-Security-Policy: our own files only, no inline script or style.
# Images are exempt from it (a PNG runs nothing) and embeddable anywhere.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

# Bodies: the largest is an admin action's form; the name form is a few hundred bytes.
DATA_UPLOAD_MAX_MEMORY_SIZE = _env_int("REQUEST_BODY_MAX_BYTES", 16 * 1024, minimum=1024)

# Rate limits per client (the address the trusted proxy saw), shared by all processes
# through Redis. Renders (cache misses) cost; hits and 304s are never limited.
RATE_LIMIT_MISSES_PER_MINUTE = _env_int("RATE_LIMIT_MISSES_PER_MINUTE", 120, minimum=1)
RATE_LIMIT_MISS_BURST = _env_int("RATE_LIMIT_MISS_BURST", 30, minimum=1)
RATE_LIMIT_NAMES_PER_MINUTE = _env_int("RATE_LIMIT_NAMES_PER_MINUTE", 300, minimum=1)
RATE_LIMIT_NAME_BURST = _env_int("RATE_LIMIT_NAME_BURST", 60, minimum=1)
# And every client's names together: the form confirms a guessed name, and guessers
# spread over many addresses would each get a bucket of their own (docs/security.md).
RATE_LIMIT_NAMES_GLOBAL_PER_MINUTE = _env_int("RATE_LIMIT_NAMES_GLOBAL_PER_MINUTE", 600, minimum=1)
RATE_LIMIT_NAMES_GLOBAL_BURST = _env_int("RATE_LIMIT_NAMES_GLOBAL_BURST", 120, minimum=1)
# Proxies whose X-Forwarded-For is believed (as gunicorn's setting of the same name).
FORWARDED_ALLOW_IPS = _env_list("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")

ROOT_URLCONF = "identidock.urls"
WSGI_APPLICATION = "identidock.wsgi.application"

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

# Every wait is bounded: a dependency that is stuck costs a request at most its
# timeout, and after BREAKER_FAILURES failures in a row it is skipped (failing fast)
# for BREAKER_COOL_DOWN seconds, then probed by one request (monsters/guards/breaker.py).
BREAKER_FAILURES = _env_int("BREAKER_FAILURES", 3, minimum=1)
BREAKER_COOL_DOWN = _env_float("BREAKER_COOL_DOWN", 5.0, unit="seconds")

# A web miss's audit row is written behind the answer, with the rows of other misses
# that come in within this many milliseconds (its intent in Redis guards it meanwhile:
# monsters/audit/writer.py). 0 writes each row before the answer, as without Redis.
AUDIT_WRITE_BEHIND_MS = _env_int("AUDIT_WRITE_BEHIND_MS", 100)
# The longest an audit write may take, wherever it runs (the request's thread, the
# writer's): a row not written by then goes to the durable queue instead
# (monsters/guards/database.py). 0 lifts the bound (the suite, whose rows are written in
# the test's own transaction, and the migrate job).
AUDIT_WRITE_TIMEOUT_MS = _env_int("AUDIT_WRITE_TIMEOUT_MS", 1000)
# Rows the writer may hold in memory; beyond this, rows go straight to the durable queue.
# The same bound keeps the rows neither PostgreSQL nor Redis takes: sized for a double
# outage of a few dozen seconds at a process's miss rate (a row is about half a KB).
AUDIT_MAX_WAITING_ROWS = _env_int("AUDIT_MAX_WAITING_ROWS", 10_000, minimum=1)
# How many requests of a process may wait on the renderer at once (a bulkhead): a miss
# over the limit answers 503 at once, so a frozen renderer never takes every thread and
# hits and probes keep flowing. Below GUNICORN_THREADS, or the bulkhead holds nothing back.
RENDERER_MAX_WAITING = _env_int("RENDERER_MAX_WAITING", 3, minimum=1)

# How long one /readyz verdict serves every probe of a process (seconds).
READINESS_TTL = _env_float("READINESS_TTL", 1.5, unit="seconds")

# The audit log. PostgreSQL in production; a SQLite file when DATABASE_URL is unset.
DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{BASE_DIR / 'var' / 'identidock.sqlite3'}",
        conn_max_age=_env_int("DATABASE_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
# libpq counts whole seconds and treats anything below 2 as 2. A connect_timeout in
# DATABASE_URL's query string wins.
DATABASE_CONNECT_TIMEOUT = _env_int("DATABASE_CONNECT_TIMEOUT", 2, minimum=1)
# The longest a statement may run; 0 lifts the limit (the migrate job does, for index
# builds on a large log).
DATABASE_STATEMENT_TIMEOUT_MS = _env_int("DATABASE_STATEMENT_TIMEOUT_MS", 5000)
# The longest any one operation on PostgreSQL (a statement, a commit) may wait for its
# answer on the client's side, whatever the server does (monsters/guards/database.py):
# by default the statement timeout plus a second, so the server's own limit fires first.
DATABASE_CLIENT_TIMEOUT_MS = _env_int(
    "DATABASE_CLIENT_TIMEOUT_MS",
    DATABASE_STATEMENT_TIMEOUT_MS + 1000 if DATABASE_STATEMENT_TIMEOUT_MS else 0,
)
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    _options = DATABASES["default"].setdefault("OPTIONS", {})
    _options.setdefault("connect_timeout", DATABASE_CONNECT_TIMEOUT)
    # A dead network or host ends the connection within about 10 s of silence (TCP
    # keepalives) or of unacknowledged data (tcp_user_timeout, milliseconds). Neither
    # helps against a peer whose kernel still acknowledges: the client timeout does.
    _options.setdefault("keepalives", 1)
    _options.setdefault("keepalives_idle", 5)
    _options.setdefault("keepalives_interval", 2)
    _options.setdefault("keepalives_count", 3)
    _options.setdefault("tcp_user_timeout", 10_000)
    if DATABASE_STATEMENT_TIMEOUT_MS:
        _options["options"] = f"-c statement_timeout={DATABASE_STATEMENT_TIMEOUT_MS}"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# The monster cache: one Redis server at REDIS_URL, or the primary that Redis Sentinel
# names (REDIS_SENTINELS), or local memory when neither is set. An outage, a failover
# included, degrades to "no cache" (X-Cache: BYPASS) rather than to errors:
# monsters/guards/cache.py catches Redis's errors itself, behind a breaker, instead of
# django-redis's IGNORE_EXCEPTIONS, which would hide them. CACHE_KEY_PREFIX lets several
# deployments (or test runs) share one Redis database: `<prefix>:monster:v1:...`.
REDIS_URL = _env_str("REDIS_URL")
REDIS_CONNECT_TIMEOUT = _env_float("REDIS_CONNECT_TIMEOUT", 0.1, unit="seconds")
REDIS_TIMEOUT = _env_float("REDIS_TIMEOUT", 0.15, unit="seconds")
CACHE_KEY_PREFIX = _env_str("CACHE_KEY_PREFIX")
if not re.fullmatch(r"[A-Za-z0-9._-]{0,40}", CACHE_KEY_PREFIX):
    raise ImproperlyConfigured(
        "CACHE_KEY_PREFIX may hold at most 40 letters, digits, '.', '_' and '-'."
    )
REDIS_SENTINELS = _env_addresses("REDIS_SENTINELS")
# django-redis reads the name from a URL's host part, which it lower-cases.
REDIS_SENTINEL_SERVICE = _env_str("REDIS_SENTINEL_SERVICE", "mymaster")
if not re.fullmatch(r"[a-z0-9][a-z0-9._-]{0,62}", REDIS_SENTINEL_SERVICE):
    raise ImproperlyConfigured(
        "REDIS_SENTINEL_SERVICE must be the master's name in lower-case letters, digits,"
        f" '.', '-' and '_', not {REDIS_SENTINEL_SERVICE!r}."
    )
if REDIS_URL and REDIS_SENTINELS:
    raise ImproperlyConfigured(
        "REDIS_URL and REDIS_SENTINELS are both set: leave REDIS_URL empty to find Redis"
        " through Sentinel, or REDIS_SENTINELS empty to use the one server at REDIS_URL."
    )
CACHES: dict[str, dict[str, Any]] = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "monsters": monster_cache(
        redis_url=REDIS_URL,
        sentinels=REDIS_SENTINELS,
        sentinel_service=REDIS_SENTINEL_SERVICE,
        connect_timeout=REDIS_CONNECT_TIMEOUT,
        timeout=REDIS_TIMEOUT,
        key_prefix=CACHE_KEY_PREFIX,
    ),
}

# The renderer: a dnmonster-compatible HTTP service, or the built-in one when unset.
DNMONSTER_URL = _env_str("DNMONSTER_URL").rstrip("/")
DNMONSTER_CONNECT_TIMEOUT = _env_float("DNMONSTER_CONNECT_TIMEOUT", 1.0, unit="seconds")
DNMONSTER_READ_TIMEOUT = _env_float("DNMONSTER_READ_TIMEOUT", 5.0, unit="seconds")
# Which art the renderer at DNMONSTER_URL draws. It is part of the cache key and the
# ETag, so swapping renderers (ours, amouat/dnmonster) never serves the other's monsters.
DNMONSTER_REVISION = _env_str("DNMONSTER_REVISION")
if not re.fullmatch(r"[A-Za-z0-9._-]{0,40}", DNMONSTER_REVISION):
    raise ImproperlyConfigured(
        "DNMONSTER_REVISION may hold at most 40 letters, digits, '.', '_' and '-'."
    )

# How long a browser or CDN may keep an image fetched without `v=` (the original app's
# URL, other sites' embeds) before revalidating it by its ETag. Versioned URLs, the
# ones we emit, are immutable for a year.
MONSTER_MAX_AGE = _env_int("MONSTER_MAX_AGE", 24 * 60 * 60)

# Each web process keeps the most recently served monsters in memory too, up to this
# many megabytes (about 1,700 monsters of 80 px a megabyte), so a hit needs no network
# round trip. 0 turns the tier off.
MONSTER_PROCESS_CACHE_MB = _env_int("MONSTER_PROCESS_CACHE_MB", 8)

# The salt hashed with every name. Unset, it is the original app's public one: a name
# hashes exactly as it did there, and anyone can test a guessed name against a monster's
# URL, which `manage.py check --deploy` refuses (identidock.E001, identidock/checks.py;
# docker/cmd.sh runs it before gunicorn).
# Not stripped: any character of it changes every hash.
IDENTIDOCK_SALT = os.environ.get("IDENTIDOCK_SALT") or "UNIQUE_SALT"

# Avatars (docs/avatars.md): the style drawn when a request names none, and the hosts
# a `d=<URL>` default may redirect to (comma-separated; none: never an open redirect).
AVATAR_DEFAULT_STYLE = _env_str("AVATAR_DEFAULT_STYLE", "monster")
AVATAR_DEFAULT_URL_HOSTS = _env_list("AVATAR_DEFAULT_URL_HOSTS")

# System checks an operator silences on purpose, comma-separated: for instance
# `identidock.E001` to keep the original app's monsters with IDENTIDOCK_SALT=UNIQUE_SALT.
SILENCED_SYSTEM_CHECKS = _env_list("SILENCED_SYSTEM_CHECKS")

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
STATIC_ROOT: Path | None = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# Behind a TLS-terminating proxy: trust its X-Forwarded-Proto, redirect plain HTTP to
# HTTPS (not the probes, which the proxy's health checks send over plain HTTP), send
# cookies over HTTPS only, and tell browsers to come back over HTTPS alone (HSTS).
BEHIND_TLS_PROXY = _env_bool("BEHIND_TLS_PROXY")
if BEHIND_TLS_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = True
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = _env_int("HSTS_SECONDS", 365 * 24 * 60 * 60)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = _env_bool("HSTS_INCLUDE_SUBDOMAINS", default=True)
    SECURE_HSTS_PRELOAD = _env_bool("HSTS_PRELOAD", default=True)
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# A failed CSRF check is a one-line text 403 like every other error (Django's own is an
# HTML page with inline style, which our Content-Security-Policy blocks).
CSRF_FAILURE_VIEW = "monsters.web.errors.csrf_failure"

# Log lines carry the request's id (the proxy's X-Request-ID, or one of our own), as
# gunicorn's access log does. LOG_FORMAT=json writes one JSON object a line.
LOG_FORMAT = _env_str("LOG_FORMAT", "plain")
if LOG_FORMAT not in {"plain", "json"}:
    raise ImproperlyConfigured(f"LOG_FORMAT must be plain or json, not {LOG_FORMAT!r}.")
LOGGING = logging_config(
    log_format=LOG_FORMAT,
    level=_env_str("LOG_LEVEL", "INFO"),
    refused_host_interval=_env_float("REFUSED_HOST_LOG_SECONDS", 60.0, unit="seconds"),
)
