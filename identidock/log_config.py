"""Django's LOGGING, built from settings already read (settings.py reads the
environment). Log lines carry the request's id (the proxy's X-Request-ID, or one of our
own), as gunicorn's access log does; `log_format` "json" writes one JSON object a line."""

from __future__ import annotations

from typing import Any


def logging_config(*, log_format: str, level: str, refused_host_interval: float) -> dict[str, Any]:
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {
            "request_id": {"()": "monsters.web.request_context.RequestIdFilter"},
            "not_an_expected_outage": {
                "()": "django.utils.log.CallbackFilter",
                "callback": "ext://monsters.web.log_filters.not_an_expected_outage",
            },
            "redact_avatar_paths": {"()": "monsters.web.log_filters.RedactAvatarPaths"},
            "refused_hosts": {
                "()": "monsters.web.log_filters.RefusedHosts",
                "interval": refused_host_interval,
            },
        },
        "formatters": {
            "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
            "json": {
                "()": "pythonjsonlogger.json.JsonFormatter",
                "fmt": "%(asctime)s %(levelname)s %(name)s %(request_id)s %(message)s",
                "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
            },
        },
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": log_format,
                "filters": ["request_id", "redact_avatar_paths"],
            },
        },
        "root": {"handlers": ["console"], "level": "WARNING"},
        "loggers": {
            "django.request": {"filters": ["not_an_expected_outage"]},
            # A Host outside ALLOWED_HOSTS: one short line a minute, not a traceback each.
            "django.security.DisallowedHost": {"filters": ["refused_hosts"]},
            # Its "Retrying ..." line per connection retry to a dead renderer repeats what
            # the renderer's breaker says once.
            "urllib3.connectionpool": {"level": "ERROR"},
            "monsters": {
                "handlers": ["console"],
                "level": level,
                "propagate": False,
            },
        },
    }
