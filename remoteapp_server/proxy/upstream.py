"""The proxy's HTTP/1.1 client to the containers: pooled keep-alive connections, streamed bodies.

Just what a reverse proxy needs and no more, on plain asyncio protocols: a request goes out
as written (method, raw target, the client's headers in their order and case), the answer's
head is parsed into a raw header list, and the body is handed over as it arrives, with its
framing (Content-Length, chunked, or until the upstream closes) removed: both by
:class:`.http1.ResponseParser` (llhttp). No cookie jar, no
redirects, no decompression, no automatic headers beyond ``Host`` when the client sent none.

Compared with a general client (aiohttp) a proxied request costs about half the CPU, which is
most of the proxy's own work when the upstream closes every connection (busybox httpd): every
request then pays for a new connection.
"""

from __future__ import annotations

import asyncio
import collections
import errno
import ipaddress
import os
import socket
import sys
import time
from collections.abc import AsyncIterator, Awaitable
from typing import TypeVar
from urllib.parse import urlsplit

from .cache import TTLCache
from .connection import Connection
from .http1 import ParseError, ResponseParser

T = TypeVar("T")

_IDEMPOTENT = frozenset(("GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"))
_TCP_INFO = getattr(socket, "TCP_INFO", None)  # Linux
_CONNECTED = (1, 8)  # tcp_info.tcpi_state (its first byte): ESTABLISHED, CLOSE_WAIT


class UpstreamError(Exception):
    """The upstream's answer is not HTTP/1.x, or it hung up before answering / mid-body."""


def _wake(waiter: asyncio.Future[None]) -> bool:
    if waiter.done():  # timed out, or its request went away
        return False
    waiter.set_result(None)
    return True


class _HostPool:
    """The connections to one upstream (host, port): idle ones, and a limit on all."""

    def __init__(self, host: str, limit: int) -> None:
        self.idle: list[Connection] = []
        self.slots = asyncio.Semaphore(limit)
        self.sweep: asyncio.TimerHandle | None = None
        self.unanswered = 0  # new connections whose answer has not begun
        self.paced: collections.deque[asyncio.Future[None]] = collections.deque()
        try:
            self.ipv4 = ipaddress.ip_address(host).version == 4
        except ValueError:  # a name: the event loop resolves it
            self.ipv4 = False


class UpstreamClient:
    """Keep-alive connections to the containers, at most ``limit_per_host`` per container;
    idle ones are closed after ``keepalive_timeout`` seconds.

    New connections are paced: while ``pace`` new connections to an upstream wait for the
    beginning of their answer, another one waits until one of them is answered, at most
    ``pace_wait`` seconds. A server that forks per connection and listens with a short
    backlog (busybox httpd: 9) otherwise drops connections from a burst, which then stall
    for a second (the kernel's retransmission timer) — in a load test, the 99th
    percentile; a long-polling app only sees new requests up to ``pace_wait`` later.
    """

    def __init__(
        self,
        connect_timeout: float = 10.0,
        limit_per_host: int = 100,
        keepalive_timeout: float = 60.0,
        pace: int = 8,
        pace_wait: float = 0.025,
    ) -> None:
        self.connect_timeout = connect_timeout
        self.limit_per_host = limit_per_host
        self.keepalive_timeout = keepalive_timeout
        self.pace = pace
        self.pace_wait = pace_wait
        self._pools: dict[tuple[str, int], _HostPool] = {}
        self.closed = False

    def exchange(self, host: str, port: int) -> Exchange:
        """One request and its answer, to be sent with :meth:`Exchange.send`."""
        if self.closed:
            raise RuntimeError("the upstream client is closed")
        pool = self._pools.get((host, port))
        if pool is None:
            pool = self._pools[host, port] = _HostPool(host, self.limit_per_host)
        return Exchange(self, pool, host, port)

    async def _connection(
        self, pool: _HostPool, host: str, port: int, head: bytes, exchange: Exchange
    ) -> Connection:
        """A pooled connection, or a new one; either way with ``head`` sent."""
        if exchange._ended:
            raise ConnectionAbortedError("the exchange was closed")
        idle = pool.idle
        while idle:
            connection = idle.pop()
            if connection.usable:
                connection.reused = True
                connection.transport.write(head)
                return connection
            connection.close()
        if pool.unanswered >= self.pace:
            await self._wait_for_pace(pool)
        pool.unanswered += 1
        exchange._unanswered = True
        sock = await self._connect(pool, host, port)
        try:
            if exchange._ended:  # closed meanwhile: the client went away
                raise ConnectionAbortedError("the exchange was closed")
            # the request goes out at once, and the upstream works on it while the event loop
            # wraps the socket in a transport
            try:
                sent = sock.send(head)
            except (BlockingIOError, InterruptedError):
                sent = 0
            _, connection = await asyncio.get_running_loop().create_connection(
                Connection, sock=sock
            )
        except BaseException:
            sock.close()
            raise
        if sent < len(head):
            connection.transport.write(head[sent:])
        return connection

    async def _wait_for_pace(self, pool: _HostPool) -> None:
        loop = asyncio.get_running_loop()
        waiter = loop.create_future()
        pool.paced.append(waiter)
        timer = loop.call_later(self.pace_wait, _wake, waiter)
        try:
            await waiter
        finally:
            timer.cancel()

    async def _connect(self, pool: _HostPool, host: str, port: int) -> socket.socket:
        """A connected socket: on loopback the handshake is done by the time connect()
        returns, so only an unfinished one is waited for (timed); this spares the selector
        registration and an event loop round of every new connection."""
        loop = asyncio.get_running_loop()
        if pool.ipv4:
            addresses = [(socket.AF_INET, (host, port))]
        else:
            found = await self._timed(loop.getaddrinfo(host, port, type=socket.SOCK_STREAM))
            addresses = [(family, address) for family, _, _, _, address in found]
        problem: OSError = OSError(f"no address for {host}")
        for family, address in addresses:
            sock = socket.socket(family, socket.SOCK_STREAM)
            try:
                sock.setblocking(False)
                error = sock.connect_ex(address)
                if error == errno.EINPROGRESS:
                    if _TCP_INFO is None or (
                        sock.getsockopt(socket.IPPROTO_TCP, _TCP_INFO, 1)[0] not in _CONNECTED
                    ):
                        await self._timed(loop.sock_connect(sock, address))
                elif error:
                    raise OSError(error, os.strerror(error))
                return sock
            except OSError as exc:  # the next address, if any
                sock.close()
                problem = exc
            except BaseException:
                sock.close()
                raise
        raise problem

    async def _timed(self, connect: Awaitable[T]) -> T:
        if sys.version_info >= (3, 11):
            async with asyncio.timeout(self.connect_timeout):
                return await connect
        return await asyncio.wait_for(connect, self.connect_timeout)  # pragma: no cover

    def _keep(self, pool: _HostPool, connection: Connection) -> None:
        if self.closed:
            connection.close()
            return
        connection.idle_since = time.monotonic()
        pool.idle.append(connection)
        if pool.sweep is None:
            loop = asyncio.get_running_loop()
            pool.sweep = loop.call_later(self.keepalive_timeout, self._sweep, pool)

    def _sweep(self, pool: _HostPool) -> None:
        """Close the connections idle for longer than the keep-alive timeout."""
        pool.sweep = None
        limit = time.monotonic() - self.keepalive_timeout
        kept = []
        for connection in pool.idle:
            if connection.idle_since > limit and connection.usable:
                kept.append(connection)
            else:
                connection.close()
        pool.idle[:] = kept
        if kept:
            wait = kept[0].idle_since - limit
            pool.sweep = asyncio.get_running_loop().call_later(wait, self._sweep, pool)

    async def close(self) -> None:
        """Close every idle connection; exchanges in flight close theirs when they end."""
        self.closed = True
        for pool in self._pools.values():
            if pool.sweep is not None:
                pool.sweep.cancel()
            for connection in pool.idle:
                connection.close()
            pool.idle.clear()
        self._pools.clear()


class Exchange:
    """One request to an upstream and its answer.

    ``await send(...)`` returns once the answer's head is in (``status``, ``reason``,
    ``headers``) while a request body may still be on its way; then ``read_now()`` and
    ``await read()`` give the body (``b""`` and ``done`` at its end). ``release()`` hands a
    connection that can carry another request back to the pool and closes any other;
    ``close()`` closes it (and stops a download or upload) at any time.
    """

    status = 0
    reason = ""
    headers: list[tuple[str, str]]
    done = False  # the whole body was read
    body_sent = True  # the whole request body went out
    _connection: Connection | None = None
    _sender: asyncio.Task[None] | None = None
    _ended = False
    _parser: ResponseParser | None = None
    _pending: list[bytes] = []  # body pieces that came with the head
    _unanswered = False  # a new connection counted in the pool's pace

    def __init__(self, client: UpstreamClient, pool: _HostPool, host: str, port: int) -> None:
        self._client, self._pool, self._host, self._port = client, pool, host, port
        self._slot = False

    # -- the request --------------------------------------------------------------------------

    async def send(
        self,
        method: str,
        target: str,
        headers: list[tuple[str, str]],
        body: AsyncIterator[bytes] | None = None,
        chunked: bool = False,
    ) -> Exchange:
        """Send the request head (and start streaming ``body``, chunk-encoded with
        ``chunked``: the headers then must carry no Content-Length); wait for the answer's
        head. Raises ``OSError``/``TimeoutError`` when the upstream cannot be reached and
        :class:`UpstreamError` when it does not answer in HTTP/1.x."""
        lines = [f"{method} {target} HTTP/1.1"]
        has_host = False
        for name, value in headers:
            lines.append(f"{name}: {value}")
            if not has_host and len(name) == 4 and name.lower() == "host":
                has_host = True
        if not has_host:
            lines.append(f"Host: {self._host}:{self._port}")
        if chunked:
            lines.append("Transfer-Encoding: chunked")
        lines += ("", "")
        head = "\r\n".join(lines).encode("latin-1")
        self._method = method
        retry = body is None and method in _IDEMPOTENT
        await self._pool.slots.acquire()
        self._slot = True
        try:
            while True:
                connection = await self._client._connection(
                    self._pool, self._host, self._port, head, self
                )
                if self._ended:  # closed meanwhile: the client went away
                    connection.close()
                    raise ConnectionAbortedError("the exchange was closed")
                self._connection = connection
                if body is not None:
                    self.body_sent = False
                    self._sender = asyncio.ensure_future(self._send_body(body, chunked))
                try:
                    await self._read_head()
                    self._answered()
                    return self
                except UpstreamError:
                    self._answered()
                    # a pooled connection the upstream closed just before our request: once
                    # more on a new one, when sending it twice cannot do harm
                    if (
                        retry
                        and not self._ended
                        and connection.reused
                        and connection.eof
                        and not connection.chunks
                    ):
                        retry = False
                        connection.close()
                        self._connection = None
                        continue
                    raise
        except BaseException:
            self.close()
            raise

    async def _send_body(self, body: AsyncIterator[bytes], chunked: bool) -> None:
        connection = self._connection
        assert connection is not None
        try:
            async for chunk in body:
                if not chunk:
                    continue
                if chunked:
                    connection.transport.writelines((b"%x\r\n" % len(chunk), chunk, b"\r\n"))
                else:
                    connection.transport.write(chunk)
                await connection.drain()
            if chunked:
                connection.transport.write(b"0\r\n\r\n")
            self.body_sent = True
        except Exception:
            # an incomplete upload must not look complete: the upstream sees the connection
            # break off (also when the upstream itself went away: then nothing is lost)
            connection.abort()

    # -- the answer ---------------------------------------------------------------------------

    async def _read_head(self) -> None:
        connection = self._connection
        assert connection is not None
        parser = self._parser = ResponseParser(self._method)
        while True:
            if connection.chunks:
                try:
                    pieces = parser.feed(connection.take_all())
                except ParseError as exc:
                    raise UpstreamError(str(exc)) from None
                if parser.head:
                    self.status, self.reason, self.headers = (
                        parser.status,
                        parser.reason,
                        parser.headers,
                    )
                    self._pending = pieces
                    self.done = parser.complete and not pieces
                    return
            if connection.eof:
                if connection.error is not None:
                    raise UpstreamError(f"the connection broke: {connection.error}")
                raise UpstreamError("closed the connection without an answer")
            await connection.wait_data()

    def read_now(self) -> bytes:
        """The body bytes that are already here (``done`` tells whether that was all)."""
        parser = self._parser
        if parser is None or self.done:
            return b""
        pieces = self._pending
        if pieces:
            self._pending = []
        else:
            connection = self._connection
            if parser.complete or connection is None or not connection.chunks:
                self.done = parser.complete
                return b""
            try:
                pieces = parser.feed(connection.take())
            except ParseError as exc:
                raise UpstreamError(str(exc)) from None
        self.done = parser.complete and not self._pending
        if len(pieces) == 1:
            return pieces[0]
        return b"".join(pieces)

    async def read(self) -> bytes:
        """The next part of the body; ``b""`` at its end. Raises :class:`UpstreamError` when
        the upstream breaks off before the end."""
        while True:
            data = self.read_now()
            if data or self.done:
                return data
            connection = self._connection
            if connection is None or self._parser is None:
                raise UpstreamError("the exchange was closed")
            if connection.chunks:  # what was taken held no body bytes (chunk sizes)
                continue
            if connection.eof:  # and what is buffered is no complete part of the body
                if connection.error is not None:
                    raise UpstreamError(f"the connection broke: {connection.error}")
                if self._parser.feed_eof():  # a body until the upstream closes
                    self.done = True
                    return b""
                raise UpstreamError("closed the connection before the end of the body")
            await connection.wait_data()

    # -- the end ------------------------------------------------------------------------------

    def release(self) -> None:
        """Back to the pool if the connection can carry another request, else closed."""
        connection = self._connection
        if (
            connection is not None
            and not self._ended
            and self.done
            and self.body_sent
            and self._parser is not None
            and self._parser.reusable
            and connection.usable
        ):
            self._connection = None
            self._end()
            self._client._keep(self._pool, connection)
        else:
            self.close()

    def close(self) -> None:
        """Close the connection (an unfinished download or upload stops)."""
        connection = self._connection
        self._connection = None
        if connection is not None:
            if self.done and self.body_sent:
                connection.close()
            else:  # stop the transfer now, and show the upstream it was not complete
                connection.abort()
        self._end()

    def _answered(self) -> None:
        """The answer began (or never will): a paced new connection may go ahead."""
        if self._unanswered:
            self._unanswered = False
            pool = self._pool
            pool.unanswered -= 1
            while pool.paced:
                if _wake(pool.paced.popleft()):
                    break

    def _end(self) -> None:
        self._answered()
        self._ended = True
        if self._sender is not None and not self._sender.done():
            self._sender.cancel()
        if self._slot:
            self._slot = False
            self._pool.slots.release()


class ProxyClient:
    """The pooled keep-alive HTTP client to the containers: one per web app, closed at shutdown.

    Its :class:`UpstreamClient` is made lazily, on the running loop, by the first proxied
    request. Only connecting is timed (``connect_timeout`` seconds): a download may take hours.
    """

    def __init__(self, connect_timeout: float = 10.0, connections_per_container: int = 100):
        self.connect_timeout = connect_timeout
        self.connections_per_container = connections_per_container
        self._upstream: UpstreamClient | None = None
        self._addresses: TTLCache[str, tuple[str, int]] = TTLCache(3600.0, 4096)

    def exchange(self, target: str) -> Exchange:
        """One request to ``target`` (``http://host:port``, as an Admission gives it)."""
        upstream = self._upstream
        if upstream is None or upstream.closed:
            upstream = self._upstream = UpstreamClient(
                self.connect_timeout, self.connections_per_container, keepalive_timeout=60
            )
        return upstream.exchange(*self.address(target))

    def address(self, target: str) -> tuple[str, int]:
        """(host, port) of an ``http://host:port`` target."""
        address = self._addresses.get(target)
        if address is None:
            parts = urlsplit(target)
            if parts.scheme != "http" or not parts.hostname:
                raise ValueError(f"not an http:// target: {target!r}")
            address = (parts.hostname, parts.port or 80)
            self._addresses.put(target, address)
        return address

    async def close(self) -> None:
        if self._upstream is not None:
            await self._upstream.close()
            self._upstream = None
