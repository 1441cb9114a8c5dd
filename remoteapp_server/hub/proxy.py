"""The service's container proxy: ``/services/remoteapp/containers/<url_id>/...``.

One URL per app for everyone allowed to use it. :class:`ServiceProxyHandler` is the proxy
seam (:class:`~remoteapp_server.proxy.handler.ContainerProxyHandler`) with

- authentication by HubOAuth (:func:`.auth.authenticate`): ``Authorization: token`` for
  scripts, the service's OAuth cookie for browsers (set on the apps origin by the OAuth
  callback there; a browser without one is sent to the Hub's login and back), or the
  apps-session cookie of the Lab's iframe (``proxy/appsession.py``: a one-time ticket
  from ``POST containers/<url_id>/ticket``, redeemed at ``<prefix>apps-session``);
- authorization: the container's owner, or an admin (``custom:remoteapp:admin`` in the
  token's scopes); everyone else gets the 404 of a container that does not exist;
- the origin rule: with an apps origin (``c.RemoteAppService.apps_url``) browsers use
  apps there only — a request on another origin (the Hub's, through its proxy) without a
  token is redirected to the same path on the apps origin, never served, since the app's
  scripts would run on the Hub's origin;
- the owner's activity posted to the Hub (:mod:`.activity`), throttled.

Targets come from docker's labels through the core (``RemoteApps.proxy_target``, cached
for a few seconds), identities from the Hub: any worker process serves any request.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from jupyterhub.services.auth import HubOAuth, HubOAuthenticated
from tornado import web

from ..core.errors import NotFound, RemoteAppError
from ..core.remoteapps import Identity, RemoteApps
from ..proxy.appsession import AppsOrigin, AppsSession, AppsSessions, request_origin
from ..proxy.handler import Admission, ContainerProxyHandler, Redirect, no_container, proxy_route
from ..proxy.upstream import ProxyClient
from .activity import ActivityReporter
from .auth import authenticate

if TYPE_CHECKING:
    from .service import RemoteAppService


def _netloc(url_or_origin: str) -> str:
    """``host:port`` of a URL, with the scheme's default port spelled out."""
    parts = urlsplit(url_or_origin)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{(parts.hostname or '').lower()}:{port}"


class ServiceProxyHandler(HubOAuthenticated, ContainerProxyHandler):
    """Container traffic of the JupyterHub service (see the module docstring)."""

    def initialize(  # type: ignore[override]
        self,
        client: ProxyClient,
        *,
        hub_auth: HubOAuth,
        remoteapps: RemoteApps,
        activity: ActivityReporter,
        hub_base_url: str = "/",
        apps_origin: str | None = None,
        apps_sessions: AppsSessions | None = None,
        apps_rule: AppsOrigin | None = None,
        **options: Any,
    ) -> None:
        super().initialize(client, **options)
        self.hub_auth = hub_auth
        self.remoteapps = remoteapps
        self.activity = activity
        self.hub_base_url = hub_base_url
        self.apps_origin = apps_origin
        self.apps_sessions = apps_sessions
        self.apps_rule = apps_rule or AppsOrigin(loopback=False)

    # HubAuthenticated's check would refuse the app's own forms (cookie-authenticated POSTs
    # without our XSRF token): the app checks its own; HubOAuth calls this one
    check_xsrf_cookie = ContainerProxyHandler.check_xsrf_cookie

    def on_apps_origin(self) -> bool:
        """Whether this request came to the apps origin (always true without one)."""
        if self.apps_origin is None:
            return True
        host = self.request.host or ""
        return _netloc(f"{self.request.protocol}://{host}") == _netloc(self.apps_origin)

    async def admit(self, url_id: str, *, websocket: bool) -> Admission:
        model = await authenticate(self)
        on_apps_origin = self.on_apps_origin()
        if model is None:
            session = self.apps_session(url_id)
            if session is not None:  # the Lab's iframe, through a ticket
                who = Identity(name=session.user, admin=session.admin)
                owner, target = await self._target(who, url_id)
                return Admission(target, url_id, owner=owner, user=who.name)
            if websocket or self.request.method not in ("GET", "HEAD"):
                raise web.HTTPError(403, "Authentication required.")
            if not on_apps_origin:  # browsers use apps on the apps origin only
                raise Redirect(f"{self.apps_origin}{self.request.uri}")
            raise Redirect(self.get_login_url())
        who = Identity.from_hub_model(model, self.hub_base_url)
        owner, target = await self._target(who, url_id)
        if not on_apps_origin and not self._token_in_header():
            # a cookie here would mean the service's login cookie on the Hub's origin
            # (set before apps_url was): never run the app's scripts there
            if websocket or self.request.method not in ("GET", "HEAD"):
                raise web.HTTPError(403, f"apps are served at {self.apps_origin}")
            raise Redirect(f"{self.apps_origin}{self.request.uri}")
        return Admission(target, url_id, owner=owner, user=who.name)

    def apps_session(self, url_id: str) -> AppsSession | None:
        """The apps-session cookie's session for ``url_id``, if valid on this origin."""
        if self.apps_sessions is None:
            return None
        session = self.apps_sessions.from_cookies(self.request.headers.get("Cookie"), url_id)
        if session is None or not self.apps_rule.serves(request_origin(self.request), session):
            return None
        return session

    async def _target(self, who: Identity, url_id: str) -> tuple[str, str]:
        try:
            return await self.remoteapps.proxy_target(who, url_id)
        except NotFound:  # one answer whether the id is unknown, stopped or another user's
            raise no_container(url_id) from None
        except RemoteAppError as exc:
            raise web.HTTPError(exc.status, exc.message) from None

    def _token_in_header(self) -> bool:
        return bool(self.hub_auth.get_token(self, in_cookie=False))

    def forget(self, url_id: str) -> None:
        self.remoteapps.forget_target(url_id)

    def on_activity(self, admission: Admission) -> None:
        self.activity.record(admission.owner)

    def credential_cookies(self) -> Iterable[str]:
        # the service's login cookie and its OAuth state cookies (<name>-oauth-state...)
        return (*super().credential_cookies(), f"{self.hub_auth.cookie_name}*")


def service_proxy_routes(app: RemoteAppService) -> list[tuple[str, type, dict[str, Any]]]:
    """The proxy's route in the service's web app: one ProxyClient per process."""
    frame_ancestors = "'self'"
    hub_origin = urlsplit(app.hub_url)
    if app.apps_origin and hub_origin.scheme and hub_origin.netloc:
        # the Lab (on the Hub's origin) frames the apps
        frame_ancestors += f" {hub_origin.scheme}://{hub_origin.netloc}"
    app.proxy_client = ProxyClient()
    return [
        proxy_route(
            app.prefix,
            ServiceProxyHandler,
            client=app.proxy_client,
            hub_auth=app.hub_auth,
            remoteapps=app.remoteapps,
            activity=app.activity,
            hub_base_url=app.hub_base_url,
            apps_origin=app.apps_origin,
            apps_sessions=app.apps_sessions,
            apps_rule=app.apps_rule,
            frame_ancestors=frame_ancestors,
        )
    ]
