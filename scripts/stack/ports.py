"""A free TCP port on the loopback, for the servers `make stack` and bench/ start.

Free when asked, not reserved: a server that then loses the port to another program
fails to start, and says so.
"""

from __future__ import annotations

import socket

from scripts.stack import StackError


def free_port(candidates: range | None = None) -> int:
    """A port nothing holds on 127.0.0.1: the first free one of `candidates`, or any."""
    if candidates is None:
        return _bind(0)  # the kernel picks one
    for port in candidates:
        try:
            return _bind(port)
        except OSError:
            continue
    raise StackError(f"no free port in {candidates.start}..{candidates.stop - 1}")


def _bind(port: int) -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))
        bound: int = sock.getsockname()[1]
        return bound
