"""The container proxy: ``<prefix>containers/<url_id>/...`` to where the container listens.

Unlike jupyter-server-proxy (a connection per request, whole bodies buffered, WebSocket frames
decoded and re-encoded in Python), HTTP goes through one pooled keep-alive client, streamed both
ways with backpressure, and a WebSocket, once the container answered 101, is a plain byte pipe
(:mod:`.tunnel`). The container never sees the user's Jupyter/JupyterHub credentials
(:func:`.headers.strip_credentials`).

:class:`ContainerProxyHandler` is plain tornado: it knows nothing of Jupyter or JupyterHub.
Who may use which container is decided by a subclass's :meth:`~ContainerProxyHandler.admit`:
:mod:`.personal` (the Jupyter server extension) and ``remoteapp_server.hub.proxy`` (the
JupyterHub service).
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
from collections.abc import Iterable
from dataclasses import dataclass
from http.client import responses
from typing import Any
from urllib.parse import unquote, urlsplit

from tornado import iostream, web

from .body import BodyPipe
from .headers import (
    DEFAULT_CREDENTIAL_COOKIES,
    HOP_BY_HOP,
    connection_tokens,
    cookie_rule,
    forwarded_headers,
    strip_credentials,
)
from .http1 import ParseError
from .tunnel import Tunnel
from .upstream import Exchange, ProxyClient, UpstreamError

__all__ = ["Admission", "ContainerProxyHandler", "ProxyClient", "Redirect", "proxy_route"]

_log = logging.getLogger("remoteapp_server.proxy")
ACTIVITY_INTERVAL = 60.0  # seconds between activity records of one request or WebSocket
_UPGRADE_TIMEOUT = 30.0
_MAX_REFUSAL_BODY = 1024 * 1024


@dataclass(frozen=True)
class Admission:
    """Who may use which container, as :meth:`ContainerProxyHandler.admit` decided."""

    target: str  # "http://host:port" where the container listens
    url_id: str
    owner: str  # the container's owner (whose activity the traffic is)
    user: str  # who is connecting (the owner, an admin; later sharees)


class Redirect(Exception):
    """Raised by :meth:`ContainerProxyHandler.admit` to answer with a redirect instead (for
    instance to a login page); a WebSocket upgrade gets 403 instead."""

    def __init__(self, url: str, status: int = 302) -> None:
        super().__init__(url)
        self.url = url
        self.status = status


def proxy_route(
    prefix: str, handler: type[ContainerProxyHandler], **kwargs: Any
) -> tuple[str, type[ContainerProxyHandler], dict[str, Any]]:
    """The tornado route of ``handler`` under ``prefix`` (a URL path ending with ``/``);
    ``kwargs`` go to its ``initialize``."""
    if not prefix.endswith("/"):
        prefix += "/"
    return (f"{prefix}containers/(?P<url_id>[^/]+)(?P<path>/.*)?", handler, kwargs)


def no_container(url_id: str) -> web.HTTPError:
    """The one answer whether ``url_id`` is unknown, stopped or someone else's."""
    return web.HTTPError(404, f"No container {url_id}.")


@web.stream_request_body
class ContainerProxyHandler(web.RequestHandler):
    """Relays one HTTP request or WebSocket to a container, once :meth:`admit` let it in.

    Plain tornado: no Jupyter, no Hub. Route kwargs (see :func:`proxy_route`): ``url_id``,
    ``path`` (None: the container root without its slash, answered with a redirect).

    Everything up to the upstream request happens in ``prepare``: with
    ``stream_request_body`` it runs before the body arrives (so the upload can be streamed
    to the already started upstream request) and while the connection can still be detached
    (for WebSockets).
    """

    SUPPORTED_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
    admission: Admission | None = None
    frame_ancestors = "frame-ancestors 'self'"  # set_default_headers runs before initialize
    _relaying = False  # True once the upstream's response head replaces ours
    _body: BodyPipe | None = None
    _exchange: Exchange | None = None
    _upstream: asyncio.Future[Exchange] | None = None  # the request, when it has a body
    _client_gone = False
    _refusal: web.HTTPError | Redirect | None = None
    _last_activity = -math.inf
    _url_id = ""

    def initialize(
        self,
        client: ProxyClient,
        *,
        frame_ancestors: str = "'self'",
        max_body_size: int = 64 << 30,
    ) -> None:
        self.client = client
        self.frame_ancestors = f"frame-ancestors {frame_ancestors}"
        self.max_body_size = max_body_size

    # -- the seam: what a subclass decides ------------------------------------------------------

    async def admit(self, url_id: str, *, websocket: bool) -> Admission:
        """Authenticate and authorize this request for container ``url_id``.

        Raise ``web.HTTPError(403)`` for no or bad credentials, ``no_container(url_id)``
        (404) for an unknown or someone else's container, :class:`Redirect` to send a
        browser to a login page.
        """
        raise web.HTTPError(403, "Authentication required.")

    def forget(self, url_id: str) -> None:
        """The upstream failed: drop whatever target is cached for ``url_id``."""

    def on_activity(self, admission: Admission) -> None:
        """Traffic for ``admission``: called at most every ACTIVITY_INTERVAL seconds per
        request or WebSocket (when it opens, then while bytes flow)."""

    def allowed_origins(self) -> set[str]:
        """Origins (``scheme://host[:port]``) whose pages may open WebSockets here: by
        default this request's own, also with the scheme a reverse proxy reports in
        ``X-Forwarded-Proto`` (TLS ended in front of a server that does not trust
        X-headers; a browser page cannot set that header on a WebSocket)."""
        request = self.request
        origins = {f"{request.protocol}://{request.host}"}
        forwarded = request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip()
        if forwarded in ("http", "https"):
            origins.add(f"{forwarded}://{request.host}")
        return origins

    def origin_allowed(self, origin: str) -> bool:
        """Whether a browser page of ``origin`` may open a WebSocket here (cross-site
        WebSocket hijacking): scheme, host and port must match an allowed origin."""
        return _origin_key(origin) in {_origin_key(o) for o in self.allowed_origins()}

    def credential_cookies(self) -> Iterable[str]:
        """Cookie names (a trailing ``*``: a prefix) stripped before the request reaches the
        container: the users' credentials on this site."""
        return DEFAULT_CREDENTIAL_COOKIES

    @property
    def log(self) -> logging.Logger:
        return _log

    # -- where proxied content differs from the server's own pages --------------------------

    def set_default_headers(self) -> None:
        if not self._relaying:
            super().set_default_headers()
            self.clear_header("X-Frame-Options")
        # the app runs in the Lab's iframe: frame-ancestors 'none' would block it
        self.set_header("Content-Security-Policy", self.frame_ancestors)

    def check_xsrf_cookie(self) -> None:
        """No XSRF check of ours: the app checks its own forms, and ours would break them all."""

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
        # tornado's version logs the request URI, which may carry ?token=; the request log
        # already reports HTTP errors
        if not isinstance(value, web.HTTPError):
            path = self.request.path
            self.log.error("remoteapp proxy: error on %s", path, exc_info=(typ, value, tb))

    # -- the request ---------------------------------------------------------------------------

    async def prepare(self) -> None:  # type: ignore[override]
        upgrade = self.request.headers.get("Upgrade", "").lower()
        websocket = self.request.method == "GET" and upgrade == "websocket"
        try:
            await self._open(websocket)
        except (web.HTTPError, Redirect) as refusal:
            if websocket:
                if isinstance(refusal, Redirect):
                    raise web.HTTPError(403, "Authentication required.") from None
                raise
            # Answering here, before the body was read, makes tornado close the connection
            # without telling the client (no "Connection: close"), and a client still sending
            # its body may never read the answer: answer from the method, once the body is in.
            self._refusal = refusal

    async def _open(self, websocket: bool) -> None:
        """Check the path, admit, start the upstream request."""
        url_id, path = self.path_kwargs["url_id"], self.path_kwargs["path"]
        self._url_id = url_id
        if ".." in unquote(self.request.path).replace("\\", "/").split("/"):
            # before anything is resolved: no way into another container's path
            raise web.HTTPError(400, "Paths with '..' segments are not proxied.")
        admission = await self.admit(url_id, websocket=websocket)
        self.admission = admission
        if path is None:
            return  # _proxy redirects
        self._record_activity()
        if websocket:
            await self._tunnel_websocket()
            return
        self.request.connection.set_max_body_size(self.max_body_size)  # uploads may be big
        self._exchange = self.client.exchange(admission.target)
        headers = self.request.headers
        if "Transfer-Encoding" in headers or headers.get("Content-Length", "0") != "0":
            # the upload streams to the upstream while tornado reads it: start the request now
            self._body = BodyPipe()
            self._upstream = asyncio.ensure_future(self._send_upstream())
            self._upstream.add_done_callback(self._on_upstream_answer)
        # else the request goes out from _relay_http, with no task in between

    async def data_received(self, chunk: bytes) -> None:
        if self._body is not None:
            await self._body.write(chunk)

    async def _proxy(self, url_id: str, path: str | None = None) -> None:
        refusal = self._refusal
        if isinstance(refusal, Redirect):
            self.redirect(refusal.url, status=refusal.status)
            return
        if refusal is not None:
            raise refusal
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
        now = time.monotonic()
        if now - self._last_activity >= ACTIVITY_INTERVAL and self.admission is not None:
            self._last_activity = now
            self.on_activity(self.admission)

    def _upstream_request(self) -> tuple[str, list[tuple[str, str]]]:
        """The request target and headers as the container gets them."""
        request = self.request
        headers = request.headers
        target, kept = strip_credentials(
            request.uri or "/", headers.get_all(), cookie_rule(tuple(self.credential_cookies()))
        )
        return target, forwarded_headers(
            kept,
            remote_ip=request.remote_ip or "",
            protocol=request.protocol,
            host=request.host,
            connection=headers.get_list("Connection") if "Connection" in headers else (),
        )

    # -- HTTP ----------------------------------------------------------------------------------

    async def _send_upstream(self) -> Exchange:
        assert self._exchange is not None
        body = self._body
        # the raw request target goes upstream as is (no %2F -> /, no dot-segment removal)
        target, headers = self._upstream_request()
        return await self._exchange.send(
            self.request.method or "GET",
            target,
            headers,
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
            raise await self._unanswered(504, "did not accept the connection in time") from None
        except UpstreamError as exc:
            if self._client_gone:
                return
            raise await self._unanswered(502, "answered badly", exc) from None
        except OSError as exc:
            if self._client_gone:
                return
            raise await self._unanswered(502, "is not reachable", exc) from None
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
        """Replace our response head by the upstream's, plus our frame-ancestors."""
        drop = HOP_BY_HOP | connection_tokens(v for n, v in headers if n.lower() == "connection")
        if any(n.lower() == "transfer-encoding" for n, _ in headers):
            drop |= {"content-length"}  # RFC 9112 §6.3: the transfer coding framed the body
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
        self.forget(self._url_id)  # it may have moved or gone
        return web.HTTPError(status, f"The application in container {self._url_id} {problem}.")

    async def _unanswered(
        self,
        status: int,
        problem: str,
        exc: BaseException | None = None,
        *,
        websocket: bool = False,
    ) -> web.HTTPError:
        """The container gave no answer. If it is gone meanwhile (it was just stopped, the
        cached target is stale) that is the one 404 of a missing container; else ``status``."""
        error = self._upstream_error(status, problem, exc)
        try:
            await self.admit(self._url_id, websocket=websocket)  # asked afresh: forgotten
        except web.HTTPError as refusal:
            if refusal.status_code == 404:
                return refusal
        except Redirect:
            pass
        return error

    # -- WebSocket -----------------------------------------------------------------------------

    async def _tunnel_websocket(self) -> None:
        origin = self.request.headers.get("Origin")
        if origin is not None and not self.origin_allowed(origin):  # no Origin: no browser
            raise web.HTTPError(403, "Cross-origin WebSocket connections are refused.")
        assert self.admission is not None
        host, port = self.client.address(self.admission.target)
        loop = asyncio.get_running_loop()
        tunnel = Tunnel(self._record_activity)
        try:
            await asyncio.wait_for(
                loop.create_connection(lambda: tunnel.upstream, host, port),
                self.client.connect_timeout,
            )
        except asyncio.TimeoutError:
            problem = "did not accept the connection in time"
            raise await self._unanswered(504, problem, websocket=True) from None
        except OSError as exc:
            raise await self._unanswered(502, "is not reachable", exc, websocket=True) from None
        try:
            try:
                tunnel.upstream.write(self._upgrade_request())
                answer = await asyncio.wait_for(
                    tunnel.upstream.answer(_MAX_REFUSAL_BODY), _UPGRADE_TIMEOUT
                )
                if answer.status != 101:  # an error page, a redirect...: an ordinary response
                    self._relay_head(answer.status, answer.reason, answer.headers)
                    self.finish(b"".join(tunnel.upstream.body))
                    return
                if answer.upgraded is None:
                    raise ParseError("a 101 answer without Upgrade")
            except (OSError, ValueError, asyncio.TimeoutError, asyncio.IncompleteReadError) as exc:
                raise self._upstream_error(
                    502, "answered the WebSocket upgrade badly", exc
                ) from None
            self.set_status(101)
            client = self.detach()  # tornado steps aside: from here on the socket is ours
            await tunnel.connect_client(client)
            await tunnel.closed
            self.application.log_request(self)
        finally:
            tunnel.close()

    def _upgrade_request(self) -> bytes:
        target, headers = self._upstream_request()
        lines = [f"GET {target} HTTP/1.1"]
        lines += [f"{name}: {value}" for name, value in headers]
        lines += ["Connection: Upgrade", "Upgrade: websocket", "", ""]
        return "\r\n".join(lines).encode("latin-1")


def _origin_key(origin: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) of an origin, the port made explicit; ("", "", None) if malformed."""
    try:
        parts = urlsplit(origin.strip())
        port = parts.port or {"http": 80, "https": 443}.get(parts.scheme.lower())
    except ValueError:
        return ("", "", None)
    return (parts.scheme.lower(), (parts.hostname or "").lower(), port)
