"""Avatar paths without the hash a client sent: for every log that writes a path.

A client's `/avatar/<md5 or sha256 of an email>` is reversible with a list of emails,
so no log keeps it: gunicorn's access log (`AccessLogger`, named in gunicorn.conf.py)
and the app's own log lines (`monsters.web.log_filters.RedactAvatarPaths`) write
`/avatar/<redacted>` instead, extension and query kept. The shipped nginx does the same
with a `map` of its own (docker/nginx/, deploy/k8s/base/proxy/). No Django here:
gunicorn's master imports this module.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from gunicorn.glogging import Logger  # type: ignore[import-untyped]

REDACTED = "<redacted>"
# Whatever follows `/avatar/` up to an extension, a slash, the query or the line's end:
# any case, percent-encoded or not, since a path is logged before it is routed.
_AVATAR_PATH = re.compile(r"(/avatar/)[^/?#.\s\"']+", re.IGNORECASE)


def redact(text: str) -> str:
    """`text` with every avatar path's hash replaced by `<redacted>`."""
    if "avatar/" not in text.lower():
        return text  # nearly every line: no regex
    return _AVATAR_PATH.sub(rf"\g<1>{REDACTED}", text)


class AccessLogger(Logger):
    """Gunicorn's logger, with the request line (`%(r)s`), the path (`%(U)s`) and the
    environ's copies of them (`%({raw_uri}e)s`, ...) redacted for an avatar path. Other
    requests' atoms are left alone, so a monster hit pays one substring check."""

    def atoms(
        self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any
    ) -> dict[str, Any]:
        atoms: dict[str, Any] = super().atoms(resp, req, environ, request_time)
        if (
            "avatar/" not in str(environ.get("RAW_URI", "")).lower()
            and "avatar/" not in str(environ.get("PATH_INFO", "")).lower()
        ):
            return atoms
        # Only the atoms the access-log format writes: gunicorn gives one for every
        # header and environ key, and redacting them all would cost an avatar hit more
        # than the rest of its answer.
        for name in _used_atoms(self.cfg.access_log_format):
            value = atoms.get(name)
            if isinstance(value, str):
                atoms[name] = redact(value)
        return atoms


@functools.cache
def _used_atoms(access_log_format: str) -> tuple[str, ...]:
    """The atom names a gunicorn access-log format uses (`%(r)s`, `%({referer}i)s`, ...),
    as gunicorn looks them up (lower-cased inside the braces)."""
    names = re.findall(r"%\(([^)]+)\)", access_log_format)
    return tuple(name.lower() if name.startswith("{") else name for name in names)
