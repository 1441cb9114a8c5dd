"""A request body on its way from tornado to the upstream exchange."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator


class BodyPipe:
    """Hands a request body from tornado to the upstream exchange, chunk by chunk.

    ``write`` waits (and with it tornado's reading from the client) while a few chunks are
    queued, so an upload never piles up in memory.
    """

    def __init__(self) -> None:
        self._queue: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=4)
        self._discarding = False
        self._aborted = False

    async def write(self, chunk: bytes | None) -> None:
        """Queue a chunk; ``None`` ends the body."""
        if not self._discarding:
            await self._queue.put(chunk)

    def discard(self) -> None:
        """The upstream reads no more: drop what waits and whatever comes."""
        self._discarding = True
        while not self._queue.empty():
            self._queue.get_nowait()

    def abort(self) -> None:
        """The client went away: fail the upload, so the upstream does not take it as complete."""
        self.discard()
        self._aborted = True
        self._queue.put_nowait(None)

    async def chunks(self) -> AsyncIterator[bytes]:
        while (chunk := await self._queue.get()) is not None:
            yield chunk
        if self._aborted:
            raise ConnectionResetError("the client went away during the upload")
