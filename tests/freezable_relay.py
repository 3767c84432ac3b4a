"""A TCP relay that can freeze: a stand-in for a database server that stops answering
while its kernel still holds the connections (a stopped VM, a partition behind a
stateful firewall, a server stuck on a disk).

`freeze()` stops passing bytes both ways but keeps every socket open: nothing is reset
or closed, connections to the relay's port are still accepted, and what a client sends
is still read into the relay's buffers (so its kernel sees every byte acknowledged).
Nothing on the client's side can tell the server from a slow one. `thaw()` passes on
everything held back, in order, and relays as before. One thread per direction per
connection; loopback only.
"""

from __future__ import annotations

import contextlib
import socket
import threading

HOST = "127.0.0.1"
CHUNK = 64 * 1024


class FreezableRelay:
    """Relays 127.0.0.1:`port` to 127.0.0.1:`target_port` until `close()`."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self._listener = socket.create_server((HOST, 0), backlog=128)
        self.port: int = self._listener.getsockname()[1]
        self._flowing = threading.Event()
        self._flowing.set()
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._closed = False
        threading.Thread(target=self._accept, name="relay-accept", daemon=True).start()

    def freeze(self) -> None:
        """Stop relaying both ways; every socket stays open."""
        self._flowing.clear()

    def thaw(self) -> None:
        """Relay again, what was held back first."""
        self._flowing.set()

    def close(self) -> None:
        self._closed = True
        self._flowing.set()
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for sock in [self._listener, *sockets]:
            with contextlib.suppress(OSError):
                sock.close()

    def __enter__(self) -> FreezableRelay:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            # Accepted even while frozen, as a stopped server's kernel would; the
            # server side is reached once the relay flows again.
            threading.Thread(target=self._open, args=(client,), daemon=True).start()

    def _open(self, client: socket.socket) -> None:
        self._flowing.wait()
        try:
            server = socket.create_connection((HOST, self.target_port), timeout=10)
        except OSError:
            client.close()
            return
        server.settimeout(None)
        with self._lock:
            self._sockets += [client, server]
        for source, sink in ((client, server), (server, client)):
            threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(CHUNK):
                self._flowing.wait()  # frozen: the bytes wait here, nobody is told
                sink.sendall(data)
        except OSError:
            pass  # the other direction or close() ended this connection
        finally:
            with contextlib.suppress(OSError):
                sink.shutdown(socket.SHUT_WR)
