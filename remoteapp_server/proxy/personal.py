"""The container proxy in a Jupyter server (the extension): ``{base_url}remoteapp/containers/``.

:class:`JupyterProxyHandler` authenticates with the Jupyter server's own identity provider
(public API: ``IdentityProvider.get_user``, ``JupyterHandler.check_host``,
``set_cors_headers``, ``get_login_url``) and authorizes with a resolver — in the extension
``RemoteApps.resolve_target`` — that maps the user and a url id to where the container listens.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Iterable
from datetime import datetime, timezone
from typing import Any, Protocol
from urllib.parse import urlencode, urlsplit

from jupyter_server.auth import User
from jupyter_server.base.call_context import CallContext
from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.utils import url_path_join
from tornado import web

from ..core.errors import NotFound, RemoteAppError
from .cache import TTLCache, identity_key
from .handler import Admission, ContainerProxyHandler, Redirect, no_container, proxy_route
from .upstream import ProxyClient

_SAFE_METHODS = frozenset(("GET", "HEAD", "OPTIONS"))
_SHARED_CLIENT = "remoteapp_proxy_client"  # key in the tornado settings


class ProxyTargetResolver(Protocol):
    """Where a user's container listens. May also have ``forget(url_id)`` (drop a cache entry)."""

    async def resolve(self, user: User, url_id: str) -> str:
        """``http://127.0.0.1:<port>``; raises NotFound for unknown ids and other users' ids.

        ``user`` is the authenticated ``current_user``: ``.username``, and behind JupyterHub
        ``.hub_user`` (name, groups, scopes).
        """
        ...


class JupyterProxyHandler(ContainerProxyHandler, JupyterHandler):
    """The proxy on the Lab's origin: Jupyter's identity, the extension's resolver.

    For GET, HEAD and OPTIONS the identity comes from ``identities`` when the same
    credentials were authenticated moments ago (other methods always go through the identity
    provider, which may check more for them, e.g. JupyterHub's XSRF check of
    cookie-authenticated requests).
    """

    log = JupyterHandler.log  # the server's log, not the proxy module's
    # what the server checks its extensions' handlers for; also a second line of defence:
    # no method runs without a user
    _proxy = web.authenticated(ContainerProxyHandler._proxy)
    get = head = post = put = patch = delete = options = _proxy

    def initialize(  # type: ignore[override]
        self,
        resolver: ProxyTargetResolver,
        client: ProxyClient | None = None,
        identities: TTLCache[bytes, User] | None = None,
        **options: Any,
    ) -> None:
        self.resolver = resolver
        self.identities = identities
        if client is None:  # one per web app, closed by close_proxy()
            if _SHARED_CLIENT not in self.settings:
                self.settings[_SHARED_CLIENT] = ProxyClient()
            client = self.settings[_SHARED_CLIENT]
        super().initialize(client, **options)

    async def admit(self, url_id: str, *, websocket: bool) -> Admission:
        user = await self.authenticate()
        if user is None:  # also when the server allows unauthenticated access
            if websocket or self.request.method not in ("GET", "HEAD"):
                raise web.HTTPError(403, "Authentication required.")
            raise Redirect(self._login_url())
        try:
            target = await self.resolver.resolve(user, url_id)
        except NotFound:  # one answer whether the id is unknown or another user's
            raise no_container(url_id) from None
        except RemoteAppError as exc:
            raise web.HTTPError(exc.status, exc.message) from None
        return Admission(target, url_id, owner=user.username, user=user.username)

    async def authenticate(self) -> User | None:
        """What ``JupyterHandler.prepare`` does around the identity provider (host check,
        identity, CORS headers), with the identity cache."""
        CallContext.set(CallContext.JUPYTER_HANDLER, self)
        self.current_user = None
        if not self.check_host():
            raise web.HTTPError(403)
        cache = self.identities
        key = None
        if cache is not None and self.request.method in _SAFE_METHODS:
            key = identity_key(self.request)
            user = cache.get(key)
            if user is not None:
                self.current_user = user
                self.set_cors_headers()
                return user
        found = self.identity_provider.get_user(self)
        user = await found if inspect.isawaitable(found) else found
        self.current_user = user
        self.set_cors_headers()
        if key is not None and user is not None:
            cache.put(key, user)  # type: ignore[union-attr]
        return user

    def _login_url(self) -> str:
        """Where tornado's ``@web.authenticated`` sends a browser."""
        url = self.get_login_url()
        if "?" not in url:
            full = bool(urlsplit(url).scheme)
            next_url = self.request.full_url() if full else self.request.uri
            url += "?" + urlencode({"next": next_url})
        return url

    def forget(self, url_id: str) -> None:
        forget = getattr(self.resolver, "forget", None)
        if forget is not None:
            forget(url_id)

    def on_activity(self, admission: Admission) -> None:
        # what JupyterHub's idle culler asks the single-user server for
        self.settings["api_last_activity"] = datetime.now(timezone.utc)

    def origin_allowed(self, origin: str) -> bool:
        if super().origin_allowed(origin):
            return True
        pattern = self.allow_origin_pat  # the server's CORS settings
        return self.allow_origin in ("*", origin) or bool(pattern and re.match(pattern, origin))

    def credential_cookies(self) -> Iterable[str]:
        return (*super().credential_cookies(), self.identity_provider.get_cookie_name(self))


def proxy_handlers(
    base_url: str,
    resolver: ProxyTargetResolver,
    client: ProxyClient | None = None,
    *,
    identity_ttl: float = 5.0,
    handler: type[JupyterProxyHandler] = JupyterProxyHandler,
    **options: Any,
) -> list[tuple[str, type[ContainerProxyHandler], dict[str, Any]]]:
    """The tornado route of the container proxy, under ``base_url``.

    Without ``client``, one ProxyClient is shared through the web app's settings: close it
    with :func:`close_proxy`. Who sent a request is remembered for ``identity_ttl`` seconds
    per exact set of credentials (0: ask the identity provider every time). ``options``:
    ``max_body_size`` (bytes, default 64 GiB) of uploads, ``frame_ancestors``.
    """
    identities = TTLCache[bytes, User](identity_ttl, 1024) if identity_ttl > 0 else None
    prefix = url_path_join(base_url, "remoteapp/")
    route = proxy_route(
        prefix, handler, resolver=resolver, client=client, identities=identities, **options
    )
    return [route]


async def close_proxy(settings: dict[str, Any]) -> None:
    """Close the shared ProxyClient of a web app (its pooled upstream connections)."""
    client = settings.pop(_SHARED_CLIENT, None)
    if client is not None:
        await client.close()
