"""A TCP relay that can be cut: a stand-in for a database server that goes away.

The fault bench puts one between Identidock and the machine's shared PostgreSQL, which
other people use and which must not be stopped. `cut()` closes the listening socket
and resets every relayed connection, so to Identidock the server is gone (connections
drop, new ones are refused); `restore()` listens again on the same port. `freeze()`
stops passing bytes both ways but keeps every socket open and reads on (the client's
kernel sees its bytes acknowledged, nothing is reset): a server that stops answering;
`thaw()` passes on what was held back. asyncio, in a thread of its own; loopback only.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Coroutine
from typing import Any

HOST = "127.0.0.1"
CHUNK = 64 * 1024


class CuttableRelay:
    def __init__(self, target_port: int, port: int) -> None:
        self.target_port = target_port
        self.port = port
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="relay", daemon=True)
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.StreamWriter] = set()
        self.relayed = 0
        self.reset = 0
        self._flowing: asyncio.Event | None = None  # made in the loop's own thread

    def start(self) -> None:
        self._thread.start()
        self.restore()

    def restore(self) -> None:
        """Listen (again) on `port`."""
        self._call(self._listen())

    def cut(self) -> None:
        """Stop listening and reset every connection: the server is gone."""
        self._call(self._cut())

    def freeze(self) -> None:
        """Relay nothing either way; every socket stays open."""
        self._call(self._set_flowing(False))

    def thaw(self) -> None:
        self._call(self._set_flowing(True))

    async def _set_flowing(self, flowing: bool) -> None:
        event = self._flowing_event()
        event.set() if flowing else event.clear()

    def _flowing_event(self) -> asyncio.Event:
        if self._flowing is None:
            self._flowing = asyncio.Event()
            self._flowing.set()
        return self._flowing

    def close(self) -> None:
        self._call(self._shutdown())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    def _call(self, coroutine: Coroutine[Any, Any, None]) -> None:
        asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=10)

    async def _listen(self) -> None:
        if self._server is None:
            self._server = await asyncio.start_server(self._relay, HOST, self.port)

    async def _cut(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._connections):
            writer.transport.abort()  # RST, as a vanished host's kernel would answer
            self.reset += 1
        self._connections.clear()

    async def _shutdown(self) -> None:
        await self._cut()  # every relay's sockets reset: its pipes end by themselves
        tasks = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        if tasks:
            await asyncio.wait(tasks, timeout=2)

    async def _relay(
        self, client_reader: asyncio.StreamReader, client: asyncio.StreamWriter
    ) -> None:
        await self._flowing_event().wait()  # frozen: accepted, not passed on
        try:
            server_reader, server = await asyncio.open_connection(HOST, self.target_port)
        except OSError:
            client.transport.abort()
            return
        self.relayed += 1
        self._connections.update((client, server))
        await asyncio.gather(self._pipe(client_reader, server), self._pipe(server_reader, client))
        self._connections.difference_update((client, server))

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, asyncio.CancelledError):
            while data := await reader.read(CHUNK):
                await self._flowing_event().wait()  # frozen: held here, nobody told
                writer.write(data)
                await writer.drain()
        writer.close()  # this direction ended: pass the end on
