"""The single-user server's side of the hub deployment: a façade in front of the service.

With ``c.RemoteApp.service_url`` set, a JupyterHub single-user server holds no docker or
database connection (its users run arbitrary code as the server's OS user). Instead:

- every ``{base_url}remoteapp/api/*`` call is forwarded to the remoteapp service as it
  came (method, query, JSON body; answers streamed, ``text/event-stream`` included), with
  the caller's own token — the one the request carried, or for the browser the OAuth token
  in the server's login cookie — never the server's token, so the service sees exactly the
  caller's identity and scopes;
- container traffic is the service's (``/services/remoteapp/containers/<url_id>/``, on
  the apps origin when there is one): the old per-user path
  ``{base_url}remoteapp/containers/<url_id>/`` answers a redirect there, except for apps
  started before the service served them (their URL is still this server's), which are
  proxied as before to the address the service gives their owner (``GET
  containers/<url_id>`` → ``endpoint``, asked with the caller's token, trusted for a few
  seconds) until they stop.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

import aiohttp
from jupyter_server.auth import User
from tornado import web
from tornado.iostream import StreamClosedError

from ..core.errors import NotFound, RemoteAppError, Unavailable
from ..handlers.base import API_PREFIX, RemoteAppHandler
from ..proxy.cache import TTLCache
from ..proxy.handler import Redirect
from ..proxy.personal import JupyterProxyHandler, proxy_handlers

#: request headers that reach the service (all others stay here, cookies above all)
_FORWARDED_REQUEST_HEADERS = ("Accept", "Content-Type", "User-Agent")
#: answer headers that reach the caller
_RELAYED_ANSWER_HEADERS = ("Content-Type", "Cache-Control", "X-Accel-Buffering", "Location")


def caller_token(handler: web.RequestHandler) -> str | None:
    """The token the request is authenticated with: the caller's own credential.

    JupyterHub's single-user identity provider knows it (``Authorization`` header,
    ``?token=``, or the OAuth token stored in its cookie for the browser); elsewhere the
    header or parameter.
    """
    hub_auth = getattr(getattr(handler, "identity_provider", None), "hub_auth", None)
    if hub_auth is not None:
        return hub_auth.get_token(handler) or None
    header = handler.request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() in ("token", "bearer") and token.strip():
        return token.strip()
    return handler.get_query_argument("token", None) or None


class ServiceClient:
    """HTTP to the remoteapp service: one pooled aiohttp session per server."""

    def __init__(self, service_url: str, connect_timeout: float = 10.0):
        self.service_url = service_url.rstrip("/") + "/"
        self.api_url = self.service_url + "api/"
        self.api_path = urlsplit(self.api_url).path
        self.connect_timeout = connect_timeout
        self._session: aiohttp.ClientSession | None = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                # a start waits for the app (minutes with a pull): only connecting is timed
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=self.connect_timeout),
                cookie_jar=aiohttp.DummyCookieJar(),
                auto_decompress=False,
            )
        return self._session

    async def request(
        self,
        method: str,
        path: str,
        token: str,
        *,
        query: str = "",
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> aiohttp.ClientResponse:
        """Send one API call as the token's owner; Unavailable when the service is down."""
        url = self.api_url + path + (f"?{query}" if query else "")
        headers = dict(headers or {}, Authorization=f"token {token}")
        try:
            return await self.session.request(
                method, url, data=body or None, headers=headers, allow_redirects=False
            )
        except aiohttp.ClientError as exc:
            raise Unavailable(f"the remoteapp service is not reachable: {exc}") from None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


class ApiForwardHandler(RemoteAppHandler):
    """``{base_url}remoteapp/api/<path>`` → ``<service>/api/<path>``, as the caller."""

    SUPPORTED_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")

    def initialize(self, service: ServiceClient) -> None:
        self.service = service

    @web.authenticated
    async def _forward(self, path: str) -> None:
        token = caller_token(self)
        if not token:  # e.g. a server that lets everyone in: never act with its own token
            raise web.HTTPError(403, "this request carries no token to act on your behalf")
        headers = {
            name: self.request.headers[name]
            for name in _FORWARDED_REQUEST_HEADERS
            if name in self.request.headers
        }
        # the raw path (tornado's ``path`` argument is decoded): forwarded exactly as sent
        raw_path = self.request.path
        raw_path = raw_path[len(self.api_root) :] if raw_path.startswith(self.api_root) else path
        upstream = await self.service.request(
            self.request.method,
            raw_path,
            token,
            query=_without_token(self.request.query),
            body=self.request.body,
            headers=headers,
        )
        try:
            await self._relay(upstream)
        finally:
            upstream.close()  # also when the caller left mid-stream

    get = post = put = patch = delete = _forward

    async def _relay(self, upstream: aiohttp.ClientResponse) -> None:
        self.set_status(upstream.status, upstream.reason)
        self.clear_header("Content-Type")
        for name in _RELAYED_ANSWER_HEADERS:
            if name in upstream.headers:
                self.set_header(name, upstream.headers[name])
        location = upstream.headers.get("Location", "")
        service_api = self.service.api_path
        if location.startswith(service_api):  # the same resource, as this server serves it
            self.set_header("Location", f"{self.api_root}{location[len(service_api) :]}")
        if upstream.status == 204:
            self.finish()
            return
        try:
            async for chunk in upstream.content.iter_any():
                self.write(chunk)
                await self.flush()  # server-sent events must arrive as they happen
        except StreamClosedError:
            return  # the caller left; a start goes on in the service
        self.finish()


class ServiceTargetResolver:
    """The proxy's resolver in hub mode: the service says whether ``url_id`` is the
    caller's, where it listens and at which URL it serves; trusted for ``ttl`` seconds."""

    def __init__(self, service: ServiceClient, ttl: float = 5.0):
        self.service = service
        #: (sha256 of the token, url_id) → (endpoint, the app's URL)
        self._cache: TTLCache[tuple[str, str], tuple[str, str]] = TTLCache(ttl, 10_000)

    async def resolve_for(self, handler: web.RequestHandler, url_id: str) -> tuple[str, str]:
        """``(endpoint, url)`` of the caller's running container ``url_id``."""
        token = caller_token(handler)
        if not token:
            raise NotFound(f"no container {url_id!r}")
        key = (hashlib.sha256(token.encode()).hexdigest(), url_id)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        response = await self.service.request("GET", f"containers/{quote(url_id, safe='')}", token)
        try:
            if response.status in (403, 404):  # not the caller's, or the caller may not
                raise NotFound(f"no container {url_id!r}")
            if response.status != 200:
                raise _service_error(response.status, await response.text())
            container = json.loads(await response.text())
        finally:
            response.release()
        endpoint = container.get("endpoint")
        if container.get("status") != "running" or not endpoint:
            raise NotFound(f"container {url_id!r} is not running")
        answer = (endpoint, container.get("url") or "")
        self._cache.put(key, answer)
        return answer

    def forget(self, url_id: str) -> None:
        self._cache.discard_where(lambda key: key[1] == url_id)


class _CallerResolver:
    """Binds the resolver to one request, so it can take the caller's token from it.

    An app started with the service's base (``/services/remoteapp``, every app since the
    service serves container traffic) is not served here: the old per-user URL answers a
    redirect to the app's URL. Apps started before — their URL (the urlpath label) is
    under this server — are proxied as before, until they stop.
    """

    def __init__(self, resolver: ServiceTargetResolver, handler: HubContainerProxyHandler):
        self.resolver = resolver
        self.handler = handler

    async def resolve(self, user: User, url_id: str) -> str:
        endpoint, url = await self.resolver.resolve_for(self.handler, url_id)
        handler = self.handler
        here = f"{handler.base_url.rstrip('/')}/remoteapp/containers/{url_id}/"
        if url and urlsplit(url).path != here:
            rest = (handler.path_kwargs.get("path") or "/")[1:]
            query = handler.request.query
            raise Redirect(url + rest + (f"?{query}" if query else ""))
        return endpoint

    def forget(self, url_id: str) -> None:
        self.resolver.forget(url_id)


class HubContainerProxyHandler(JupyterProxyHandler):
    """The container proxy at the old per-user path: redirects, or proxies older apps."""

    def initialize(self, resolver: ServiceTargetResolver, **options: Any) -> None:
        super().initialize(_CallerResolver(resolver, self), **options)


def forward_handlers(
    base_url: str, service: ServiceClient, resolver: ServiceTargetResolver
) -> list[tuple[str, type[web.RequestHandler], dict[str, Any]]]:
    """The routes of a hub-mode single-user server: API façade and container proxy."""
    prefix = base_url.rstrip("/") + "/" + API_PREFIX
    routes: list[tuple[str, type[web.RequestHandler], dict[str, Any]]] = [
        (f"{prefix}/(?P<path>.*)", ApiForwardHandler, {"service": service})
    ]
    routes += proxy_handlers(base_url, resolver, handler=HubContainerProxyHandler)  # type: ignore[arg-type]
    return routes


def _without_token(query: str) -> str:
    """The query string minus ``token=``: the token travels in the header, once."""
    if "token" not in query:
        return query
    return urlencode([(k, v) for k, v in parse_qsl(query, keep_blank_values=True) if k != "token"])


def _service_error(status: int, text: str) -> RemoteAppError:
    error = RemoteAppError(f"the remoteapp service answered {status}: {text[:200]}")
    error.status = 502 if status < 500 else status
    return error
