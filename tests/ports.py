"""Free TCP ports on 127.0.0.1, for the servers the tests start and the ones they do not."""

from __future__ import annotations

import socket


def free_port() -> int:
    """A port where nothing listens now: a server may bind it, a client is refused there."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
