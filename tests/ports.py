"""Free TCP ports on 127.0.0.1 for the servers the tests start and the ones they do not:
the same helper `make stack` and bench/ use."""

from __future__ import annotations

from scripts.stack.ports import free_port

__all__ = ["free_port"]
