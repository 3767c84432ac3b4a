"""Environment variables parsed into settings: the one set of parsers.

identidock/settings.py and gunicorn.conf.py both read their settings with these, so a
value means the same to Django and to gunicorn. No Django here: gunicorn's master
imports this before any application is loaded.

A parser returns the default when the variable is unset or empty (compose passes
`${NAME:-}` for a setting the operator leaves alone), and raises EnvValueError, which
names the variable and says what it must be, for a value it cannot take. Each reader
reports that error its own way: `raising` turns it into Django's ImproperlyConfigured
or into gunicorn's one-line exit.
"""

from __future__ import annotations

import functools
import math
import os
import re
from collections.abc import Callable
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")

TRUE = frozenset({"1", "true", "yes", "on"})
FALSE = frozenset({"0", "false", "no", "off"})
_WHOLE_NUMBER = re.compile(r"[0-9]+")  # str.isdigit() also takes '²', which int() refuses


class EnvValueError(ValueError):
    """An environment variable holds a value its setting cannot take."""


def raising(error: Callable[[str], BaseException], parse: Callable[P, T]) -> Callable[P, T]:
    """`parse`, reporting a bad value as `error(message)` instead of EnvValueError."""

    @functools.wraps(parse)
    def parse_or_raise(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return parse(*args, **kwargs)
        except EnvValueError as exc:
            raise error(str(exc)) from None

    return parse_or_raise


def env_str(name: str, default: str = "") -> str:
    """The variable's value, stripped; `default` when unset or empty."""
    return os.environ.get(name, "").strip() or default


def env_bool(name: str, default: bool = False) -> bool:
    """true/false, yes/no, on/off or 1/0, in any case."""
    value = env_str(name).lower()
    if not value:
        return default
    if value in TRUE:
        return True
    if value in FALSE:
        return False
    raise EnvValueError(f"{name} must be true or false (or on/off, yes/no, 1/0), not {value!r}.")


def env_list(name: str, default: str = "") -> list[str]:
    """Comma-separated items, each stripped; empty items dropped."""
    return [item.strip() for item in env_str(name, default).split(",") if item.strip()]


def env_int(name: str, default: int, *, minimum: int = 0) -> int:
    """A whole number (digits only, so never negative) of at least `minimum`."""
    value = env_str(name)
    if not value:
        return default
    if not _WHOLE_NUMBER.fullmatch(value) or int(value) < minimum:
        raise EnvValueError(f"{name} must be a whole number of at least {minimum}, not {value!r}.")
    return int(value)


def env_float(name: str, default: float, *, minimum: float = 0.0, unit: str = "") -> float:
    """A finite number of at least `minimum` (never NaN or an infinity); `unit`, such as
    "seconds", only words the error."""
    value = env_str(name)
    if not value:
        return default
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if not math.isfinite(number) or number < minimum:
        what = f"a number of {unit}" if unit else "a number"
        raise EnvValueError(f"{name} must be {what}, at least {minimum:g}, not {value!r}.")
    return number


def env_addresses(name: str) -> list[tuple[str, int]]:
    """Comma-separated `host:port` pairs (`[::1]:26379` for IPv6) -> [(host, port)]."""
    addresses = []
    for item in env_list(name):
        host, _, port = item.rpartition(":")
        host = host.removeprefix("[").removesuffix("]")
        if not host or not _WHOLE_NUMBER.fullmatch(port) or not 0 < int(port) < 65536:
            raise EnvValueError(
                f"{name} must list host:port pairs separated by commas, not {item!r}."
            )
        addresses.append((host, int(port)))
    return addresses
