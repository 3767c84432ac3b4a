"""A server that hangs: it accepts connections and never answers (a stuck Redis or
PostgreSQL)."""

from __future__ import annotations

import socket
import threading


class StuckListener:
    """A TCP server on 127.0.0.1 that accepts connections and never answers; `accepted`
    holds each connection it took."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0), backlog=64)
        self.port = self.sock.getsockname()[1]
        self.accepted: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted.append(conn)

    def close(self) -> None:
        for conn in self.accepted:
            conn.close()
        self.sock.close()
