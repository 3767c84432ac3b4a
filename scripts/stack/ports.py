"""A free TCP port on the loopback, for the servers `make stack` and bench/ start.

Free when asked, not reserved: a server that then loses the port to another program
fails to start, and says so.
"""

from __future__ import annotations

import socket

from scripts.stack import StackError


def free_port(candidates: range | None = None) -> int:
    """A port nothing holds on 127.0.0.1: the first free one of `candidates`, or any."""
    for port in candidates if candidates is not None else (0,):  # 0: the kernel picks
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            port_number: int = sock.getsockname()[1]
            return port_number
    raise StackError(f"no free port in {candidates.start}..{candidates.stop - 1}")
