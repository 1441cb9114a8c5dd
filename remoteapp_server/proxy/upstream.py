"""The proxy's HTTP/1.1 client to the containers: pooled keep-alive connections, streamed bodies.

Just what a reverse proxy needs and no more, on plain asyncio protocols: a request goes out
as written (method, raw target, the client's headers in their order and case), the answer's
head is parsed into a raw header list, and the body is handed over as it arrives, with its
framing (Content-Length, chunked, or until the upstream closes) removed. No cookie jar, no
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
import re
import socket
import sys
import time
from collections.abc import AsyncIterator, Awaitable
from typing import TypeVar
from urllib.parse import urlsplit

T = TypeVar("T")

_MAX_HEAD = 256 * 1024  # bytes of a response head (status line and headers)
_READ_HIGH = 1024 * 1024  # buffered body bytes at which reading from the upstream pauses
_JOIN_MAX = 256 * 1024  # smaller buffered pieces are handed on together
_LF_HEAD_END = re.compile(rb"\r?\n\r?\n")
_LINE = re.compile(r"\r?\n")
_STATUS_LINE = re.compile(r"HTTP/1\.([01]) ([0-9]{3})(?: (.*))?")
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_CHUNK_SIZE = re.compile(rb"[0-9A-Fa-f]{1,15}")
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")  # in a header line (HTAB is whitespace)
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


class _Connection(asyncio.Protocol):
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


class _HostPool:
    """The connections to one upstream (host, port): idle ones, and a limit on all."""

    def __init__(self, host: str, limit: int) -> None:
        self.idle: list[_Connection] = []
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
    ) -> _Connection:
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
                _Connection, sock=sock
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

    def _keep(self, pool: _HostPool, connection: _Connection) -> None:
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
    _connection: _Connection | None = None
    _sender: asyncio.Task[None] | None = None
    _ended = False
    _keep_alive = False
    _remaining = -1  # body bytes still to come with a Content-Length; -1: other framing
    _chunked = False
    _chunk_left = 0  # of the current chunk (data + CRLF still to skip: see _take_chunked)
    _chunk_state = 0  # 0: size line next, 1: data, 2: CRLF after data, 3: trailers
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
        while True:
            if connection.chunks:
                data = connection.take_all()
                end = data.find(b"\r\n\r\n")
                if end >= 0:
                    size = end + 4
                else:
                    match = _LF_HEAD_END.search(data)
                    size = match.end() if match else -1
                if size >= 0:
                    connection.unread(data[size:])
                    if self._parse_head(data[:size].decode("latin-1")):
                        return
                    continue  # 1xx informational answers (100, 103): the answer follows
                connection.unread(data)
                if len(data) > _MAX_HEAD:
                    raise UpstreamError("the answer's head is too long")
            if connection.eof:
                if connection.error is not None:
                    raise UpstreamError(f"the connection broke: {connection.error}")
                raise UpstreamError("closed the connection without an answer")
            await connection.wait_data()

    def _parse_head(self, head: str) -> bool:
        """Parse an answer head; False for an informational (1xx) one."""
        start, *lines = _LINE.split(head.rstrip("\r\n"))
        match = _STATUS_LINE.fullmatch(start)
        if match is None:
            raise UpstreamError(f"not an HTTP/1.x answer: {start[:80]!r}")
        minor, code, reason = match.groups()
        status = int(code)
        headers = []
        for line in lines:
            name, colon, value = line.partition(":")
            if not colon or not _TOKEN.fullmatch(name) or _CONTROL.search(value):
                raise UpstreamError(f"bad header line: {line[:80]!r}")
            value = value.strip(" \t")
            if "\t" in value:
                value = value.replace("\t", " ")
            headers.append((name, value))
        if 100 <= status < 200 and status != 101:
            return False
        self.status, self.reason, self.headers = status, reason or "", headers
        self._frame(minor == "1")
        return True

    def _frame(self, http11: bool) -> None:
        """Where the body ends, and whether the connection can carry another request."""
        connection_tokens: set[str] = set()
        encodings = ""
        lengths: set[str] = set()
        for name, value in self.headers:
            key = name.lower()
            if key == "connection":
                connection_tokens.update(t.strip().lower() for t in value.split(","))
            elif key == "transfer-encoding":
                encodings = f"{encodings},{value}" if encodings else value
            elif key == "content-length":
                lengths.update(v.strip() for v in value.split(","))
        self._keep_alive = (
            "keep-alive" in connection_tokens if not http11 else "close" not in connection_tokens
        )
        status = self.status
        if self._method == "HEAD" or status in (204, 304) or status < 200:
            self._remaining = 0
        elif encodings:
            if encodings.rsplit(",", 1)[-1].strip().lower() == "chunked":
                self._chunked = True
            else:  # some other transfer coding: the body ends when the upstream closes
                self._keep_alive = False
        elif lengths:
            if len(lengths) > 1 or not all(v.isdigit() and v.isascii() for v in lengths):
                raise UpstreamError(f"bad Content-Length {sorted(lengths)}")
            self._remaining = int(lengths.pop())
        else:  # until the upstream closes
            self._keep_alive = False
        if self._remaining == 0:
            self.done = True

    def read_now(self) -> bytes:
        """The body bytes that are already here (``done`` tells whether that was all)."""
        connection = self._connection
        if self.done or connection is None or not connection.chunks:
            return b""
        return self._take_chunked(connection) if self._chunked else self._take(connection)

    async def read(self) -> bytes:
        """The next part of the body; ``b""`` at its end. Raises :class:`UpstreamError` when
        the upstream breaks off before the end."""
        while True:
            data = self.read_now()
            if data or self.done:
                return data
            connection = self._connection
            if connection is None:
                raise UpstreamError("the exchange was closed")
            if connection.eof:  # and what is buffered is no complete part of the body
                if connection.error is not None:
                    raise UpstreamError(f"the connection broke: {connection.error}")
                if self._remaining < 0 and not self._chunked:  # until the upstream closes
                    self.done = True
                    return b""
                raise UpstreamError("closed the connection before the end of the body")
            await connection.wait_data()

    def _take(self, connection: _Connection) -> bytes:
        data = connection.take()
        remaining = self._remaining
        if remaining >= 0:
            if len(data) >= remaining:
                connection.unread(data[remaining:])  # not ours: the connection is not reused
                data = data[:remaining]
                self.done = True
            self._remaining = remaining - len(data)
        return data

    def _take_chunked(self, connection: _Connection) -> bytes:
        buffer = connection.take_all()
        pieces = []
        position = 0
        while position < len(buffer):
            state = self._chunk_state
            if state == 1:  # chunk data
                end = min(len(buffer), position + self._chunk_left)
                pieces.append(buffer[position:end])
                self._chunk_left -= end - position
                position = end
                if self._chunk_left == 0:
                    self._chunk_state = 2
                continue
            newline = buffer.find(b"\n", position)
            if newline < 0:
                if len(buffer) - position > 4096:
                    raise UpstreamError("a chunk size line is too long")
                break
            line = buffer[position:newline].rstrip(b"\r")
            position = newline + 1
            if state == 0:  # size line, maybe with extensions
                size = line.split(b";", 1)[0].strip(b" \t")
                if not _CHUNK_SIZE.fullmatch(size):
                    raise UpstreamError(f"bad chunk size {size[:20]!r}")
                self._chunk_left = int(size, 16)
                self._chunk_state = 1 if self._chunk_left else 3
            elif state == 2:  # the CRLF after the data
                if line:
                    raise UpstreamError("a chunk is longer than its size")
                self._chunk_state = 0
            elif not line:  # the blank line after the (dropped) trailers: the end
                self.done = True
                break
        connection.unread(buffer[position:])
        if len(pieces) == 1:
            return pieces[0]
        return b"".join(pieces)

    # -- the end ------------------------------------------------------------------------------

    def release(self) -> None:
        """Back to the pool if the connection can carry another request, else closed."""
        connection = self._connection
        if (
            connection is not None
            and not self._ended
            and self.done
            and self.body_sent
            and self._keep_alive
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
        self._addresses: dict[str, tuple[str, int]] = {}

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
            if len(self._addresses) >= 4096:  # containers come and go
                self._addresses.clear()
            address = self._addresses[target] = (parts.hostname, parts.port or 80)
        return address

    async def close(self) -> None:
        if self._upstream is not None:
            await self._upstream.close()
            self._upstream = None
