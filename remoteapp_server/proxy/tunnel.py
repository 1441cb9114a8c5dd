"""A WebSocket after the upgrade: a plain byte pipe between the client and the container.

Once the container answered 101, frames are not decoded: bytes are copied both ways with
backpressure. Plain (non-TLS) client connections are handed from tornado to asyncio, so both
directions are protocol callbacks; TLS connections stay tornado streams.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from tornado import iostream

from .http1 import ParseError, ResponseParser

_CHUNK = 256 * 1024
#: hand plain (non-TLS) WebSocket client connections from tornado to asyncio after the upgrade
ADOPT_SOCKETS = True


class TunnelEnd(asyncio.Protocol):
    """One connection of a WebSocket tunnel, as an asyncio protocol.

    Until the tunnel is linked it keeps what arrives in ``pending`` (the container's answer,
    and whatever follows it); then every chunk goes straight to the other end's transport:
    one callback and one send per chunk, no stream objects, no task switches.
    """

    transport: asyncio.Transport | None = None
    peer: TunnelEnd | _StreamEnd | None = None
    lost = False
    _parser: ResponseParser | None = None
    _answer: asyncio.Future[ResponseParser] | None = None

    def __init__(self, tunnel: Tunnel):
        self.tunnel = tunnel
        self.pending = bytearray()
        self.body: list[bytes] = []  # of an answer other than 101
        self._body_size = 0
        self._max_body = 0

    # -- before the link: the answer to the upgrade request --
    async def answer(self, max_body: int) -> ResponseParser:
        """The container's answer: a 101 (its raw head and what followed stay in
        ``pending``, for the client), or another one, whole (its body in ``body``, at most
        ``max_body`` bytes). Raises ParseError or IncompleteReadError."""
        self._parser = ResponseParser("GET")
        self._answer = asyncio.get_running_loop().create_future()
        self._max_body = max_body
        if self.pending:
            self._feed(bytes(self.pending))
        if self.lost:
            self._ended()
        return await self._answer

    def _feed(self, data: bytes) -> None:
        answer, parser = self._answer, self._parser
        if answer is None or parser is None or answer.done():
            return
        try:
            pieces = parser.feed(data)
        except ParseError as exc:
            answer.set_exception(exc)
            return
        if pieces:
            self.body += pieces
            self._body_size += sum(map(len, pieces))
            if self._body_size > self._max_body:
                answer.set_exception(ParseError("the answer's body is too long"))
                return
        if parser.complete:
            answer.set_result(parser)

    def _ended(self) -> None:
        answer, parser = self._answer, self._parser
        if answer is None or parser is None or answer.done():
            return
        if parser.feed_eof():
            answer.set_result(parser)
        else:
            answer.set_exception(asyncio.IncompleteReadError(bytes(self.pending), None))

    def write(self, data: bytes) -> None:
        assert self.transport is not None
        self.transport.write(data)

    # -- asyncio protocol --
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        peer = self.peer
        if peer is not None:
            peer.write(data)
            self.tunnel.activity()
        else:
            self.pending += data
            self._feed(data)

    def eof_received(self) -> bool:
        return False  # close: a WebSocket has no use for half-closed connections

    def pause_writing(self) -> None:  # our send buffer is full: stop reading the other end
        if self.peer is not None:
            self.peer.pause_reading()

    def resume_writing(self) -> None:
        if self.peer is not None:
            self.peer.resume_reading()

    def pause_reading(self) -> None:
        if self.transport is not None:
            self.transport.pause_reading()

    def resume_reading(self) -> None:
        if self.transport is not None:
            self.transport.resume_reading()

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()  # after the bytes it still has to send

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self._ended()
        self.tunnel.end_lost()


class _StreamEnd:
    """The client end of a tunnel when it stays a tornado stream (TLS connections, which
    asyncio cannot adopt): a read loop, and writes with tornado's flow control."""

    lost = False

    def __init__(self, tunnel: Tunnel, stream: iostream.IOStream):
        self.tunnel = tunnel
        self.stream = stream
        self.peer: TunnelEnd | None = None
        self._may_read = asyncio.Event()
        self._may_read.set()
        self._pump: asyncio.Future[None] | None = None

    def start(self) -> None:
        self._pump = asyncio.ensure_future(self._read_loop())

    async def _read_loop(self) -> None:
        try:
            while True:
                data = await self.stream.read_bytes(_CHUNK, partial=True)
                assert self.peer is not None
                self.peer.write(data)
                self.tunnel.activity()
                await self._may_read.wait()
        except iostream.StreamClosedError:
            pass
        finally:
            self.lost = True
            self.tunnel.end_lost()

    def write(self, data: bytes) -> None:
        try:
            written = self.stream.write(data)
        except iostream.StreamClosedError:
            return
        if written.done():
            written.exception()  # retrieved: a failed write shows up as a closed stream
            return
        if self.peer is not None:  # the upstream waits until tornado sent it all
            self.peer.pause_reading()
        written.add_done_callback(self._written)

    def _written(self, written: asyncio.Future[None]) -> None:
        if written.exception() is None and self.peer is not None:
            self.peer.resume_reading()

    def pause_reading(self) -> None:
        self._may_read.clear()

    def resume_reading(self) -> None:
        self._may_read.set()

    def close(self) -> None:
        self.stream.close()
        if self._pump is not None:
            self._pump.cancel()


class Tunnel:
    """A WebSocket after the upgrade: the client's and the container's connections, bytes
    copied both ways until either side closes.

    A send buffer over its high-water mark pauses reading on the other side (backpressure);
    when one side closes, the other is closed once its pending bytes are out. Plain client
    connections are handed from tornado to asyncio, so both directions are protocol
    callbacks; TLS connections stay tornado streams.
    """

    def __init__(self, activity: Callable[[], None]):
        self.activity = activity
        self.upstream = TunnelEnd(self)
        self.client: TunnelEnd | _StreamEnd | None = None
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def connect_client(self, stream: iostream.IOStream) -> None:
        """Send the container's 101 (and what followed it) to the client, link both ends."""
        if ADOPT_SOCKETS and type(stream) is iostream.IOStream:
            # bytes tornado read past the request head (a client must wait for the 101, so
            # normally none), then the socket itself; tornado lets go of its own copy
            early = _buffered(stream)
            if stream.closed():  # the client is gone already
                self.closed.set_result(None)
                return
            sock = stream.socket.dup()
            stream.close()
            client: TunnelEnd | _StreamEnd = TunnelEnd(self)
            try:
                await asyncio.get_running_loop().connect_accepted_socket(lambda: client, sock)
            except BaseException:
                sock.close()
                raise
        else:
            early = b""
            client = _StreamEnd(self, stream)
        self.client = client
        client.write(bytes(self.upstream.pending))
        self.upstream.pending.clear()
        if early:
            self.upstream.write(early)
        client.peer, self.upstream.peer = self.upstream, client
        if isinstance(client, _StreamEnd):
            client.start()
        if self.upstream.lost or client.lost:
            self.end_lost()

    def end_lost(self) -> None:
        client, upstream = self.client, self.upstream
        if client is None:  # not linked yet: the handler sees it in the answer
            return
        if client.lost and upstream.lost:
            if not self.closed.done():
                self.closed.set_result(None)
        elif client.lost:
            upstream.close()
        else:
            client.close()

    def close(self) -> None:
        """Close both connections (also when the tunnel never got that far)."""
        self.upstream.close()
        if self.client is not None:
            self.client.close()


def _buffered(stream: iostream.IOStream) -> bytes:
    """What tornado has read from the client but not handed out, through public API only:
    a partial read that is done at once returns buffered (or at once readable) bytes; one
    that is not done found nothing and fails when the stream closes (tornado retrieves
    that exception itself)."""
    early = bytearray()
    try:
        while True:
            read = stream.read_bytes(_CHUNK, partial=True)
            if not read.done():
                return bytes(early)
            early += read.result()
    except iostream.StreamClosedError:
        return bytes(early)
