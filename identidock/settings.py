"""Identidock settings: every value comes from the environment, read here once.

With nothing set, the service runs on embedded defaults (SQLite under var/, a
local-memory cache, the built-in renderer) so that one command starts it anywhere.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def _env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name, "").strip().lower()
    if not value:
        return default
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {value!r}.")


def _env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def _env_float(name: str, default: float) -> float:
    value = os.environ.get(name, "")
    try:
        return float(value) if value else default
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number of seconds, not {value!r}.") from None


DEBUG = _env_bool("DEBUG")

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "You must set SECRET_KEY (a long random string) when DEBUG is off."
        )
    SECRET_KEY = "insecure-development-key-do-not-use-in-production"  # noqa: S105

ALLOWED_HOSTS = _env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = _env_list("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "monsters",
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
]

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

# The audit log. PostgreSQL in production; a SQLite file when DATABASE_URL is unset.
DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{BASE_DIR / 'var' / 'identidock.sqlite3'}",
        conn_max_age=int(os.environ.get("DATABASE_CONN_MAX_AGE", "60")),
        conn_health_checks=True,
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# The monster cache. Redis when REDIS_URL is set; an outage degrades to "no cache",
# logged, rather than to errors. Local memory when unset. CACHE_KEY_PREFIX lets several
# deployments (or test runs) share one Redis database: `<prefix>:monster:v1:...`.
REDIS_URL = os.environ.get("REDIS_URL", "")
CACHE_KEY_PREFIX = os.environ.get("CACHE_KEY_PREFIX", "").strip()
if not re.fullmatch(r"[A-Za-z0-9._-]{0,40}", CACHE_KEY_PREFIX):
    raise ImproperlyConfigured(
        "CACHE_KEY_PREFIX may hold at most 40 letters, digits, '.', '_' and '-'."
    )
if REDIS_URL:
    _monster_cache = {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": REDIS_URL,
        "TIMEOUT": None,  # no expiry: Redis evicts least-recently-used entries
        "KEY_PREFIX": CACHE_KEY_PREFIX,
        "KEY_FUNCTION": "monsters.cache.make_key",
        "OPTIONS": {
            "CLIENT_CLASS": "django_redis.client.DefaultClient",
            "SOCKET_CONNECT_TIMEOUT": 1,
            "SOCKET_TIMEOUT": 1,
            "IGNORE_EXCEPTIONS": True,
        },
    }
else:
    _monster_cache = {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": "identidock-monsters",
        "TIMEOUT": None,
        "KEY_PREFIX": CACHE_KEY_PREFIX,
        "KEY_FUNCTION": "monsters.cache.make_key",
        "OPTIONS": {"MAX_ENTRIES": 10_000},
    }
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "monsters": _monster_cache,
}
DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True

# The renderer: a dnmonster-compatible HTTP service, or the built-in one when unset.
DNMONSTER_URL = os.environ.get("DNMONSTER_URL", "").rstrip("/")
DNMONSTER_CONNECT_TIMEOUT = _env_float("DNMONSTER_CONNECT_TIMEOUT", 1.0)
DNMONSTER_READ_TIMEOUT = _env_float("DNMONSTER_READ_TIMEOUT", 5.0)
# Which art the renderer at DNMONSTER_URL draws. It is part of the cache key and the
# ETag, so swapping renderers (ours, amouat/dnmonster) never serves the other's monsters.
DNMONSTER_REVISION = os.environ.get("DNMONSTER_REVISION", "").strip()
if not re.fullmatch(r"[A-Za-z0-9._-]{0,40}", DNMONSTER_REVISION):
    raise ImproperlyConfigured(
        "DNMONSTER_REVISION may hold at most 40 letters, digits, '.', '_' and '-'."
    )

# The original app's salt, so a name hashes exactly as it did there.
IDENTIDOCK_SALT = os.environ.get("IDENTIDOCK_SALT", "UNIQUE_SALT")

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

# Behind a TLS-terminating load balancer, set SECURE_PROXY_SSL_HEADER via this flag.
if _env_bool("BEHIND_TLS_PROXY"):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain"},
    },
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {
        "monsters": {
            "handlers": ["console"],
            "level": os.environ.get("LOG_LEVEL", "INFO"),
            "propagate": False,
        },
    },
}
