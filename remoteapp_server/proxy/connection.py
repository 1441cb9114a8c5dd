"""One pooled TCP connection of the upstream client (:mod:`.upstream`), as an asyncio protocol."""

from __future__ import annotations

import asyncio
import collections

_READ_HIGH = 1024 * 1024  # buffered body bytes at which reading from the upstream pauses
_JOIN_MAX = 256 * 1024  # smaller buffered pieces are handed on together


class Connection(asyncio.Protocol):
    """One TCP connection to an upstream: buffers what arrives, wakes whoever waits for it.

    What arrives is kept as the ``bytes`` the transport read (no copying into one buffer):
    a download moves from socket to socket as the same objects.
    """

    transport: asyncio.Transport
    reused = False
    idle_since = 0.0

    def __init__(self) -> None:
        self.chunks: collections.deque[bytes] = collections.deque()
        self.size = 0  # bytes in chunks
        self.eof = False  # the upstream closed (or the connection broke: then ``error``)
        self.error: BaseException | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._drain: asyncio.Future[None] | None = None
        self._reading_paused = False
        self._writing_paused = False

    # -- asyncio protocol --
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.chunks.append(data)
        self.size += len(data)
        if self.size >= _READ_HIGH and not self._reading_paused:
            self._reading_paused = True
            self.transport.pause_reading()
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def eof_received(self) -> bool:
        self.eof = True
        self._wake()
        return False  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        self.eof = True
        if exc is not None and self.error is None:
            self.error = exc
        self._wake()
        drain = self._drain
        if drain is not None and not drain.done():
            drain.set_exception(exc or ConnectionResetError("the upstream closed the connection"))
            drain.exception()  # retrieved: the sender sees it, or nobody waits any more

    def pause_writing(self) -> None:
        self._writing_paused = True

    def resume_writing(self) -> None:
        self._writing_paused = False
        drain = self._drain
        if drain is not None and not drain.done():
            drain.set_result(None)

    # -- for the exchange --
    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def wait_data(self) -> None:
        """Until more bytes arrived or the connection ended."""
        if self._reading_paused:  # the reader takes what is buffered: let more in
            self._reading_paused = False
            self.transport.resume_reading()
        self._waiter = asyncio.get_running_loop().create_future()
        try:
            await self._waiter
        finally:
            self._waiter = None

    def take(self) -> bytes:
        """What arrived: the oldest piece if that is big, else all that is here."""
        chunks = self.chunks
        if len(chunks) == 1 or len(chunks[0]) >= _JOIN_MAX:
            data = chunks.popleft()
        elif self.size <= _JOIN_MAX:
            data = b"".join(chunks)
            chunks.clear()
        else:
            data = chunks.popleft()
            while chunks and len(data) + len(chunks[0]) <= _JOIN_MAX:
                data += chunks.popleft()
        self.size -= len(data)
        if self._reading_paused and self.size < _READ_HIGH:
            self._reading_paused = False
            self.transport.resume_reading()
        return data

    def take_all(self) -> bytes:
        data = self.chunks.popleft() if len(self.chunks) == 1 else b"".join(self.chunks)
        self.chunks.clear()
        self.size = 0
        return data  # the reader waits for more, or gives it back: see wait_data

    def unread(self, data: bytes) -> None:
        """Give back what the reader took but did not use."""
        if data:
            self.chunks.appendleft(data)
            self.size += len(data)

    async def drain(self) -> None:
        if self.eof:
            raise self.error or ConnectionResetError("the upstream closed the connection")
        if self._writing_paused:
            self._drain = asyncio.get_running_loop().create_future()
            try:
                await self._drain
            finally:
                self._drain = None

    @property
    def usable(self) -> bool:
        return not self.eof and not self.chunks and not self.transport.is_closing()

    def close(self) -> None:
        self.transport.close()

    def abort(self) -> None:
        self.transport.abort()
