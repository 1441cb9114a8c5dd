"""Authenticated reverse proxy to the containers: ``{base_url}remoteapp/containers/<url_id>/...``.

Unlike jupyter-server-proxy (a connection per request, whole bodies buffered, WebSocket frames
decoded and re-encoded in Python), HTTP goes through one pooled keep-alive client, streamed both
ways with backpressure, and a WebSocket, once the container answered 101, is a plain byte pipe.
The container never sees the user's Jupyter/JupyterHub credentials.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import time
from collections.abc import AsyncIterator, Callable, Iterable
from http.client import responses
from typing import Any, Protocol
from urllib.parse import unquote, unquote_plus, urlsplit

from jupyter_server._tz import utcnow
from jupyter_server.auth import User
from jupyter_server.base.call_context import CallContext
from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.utils import url_path_join
from tornado import httputil, iostream, web

from ..core.errors import NotFound, RemoteAppError
from .identity_cache import IdentityCache
from .upstream import Exchange, UpstreamClient, UpstreamError

#: headers about one connection, not the message (RFC 9110 §7.6.1): never forwarded
HOP_BY_HOP = frozenset(
    ("connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "proxy-connection")
    + ("te", "trailer", "trailers", "transfer-encoding", "upgrade")
)
#: tornado answers ``Expect: 100-continue`` itself; the X-Forwarded-* headers are rebuilt
_REBUILT = frozenset({"expect", "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host"})
_NOT_FORWARDED = HOP_BY_HOP | _REBUILT
_SAFE_METHODS = frozenset(("GET", "HEAD", "OPTIONS"))
_JUPYTER_AUTHORIZATION = re.compile(r"\s*(token|bearer)\s", re.IGNORECASE)
_CREDENTIAL_COOKIE_PREFIXES = ("username-", "jupyterhub-")
FRAME_ANCESTORS_SELF = "frame-ancestors 'self'"
_CHUNK = 256 * 1024
_ACTIVITY_INTERVAL = 60.0  # seconds between activity records while a WebSocket is busy
_UPGRADE_TIMEOUT = 30.0
_MAX_REFUSAL_BODY = 1024 * 1024
_SHARED_CLIENT = "remoteapp_proxy_client"  # key in the tornado settings
#: hand plain (non-TLS) WebSocket client connections from tornado to asyncio after the upgrade
_ADOPT_SOCKETS = True


class ProxyTargetResolver(Protocol):
    """Where a user's container listens. May also have ``forget(url_id)`` (drop a cache entry)."""

    async def resolve(self, user: User, url_id: str) -> str:
        """``http://127.0.0.1:<port>``; raises NotFound for unknown ids and other users' ids.

        ``user`` is the authenticated ``current_user``: ``.username``, and behind JupyterHub
        ``.hub_user`` (name, groups, scopes).
        """
        ...


class ProxyClient:
    """The pooled keep-alive HTTP client to the containers: one per server, closed at shutdown.

    Its :class:`~.upstream.UpstreamClient` is made lazily, on the running loop, by the first
    proxied request. Only connecting is timed: a download may take hours. Who sent a request
    is remembered for ``identity_ttl`` seconds per exact set of credentials
    (:mod:`.identity_cache`; 0: ask the identity provider every time).
    """

    def __init__(
        self,
        connect_timeout: float = 10.0,
        connections_per_container: int = 100,
        identity_ttl: float = 5.0,
    ):
        self.connect_timeout = connect_timeout
        self.connections_per_container = connections_per_container
        self.identities = IdentityCache(identity_ttl) if identity_ttl > 0 else None
        self._upstream: UpstreamClient | None = None
        self._addresses: dict[str, tuple[str, int]] = {}

    def exchange(self, target: str) -> Exchange:
        """One request to ``target`` (``http://host:port``, as the resolver gives it)."""
        upstream = self._upstream
        if upstream is None or upstream.closed:
            upstream = self._upstream = UpstreamClient(
                self.connect_timeout, self.connections_per_container, keepalive_timeout=60
            )
        address = self._addresses.get(target)
        if address is None:
            parts = urlsplit(target)
            if parts.scheme != "http" or not parts.hostname:
                raise ValueError(f"not an http:// target: {target!r}")
            if len(self._addresses) >= 4096:  # containers come and go
                self._addresses.clear()
            address = self._addresses[target] = (parts.hostname, parts.port or 80)
        return upstream.exchange(*address)

    async def close(self) -> None:
        if self._upstream is not None:
            await self._upstream.close()
            self._upstream = None


def proxy_handlers(
    base_url: str,
    resolver: ProxyTargetResolver,
    client: ProxyClient | None = None,
    **options: Any,
) -> list[tuple[str, type[web.RequestHandler], dict[str, Any]]]:
    """The tornado route of the container proxy, under ``base_url``.

    Without ``client``, one ProxyClient is shared through the web app's settings: close it
    with :func:`close_proxy`. ``options``: ``max_body_size`` (bytes, default 64 GiB) of uploads.
    """
    pattern = url_path_join(base_url, r"remoteapp/containers/(?P<url_id>[^/]+)(?P<path>/.*)?")
    return [(pattern, ContainerProxyHandler, {"resolver": resolver, "client": client, **options})]


async def close_proxy(settings: dict[str, Any]) -> None:
    """Close the shared ProxyClient of a web app (its pooled upstream connections)."""
    client = settings.pop(_SHARED_CLIENT, None)
    if client is not None:
        await client.close()


class _BodyPipe:
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


@web.stream_request_body
class ContainerProxyHandler(JupyterHandler):
    """Relays one HTTP request or WebSocket of an authenticated user to their container.

    Everything up to the upstream request happens in ``prepare``: with
    ``stream_request_body`` it runs before the body arrives (so the upload can be streamed
    to the already started upstream request) and while the connection can still be detached
    (for WebSockets).
    """

    SUPPORTED_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
    _relaying = False  # True once the upstream's response head replaces Jupyter's
    _body: _BodyPipe | None = None
    _exchange: Exchange | None = None
    _upstream: asyncio.Future[Exchange] | None = None  # the request, when it has a body
    _client_gone = False
    _refusal: web.HTTPError | None = None
    _last_activity = -math.inf
    _url_id = ""

    def initialize(
        self,
        resolver: ProxyTargetResolver,
        client: ProxyClient | None = None,
        max_body_size: int = 64 << 30,
    ) -> None:
        self.resolver = resolver
        if client is None:  # one per web app, closed by close_proxy()
            if _SHARED_CLIENT not in self.settings:
                self.settings[_SHARED_CLIENT] = ProxyClient()
            client = self.settings[_SHARED_CLIENT]
        self.client = client
        self.max_body_size = max_body_size

    # -- where proxied content differs from Jupyter's own pages --------------------------------

    @property
    def content_security_policy(self) -> str:
        # Lab shows the app in an iframe; JupyterHub's frame-ancestors 'none' would block it
        return FRAME_ANCESTORS_SELF

    def set_default_headers(self) -> None:
        if self._relaying:  # the upstream's headers are what the client gets, plus ours
            self.set_header("Content-Security-Policy", FRAME_ANCESTORS_SELF)
            return
        super().set_default_headers()
        self.clear_header("X-Frame-Options")

    def check_xsrf_cookie(self) -> None:
        """No Jupyter _xsrf check: the app checks its own forms, and ours would break them all."""

    def compute_etag(self) -> None:
        return None  # ETags are the upstream's business

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        message = responses.get(status_code, "Error")
        if isinstance(exc, web.HTTPError) and exc.log_message:
            message = exc.log_message
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"status": status_code, "message": message}))

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        # tornado's version logs the request URI, which may carry ?token=; Jupyter's request
        # log already reports HTTP errors (with a scrubbed URI)
        if not isinstance(value, web.HTTPError):
            path = self.request.path
            self.log.error("remoteapp proxy: error on %s", path, exc_info=(typ, value, tb))

    # -- the request ---------------------------------------------------------------------------

    async def prepare(self) -> None:  # type: ignore[override]
        upgrade = self.request.headers.get("Upgrade", "").lower()
        websocket = self.request.method == "GET" and upgrade == "websocket"
        try:
            await self._open(websocket)
        except web.HTTPError as refusal:
            if websocket:
                raise
            # Answering here, before the body was read, makes tornado close the connection
            # without telling the client (no "Connection: close"), and a client still sending
            # its body may never read the answer: answer from the method, once the body is in.
            self._refusal = refusal

    async def _open(self, websocket: bool) -> None:
        """Authenticate, check the path, find the container, start the upstream request."""
        await self._authenticate()
        if self.current_user is None:  # also when the server allows unauthenticated access
            if websocket:
                raise web.HTTPError(403, "Authentication required.")
            return  # the @web.authenticated methods redirect to the login page, or say 403
        url_id, path = self.path_kwargs["url_id"], self.path_kwargs["path"]
        if ".." in unquote(self.request.path).replace("\\", "/").split("/"):
            raise web.HTTPError(400, "Paths with '..' segments are not proxied.")
        if path is None:
            return  # _proxy redirects
        self._url_id = url_id
        try:
            self._target = await self.resolver.resolve(self.current_user, url_id)
        except NotFound:  # one answer whether the id is unknown or another user's
            raise web.HTTPError(404, f"No container {url_id}.") from None
        except RemoteAppError as exc:
            raise web.HTTPError(exc.status, exc.message) from None
        self._record_activity()
        if websocket:
            await self._tunnel_websocket()
            return
        self.request.connection.set_max_body_size(self.max_body_size)  # uploads may be big
        self._exchange = self.client.exchange(self._target)
        headers = self.request.headers
        if "Transfer-Encoding" in headers or headers.get("Content-Length", "0") != "0":
            # the upload streams to the upstream while tornado reads it: start the request now
            self._body = _BodyPipe()
            self._upstream = asyncio.ensure_future(self._send_upstream())
            self._upstream.add_done_callback(self._on_upstream_answer)
        # else the request goes out from _relay_http, with no task in between

    async def _authenticate(self) -> None:
        """Jupyter's ``prepare``: host check, identity, CORS; for GET, HEAD and OPTIONS the
        identity from the cache when the same credentials were authenticated moments ago
        (other methods always go through the identity provider, which may check more for
        them, e.g. JupyterHub's XSRF check of cookie-authenticated requests)."""
        cache = self.client.identities
        if cache is None or self.request.method not in _SAFE_METHODS:
            await super().prepare(_redirect_to_login=False)  # @web.authenticated redirects later
            return
        key = cache.key(self.request)
        known = cache.get(key)
        if known is None:
            await super().prepare(_redirect_to_login=False)
            if self.current_user is not None:
                cache.put(key, self.current_user, self.token_authenticated)
            return
        # what JupyterHandler.prepare does around the identity provider
        CallContext.set(CallContext.JUPYTER_HANDLER, self)
        if not self.check_host():
            self.current_user = self._jupyter_current_user = None
            raise web.HTTPError(403)
        user, token_authenticated = known
        if token_authenticated:
            self._token_authenticated = True
        self.current_user = self._jupyter_current_user = user
        self.set_cors_headers()

    async def data_received(self, chunk: bytes) -> None:
        if self._body is not None:
            await self._body.write(chunk)

    @web.authenticated
    async def _proxy(self, url_id: str, path: str | None = None) -> None:
        if self._refusal is not None:
            raise self._refusal
        if path is None:  # the app lives under <url_id>/: its relative links need the slash
            raw_path, _, query = self.request.uri.partition("?")
            status = 302 if self.request.method in ("GET", "HEAD") else 307
            self.redirect(f"{raw_path}/" + (f"?{query}" if query else ""), status=status)
            return
        await self._relay_http()

    get = head = post = put = patch = delete = options = _proxy

    def on_connection_close(self) -> None:
        self._client_gone = True
        if self._body is not None:
            self._body.abort()
        if self._upstream is not None and not self._upstream.done():
            self._upstream.cancel()
        if self._exchange is not None:  # stop the upstream request or download too
            self._exchange.close()
        super().on_connection_close()

    def _record_activity(self) -> None:
        """Tell JupyterHub's idle culler that the user works (at most once a minute)."""
        now = time.monotonic()
        if now - self._last_activity >= _ACTIVITY_INTERVAL:
            self._last_activity = now
            self.settings["api_last_activity"] = utcnow()

    def _forwarded_headers(self) -> list[tuple[str, str]]:
        """The client's headers minus hop-by-hop ones and Jupyter/JupyterHub credentials.

        A container runs an arbitrary image: with the user's Jupyter token or Hub cookies it
        could act as the user on the Jupyter server (run code in kernels) and on the Hub.
        """
        headers = self.request.headers
        drop = _NOT_FORWARDED
        if "Connection" in headers:
            drop = drop | _connection_tokens(headers.get_list("Connection"))
        forwarded = []
        for name, value in headers.get_all():
            key = name.lower()
            if key in drop or (key == "authorization" and _JUPYTER_AUTHORIZATION.match(value)):
                continue
            if key == "cookie":
                login_cookie = self.identity_provider.get_cookie_name(self)
                if not (value := _without_credential_cookies(value, login_cookie)):
                    continue
            forwarded.append((name, value))
        request, prior = self.request, headers.get("X-Forwarded-For")
        forwarded += [
            ("X-Forwarded-For", f"{prior}, {request.remote_ip}" if prior else request.remote_ip),
            ("X-Forwarded-Proto", headers.get("X-Forwarded-Proto", request.protocol)),
            ("X-Forwarded-Host", headers.get("X-Forwarded-Host", request.host)),
        ]
        return forwarded

    # -- HTTP ----------------------------------------------------------------------------------

    async def _send_upstream(self) -> Exchange:
        assert self._exchange is not None
        body = self._body
        # the raw request target goes upstream as is (no %2F -> /, no dot-segment removal)
        return await self._exchange.send(
            self.request.method or "GET",
            _without_token_param(self.request.uri or "/"),
            self._forwarded_headers(),
            body.chunks() if body is not None else None,
            chunked=body is not None and "Content-Length" not in self.request.headers,
        )

    def _on_upstream_answer(self, upstream: asyncio.Future[Exchange]) -> None:
        # An upstream that failed, or refused before reading the whole body, reads no more of
        # it: drop the rest of the upload instead of blocking the client's connection.
        if upstream.cancelled():
            return
        failed = upstream.exception() is not None  # also marks the exception as retrieved
        if self._body is not None and (failed or upstream.result().status >= 400):
            self._body.discard()

    async def _relay_http(self) -> None:
        exchange = self._exchange
        assert exchange is not None
        try:
            if self._upstream is None:
                await self._send_upstream()
            else:
                if self._body is not None:
                    await self._body.write(None)
                await asyncio.wait({self._upstream})
                if self._upstream.cancelled():
                    return  # the client went away
                self._upstream.result()
        except (asyncio.TimeoutError, TimeoutError):
            raise self._upstream_error(504, "did not accept the connection in time") from None
        except UpstreamError as exc:
            if self._client_gone:
                return
            raise self._upstream_error(502, "answered badly", exc) from None
        except OSError as exc:
            if self._client_gone:
                return
            raise self._upstream_error(502, "is not reachable", exc) from None
        complete = False
        try:
            self._relay_head(exchange.status, exchange.reason, exchange.headers)
            data = exchange.read_now()
            while not exchange.done:
                if data:
                    self.write(data)
                    await self.flush()  # waits for the client: backpressure
                data = await exchange.read()
            if data:  # the last piece: goes out with the head if that is still unsent
                self.write(data)
            complete = True
            self.finish()  # the answer first, then putting the upstream connection away
        except iostream.StreamClosedError:
            pass  # the client went away: closing the exchange below stops the download
        except (UpstreamError, OSError) as exc:
            detail = f"{type(exc).__name__}: {str(exc)[:200]}"
            self.log.warning("remoteapp proxy: container %s broke off: %s", self._url_id, detail)
            self.request.connection.close()  # a truncated body must not look complete
        finally:
            if complete:
                exchange.release()  # back to the pool if it can carry another request
            else:
                exchange.close()

    def _relay_head(self, status: int, reason: str | None, headers: list[tuple[str, str]]) -> None:
        """Replace Jupyter's response head by the upstream's, plus frame-ancestors 'self'."""
        drop = HOP_BY_HOP | _connection_tokens(v for n, v in headers if n.lower() == "connection")
        self._relaying = True
        self.clear()
        self.clear_header("Server")
        self.clear_header("Content-Type")
        seen: set[str] = set()
        for name, value in headers:
            key = name.lower()
            if key in drop:
                continue
            if key in seen or key == "content-security-policy":  # Set-Cookie, ...: keep all
                self.add_header(name, value)
            else:
                self.set_header(name, value)
                seen.add(key)
        if status == 204 or status < 200:
            self.clear_header("Content-Length")
        self.set_status(status, reason or None)

    def _upstream_error(
        self, status: int, problem: str, exc: BaseException | None = None
    ) -> web.HTTPError:
        detail = f"{type(exc).__name__}: {str(exc)[:200]}" if exc else ""
        self.log.warning("remoteapp proxy: container %s %s %s", self._url_id, problem, detail)
        forget = getattr(self.resolver, "forget", None)
        if forget is not None:  # it may have moved or gone
            forget(self._url_id)
        return web.HTTPError(status, f"The application in container {self._url_id} {problem}.")

    # -- WebSocket -----------------------------------------------------------------------------

    async def _tunnel_websocket(self) -> None:
        if not self._websocket_origin_allowed():
            raise web.HTTPError(403, "Cross-origin WebSocket connections are refused.")
        target = urlsplit(self._target)
        loop = asyncio.get_running_loop()
        tunnel = _Tunnel(self._record_activity)
        try:
            await asyncio.wait_for(
                loop.create_connection(lambda: tunnel.upstream, target.hostname, target.port or 80),
                self.client.connect_timeout,
            )
        except asyncio.TimeoutError:
            raise self._upstream_error(504, "did not accept the connection in time") from None
        except OSError as exc:
            raise self._upstream_error(502, "is not reachable", exc) from None
        try:
            try:
                tunnel.upstream.write(self._upgrade_request())
                head = await asyncio.wait_for(tunnel.upstream.answer_head(), _UPGRADE_TIMEOUT)
                start, headers = _parse_response_head(head)
                if start.code != 101:  # an error page, a redirect...: an ordinary response
                    reader = tunnel.upstream.to_reader()
                    body = await asyncio.wait_for(_read_body(reader, headers), _UPGRADE_TIMEOUT)
                    self._relay_head(start.code, start.reason, list(headers.get_all()))
                    self.finish(body)
                    return
            except (OSError, ValueError, asyncio.TimeoutError, asyncio.IncompleteReadError) as exc:
                raise self._upstream_error(
                    502, "answered the WebSocket upgrade badly", exc
                ) from None
            self.set_status(101)
            client = self.detach()  # tornado steps aside: from here on the socket is ours
            await tunnel.connect_client(client, head)
            await tunnel.closed
            self.application.log_request(self)
        finally:
            tunnel.close()

    def _websocket_origin_allowed(self) -> bool:
        """Browsers open WebSockets from any site with the user's cookies: only this origin may
        (cross-site WebSocket hijacking). No Origin: not a browser."""
        origin = self.request.headers.get("Origin")
        if origin is None or urlsplit(origin).netloc.lower() == self.request.host.lower():
            return True
        pattern = self.allow_origin_pat
        return self.allow_origin in ("*", origin) or bool(pattern and re.match(pattern, origin))

    def _upgrade_request(self) -> bytes:
        lines = [f"GET {_without_token_param(self.request.uri)} HTTP/1.1"]
        lines += [f"{name}: {value}" for name, value in self._forwarded_headers()]
        lines += ["Connection: Upgrade", "Upgrade: websocket", "", ""]
        return "\r\n".join(lines).encode("latin-1")


class _TunnelEnd(asyncio.Protocol):
    """One connection of a WebSocket tunnel, as an asyncio protocol.

    Until the tunnel is linked it keeps what arrives (the container's answer head, and
    whatever follows it); then every chunk goes straight to the other end's transport:
    one callback and one send per chunk, no stream objects, no task switches.
    """

    transport: asyncio.Transport | None = None
    peer: _TunnelEnd | _StreamEnd | None = None
    reader: asyncio.StreamReader | None = None
    lost = False

    def __init__(self, tunnel: _Tunnel):
        self.tunnel = tunnel
        self.pending = bytearray()
        self._head: asyncio.Future[int] | None = None

    # -- before the link: the answer to the upgrade request --
    async def answer_head(self) -> bytes:
        """The head of the answer (up to the blank line); what follows stays in ``pending``."""
        if self._head is None:
            self._head = asyncio.get_running_loop().create_future()
            self._check_head()
        size = await self._head
        head = bytes(self.pending[:size])
        del self.pending[:size]
        return head

    def _check_head(self) -> None:
        head = self._head
        if head is None or head.done():
            return
        end = self.pending.find(b"\r\n\r\n")
        if end >= 0:
            head.set_result(end + 4)
        elif len(self.pending) > 65536:
            head.set_exception(ValueError("the answer head is too long"))
        elif self.lost:
            head.set_exception(asyncio.IncompleteReadError(bytes(self.pending), None))

    def to_reader(self) -> asyncio.StreamReader:
        """What follows the head, as a stream (the body of a non-101 answer)."""
        self.reader = asyncio.StreamReader()
        self.reader.feed_data(bytes(self.pending))
        self.pending.clear()
        if self.lost:
            self.reader.feed_eof()
        return self.reader

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
        elif self.reader is not None:
            self.reader.feed_data(data)
        else:
            self.pending += data
            self._check_head()

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
        self._check_head()
        if self.reader is not None:
            self.reader.feed_eof()
        self.tunnel.end_lost()


class _StreamEnd:
    """The client end of a tunnel when it stays a tornado stream (TLS connections, which
    asyncio cannot adopt): a read loop, and writes with tornado's flow control."""

    lost = False

    def __init__(self, tunnel: _Tunnel, stream: iostream.IOStream):
        self.tunnel = tunnel
        self.stream = stream
        self.peer: _TunnelEnd | None = None
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


class _Tunnel:
    """A WebSocket after the upgrade: the client's and the container's connections, bytes
    copied both ways until either side closes.

    A send buffer over its high-water mark pauses reading on the other side (backpressure);
    when one side closes, the other is closed once its pending bytes are out. Plain client
    connections are handed from tornado to asyncio, so both directions are protocol
    callbacks; TLS connections stay tornado streams.
    """

    def __init__(self, activity: Callable[[], None]):
        self.activity = activity
        self.upstream = _TunnelEnd(self)
        self.client: _TunnelEnd | _StreamEnd | None = None
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def connect_client(self, stream: iostream.IOStream, head: bytes) -> None:
        """Send the 101 ``head`` to the client and link both ends."""
        read_ahead = getattr(stream, "_read_buffer_size", None)
        if _ADOPT_SOCKETS and type(stream) is iostream.IOStream and read_ahead is not None:
            # bytes tornado read past the request head (a client must wait for the 101, so
            # normally none), then the socket itself; tornado lets go of its own copy
            early = stream.read_bytes(read_ahead).result() if read_ahead else b""
            sock = stream.socket.dup()
            stream.close()
            client = _TunnelEnd(self)
            try:
                await asyncio.get_running_loop().connect_accepted_socket(lambda: client, sock)
            except BaseException:
                sock.close()
                raise
        else:
            early = b""
            client = _StreamEnd(self, stream)
        self.client = client
        client.write(head + bytes(self.upstream.pending))
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


def _connection_tokens(values: Iterable[str]) -> frozenset[str]:
    """Header names listed in Connection headers: hop-by-hop as well."""
    return frozenset(token.strip().lower() for value in values for token in value.split(","))


def _without_credential_cookies(header: str, login_cookie: str) -> str:
    kept = []
    for pair in header.split(";"):
        name = pair.split("=", 1)[0].strip()
        if name in ("_xsrf", login_cookie) or name.startswith(_CREDENTIAL_COOKIE_PREFIXES):
            continue
        kept.append(pair.strip())
    return "; ".join(pair for pair in kept if pair)


def _without_token_param(uri: str) -> str:
    """The request target without ``token=``; the rest of the query stays byte for byte."""
    path, _, query = uri.partition("?")
    if "token" not in query:
        return uri
    kept = [p for p in query.split("&") if unquote_plus(p.split("=", 1)[0]) != "token"]
    return f"{path}?{'&'.join(kept)}" if kept else path


def _parse_response_head(head: bytes) -> tuple[httputil.ResponseStartLine, httputil.HTTPHeaders]:
    start_line, _, header_lines = head.decode("latin-1").partition("\r\n")
    return httputil.parse_response_start_line(start_line), httputil.HTTPHeaders.parse(header_lines)


async def _read_body(reader: asyncio.StreamReader, headers: httputil.HTTPHeaders) -> bytes:
    """The (small) body of a non-101 answer to an upgrade request."""
    body = bytearray()
    if "chunked" in headers.get("Transfer-Encoding", "").lower():
        while size := int((await reader.readline()).split(b";")[0], 16):
            body += (await reader.readexactly(size + 2))[:-2]
            if len(body) > _MAX_REFUSAL_BODY:
                raise ValueError("body too long")
    elif "Content-Length" in headers:
        if int(headers["Content-Length"]) > _MAX_REFUSAL_BODY:
            raise ValueError("body too long")
        body += await reader.readexactly(int(headers["Content-Length"]))
    else:  # until the upstream closes
        while len(body) <= _MAX_REFUSAL_BODY and (data := await reader.read(_CHUNK)):
            body += data
    return bytes(body)
