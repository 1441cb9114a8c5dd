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
from jupyter_server.auth.decorator import allow_unauthenticated
from jupyter_server.base.call_context import CallContext
from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.utils import url_path_join
from tornado import web

from ..core.errors import NotFound, RemoteAppError
from .appsession import (
    SESSION_PATH,
    AppsOrigin,
    AppsSession,
    AppsSessionHandler,
    AppsSessions,
    frame_ancestors,
    request_origin,
)
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

    _refused_host: web.HTTPError | None = None

    async def prepare(self) -> None:  # type: ignore[override]
        # first who it is, as in JupyterHandler.prepare: @web.authenticated (above) then
        # sees the user whatever the base refuses (a '..' path is a 400 for the user)
        try:
            await self.authenticate()
        except web.HTTPError as refusal:
            self._refused_host = refusal
        await super().prepare()

    async def admit(self, url_id: str, *, websocket: bool) -> Admission:
        if self._refused_host is not None:
            raise self._refused_host
        user: User | None = self.current_user
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


# -- apps on an origin of their own (proxy/appsession.py) -------------------------------------


class AppsResolver(ProxyTargetResolver, Protocol):
    async def locate(self, session: AppsSession) -> tuple[str, str]:
        """(owner, target) of the container of an apps session; NotFound otherwise."""
        ...


class PersonalProxyHandler(JupyterProxyHandler):
    """The proxy of a Jupyter server whose apps are served on an origin of their own.

    Admits a request by, in this order:

    1. the apps-session cookie of this container, on the origin the session's Lab
       designated (its apps origin; its own when there is none and the fallback is
       allowed); the answer may be framed by that Lab only;
    2. on a Lab origin without an apps origin (the same-origin fallback): Jupyter's
       credentials, as any Jupyter page (refused with ``apps_same_origin_fallback =
       False``);
    3. elsewhere a token in the ``Authorization`` header (scripts, the Python client; a
       browser never sends one on its own), checked with the request's cookies hidden
       from the identity provider, so that Jupyter's cookies alone never admit anything
       on an apps origin or on a Lab origin that has one. No login redirect there.
    """

    #: the checks are made in admit(); the methods only answer what it decided
    _proxy = allow_unauthenticated(ContainerProxyHandler._proxy)
    get = head = post = put = patch = delete = options = _proxy

    def initialize(  # type: ignore[override]
        self,
        resolver: AppsResolver,
        apps: AppsOrigin,
        sessions: AppsSessions,
        **options: Any,
    ) -> None:
        self.apps = apps
        self.sessions = sessions
        super().initialize(resolver, **options)

    def _frame_ancestors(self, value: str) -> None:
        self.frame_ancestors = value
        self.set_header("Content-Security-Policy", value)

    async def admit(self, url_id: str, *, websocket: bool) -> Admission:
        if not self.check_host():  # DNS rebinding: only the names Jupyter serves
            raise web.HTTPError(403)
        origin = request_origin(self.request)
        session = self.sessions.from_cookies(self.request.headers.get("Cookie"), url_id)
        if session is not None and self.apps.serves(origin, session):
            self._frame_ancestors(frame_ancestors([session.lab_origin]))
            try:
                owner, target = await self.resolver.locate(session)  # type: ignore[attr-defined]
            except NotFound:
                raise no_container(url_id) from None
            self.current_user = User(session.user)
            return Admission(target, url_id, owner=owner, user=session.user)
        self._frame_ancestors("frame-ancestors 'none'")
        if self.apps.of(origin) is None:  # a Lab origin with no apps origin
            if not self.apps.same_origin_fallback:
                raise web.HTTPError(
                    403, "Apps are not served on JupyterLab's origin (apps_same_origin_fallback)."
                )
            _warn_same_origin(self.log, origin)
            self._frame_ancestors("frame-ancestors 'self'")
            return await super().admit(url_id, websocket=websocket)
        if not _TOKEN_HEADER.match(self.request.headers.get("Authorization", "")):
            raise web.HTTPError(
                403, "Open this app from JupyterLab (this origin takes an apps session only)."
            )
        cookies = self.request.headers.get_list("Cookie")
        self.request.headers.pop("Cookie", None)
        try:  # the token, not the Jupyter cookies the browser may hold for this origin
            return await super().admit(url_id, websocket=websocket)
        except Redirect:
            raise web.HTTPError(403, "Authentication required.") from None
        finally:
            for value in cookies:
                self.request.headers.add("Cookie", value)


_TOKEN_HEADER = re.compile(r"\s*(token|bearer)\s+\S", re.IGNORECASE)
_warned: set[str] = set()


def _warn_same_origin(log: Any, origin: str) -> None:
    if origin not in _warned and len(_warned) < 64:
        _warned.add(origin)
        log.warning(
            "remoteapp: JupyterLab is reached at %s, which has no apps origin: apps are served"
            " on JupyterLab's own origin, where an app's script can act as the user. Reach"
            " JupyterLab at localhost or 127.0.0.1, set c.RemoteApp.apps_url, or refuse"
            " this with c.RemoteApp.apps_same_origin_fallback = False.",
            origin,
        )


class PersonalAppsSessionHandler(AppsSessionHandler):
    """The apps-session endpoint in a Jupyter server (it checks its ticket itself)."""

    get = allow_unauthenticated(AppsSessionHandler.get)


def apps_handlers(
    base_url: str,
    resolver: AppsResolver,
    apps: AppsOrigin,
    sessions: AppsSessions,
    *,
    served_at: str | None = None,
    **options: Any,
) -> list[tuple[str, type[web.RequestHandler], dict[str, Any]]]:
    """The proxy (:class:`PersonalProxyHandler`) and the apps-session endpoint
    ``{base_url}remoteapp/apps-session`` of a Jupyter server. ``served_at``: the server's
    real base URL, when the routes are given under ``/`` (an ExtensionApp's routes are
    put under the server's base URL by jupyter_server; the redirect and the cookie's
    path need the whole path)."""
    prefix = url_path_join(base_url, "remoteapp/")
    full_prefix = url_path_join(served_at or base_url, "remoteapp/")

    def allowed(request: Any, session: AppsSession) -> bool:
        return apps.serves(request_origin(request), session)

    endpoint = (
        f"{prefix}{SESSION_PATH}",
        PersonalAppsSessionHandler,
        {"sessions": sessions, "prefix": full_prefix, "allowed": allowed},
    )
    proxy = proxy_handlers(
        base_url, resolver, handler=PersonalProxyHandler, apps=apps, sessions=sessions, **options
    )
    return [endpoint, *proxy]
