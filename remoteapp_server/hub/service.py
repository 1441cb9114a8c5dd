"""The remoteapp JupyterHub service: the privileged half of the hub deployment.

JupyterHub starts it as a managed service (``/services/remoteapp/``)::

    python -m remoteapp_server.hub.service        # or: jupyter remoteapp service

It owns the docker connection and the accounting database, and serves

- the REST API v1 under ``/services/remoteapp/api/`` (the same core as the extension);
- every user's container traffic at ``/services/remoteapp/containers/<url_id>/...``
  (HTTP of every method, streamed, and WebSocket; :mod:`.proxy`), on the apps origin
  ``c.RemoteAppService.apps_url`` — or, without one, through the Hub's proxy on the Hub's
  own origin (warned: an app's scripts could then act as the user who opens it).

Every request is authenticated by the Hub (HubOAuth: a token, or the service's own OAuth
cookie; :mod:`.auth`): the caller's name, groups and scopes come from the Hub's user model
for that token, cached for ``hub_cache_seconds`` only, so revoked scopes stop working
quickly. A caller needs ``access:services!service=remoteapp``; the admin endpoints, and
other users' apps, need ``custom:remoteapp:admin``.

The single-user servers run users' code, so they get neither docker nor the database:
their extension forwards each API call here with the caller's own token (see
:mod:`.facade`). ``jupyter remoteapp hub-config`` prints the JupyterHub configuration.

Several processes (``workers``) may serve one port (SO_REUSEPORT): nothing is kept
between requests that another process would need — identities come from the Hub, targets
from docker's labels, the rest from the database, OAuth states and login cookies are
signed with a secret every process derives from the service's token.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from typing import Any
from urllib.parse import urlsplit

from jupyter_core.application import JupyterApp
from jupyterhub.services.auth import HubOAuth, HubOAuthenticated
from jupyterhub.utils import url_path_join
from tornado import web
from tornado.httpserver import HTTPServer
from tornado.log import app_log
from tornado.netutil import bind_sockets
from traitlets import Enum, Float, Int, Unicode, default
from traitlets.config import Application

from .. import __version__
from ..config import DEFAULT_SERVICE_URL, HUB_MODE, SERVICE_NAME, RemoteApp
from ..core.accounting import unavailable
from ..core.errors import RemoteAppError
from ..core.remoteapps import Identity, RemoteApps
from ..handlers.api import api_handlers
from ..handlers.base import RemoteAppApi
from ..proxy.appsession import (
    SESSION_PATH,
    AppsOrigin,
    AppsSessionHandler,
    AppsSessions,
    request_origin,
)
from .activity import ActivityReporter
from .auth import OAuthCallbackHandler, StatelessHubOAuth, authenticate, derived_secret

#: environment variable that tells a worker process its number (the first is 0)
WORKER_ENV = "REMOTEAPP_SERVICE_WORKER"


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of ``url`` ("" for a path)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""


def listen_address(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    default_port = 443 if parts.scheme == "https" else 80
    return parts.hostname or "127.0.0.1", parts.port or default_port


class ServiceApiHandler(RemoteAppApi, HubOAuthenticated, web.RequestHandler):
    """Base of the service's REST handlers: the caller is the Hub user of the token."""

    expose_endpoint = True  # the façade proxies apps started before hub/ (old path)

    def initialize(self, hub_auth: HubOAuth) -> None:
        self.hub_auth = hub_auth

    @property
    def log(self):
        return app_log

    @property
    def api_root(self) -> str:
        return self.settings["remoteapp_api_root"]

    def get_login_url(self) -> str:
        # an API answers 403 instead of sending programs to a login page
        raise web.HTTPError(403, "Authentication required.")

    async def prepare(self) -> None:
        await authenticate(self)
        await super().prepare()  # RemoteAppApi's: the body size limit

    def get_identity(self) -> Identity:
        return Identity.from_hub_model(self.current_user, self.settings["remoteapp_hub_base_url"])

    def check_xsrf_cookie(self) -> None:
        # HubOAuth checks XSRF itself for cookie-authenticated requests (tokens need none)
        return self.hub_auth.check_xsrf_cookie(self)

    def apps_origin(self) -> str | None:
        return self.settings["remoteapp_hub_apps_origin"]

    def lab_origin(self) -> str:
        # the Lab is on the Hub's origin; its calls come through the façade, whose Host
        # is the service's: the Hub's public URL says it when known
        return self.settings["remoteapp_hub_origin"] or super().lab_origin()

    def container_json(self, container: Any) -> dict[str, Any]:
        if not container.urlpath.startswith(self.settings["remoteapp_hub_prefix"]):
            # started before the service served apps: it serves at its owner's server
            return container.to_dict()
        return super().container_json(container)


class ServiceHomeHandler(HubOAuthenticated, web.RequestHandler):
    """``/services/remoteapp/``: logs a browser in with OAuth and says who it is."""

    def initialize(self, hub_auth: HubOAuth) -> None:
        self.hub_auth = hub_auth

    async def prepare(self) -> None:
        await authenticate(self)

    @web.authenticated
    def get(self) -> None:
        self.set_header("Content-Type", "application/json")
        self.finish(
            json.dumps(
                {
                    "service": SERVICE_NAME,
                    "version": __version__,
                    "user": self.current_user["name"],
                    "api": self.settings["remoteapp_api_root"],
                }
            )
        )


class RemoteAppService(JupyterApp):
    name = "jupyter-remoteapp-service"
    version = __version__
    description = """The remoteapp JupyterHub service: REST API v1 with JupyterHub
    authentication, owning the docker connection and the accounting database, and the
    container traffic of every user."""
    config_file_name = Unicode("jupyter_remoteapp_config")
    classes = [RemoteApp, HubOAuth]
    aliases = {
        "db": "RemoteApp.accounting_url",
        "url": "RemoteAppService.service_url",
        "apps-url": "RemoteAppService.apps_url",
        "workers": "RemoteAppService.workers",
        "log-level": "Application.log_level",
    }

    service_url = Unicode(
        help="""Where the service listens (scheme, address and port; the path is
        ``service_prefix``). Default: $JUPYTERHUB_SERVICE_URL, set by JupyterHub from the
        service's ``url``, else http://127.0.0.1:10101.""",
    ).tag(config=True)

    @default("service_url")
    def _default_service_url(self):
        return os.environ.get("JUPYTERHUB_SERVICE_URL") or DEFAULT_SERVICE_URL

    service_prefix = Unicode(
        help="""URL path the service is served under (the Hub proxy keeps it). Default:
        $JUPYTERHUB_SERVICE_PREFIX, else /services/remoteapp/.""",
    ).tag(config=True)

    @default("service_prefix")
    def _default_service_prefix(self):
        return os.environ.get("JUPYTERHUB_SERVICE_PREFIX") or f"/services/{SERVICE_NAME}/"

    hub_base_url = Unicode(
        help="""JupyterHub's base URL, under which users' servers live (``/user/<name>/``).
        Default: $JUPYTERHUB_BASE_URL, else /.""",
    ).tag(config=True)

    @default("hub_base_url")
    def _default_hub_base_url(self):
        return os.environ.get("JUPYTERHUB_BASE_URL") or "/"

    hub_url = Unicode(
        help="""The Hub's public URL (``https://hub.example.org/``): where a browser on the
        apps origin is sent to log in, and the origin allowed to frame apps. Default:
        $JUPYTERHUB_PUBLIC_HUB_URL (JupyterHub's ``public_url``), else unknown (apps are
        framed by the apps origin only and browsers log in on the Hub's origin).""",
    ).tag(config=True)

    @default("hub_url")
    def _default_hub_url(self):
        return os.environ.get("JUPYTERHUB_PUBLIC_HUB_URL", "")

    apps_url = Unicode(
        "",
        help="""The apps origin (``https://apps.hub.example.org/``): where the service
        serves container traffic, so that apps' scripts run on an origin that holds none
        of the Hub's or the Jupyter servers' cookies. The API's container ``url`` is on it;
        browsers log in to the service there (the OAuth redirect URI of the service, which
        ``hub_config(apps_url=...)`` sets). Empty: apps are served through the Hub's proxy
        on the Hub's own origin, where an app's scripts can act as the user who opens it
        (logged as a warning, and ``GET me`` says ``apps_isolated: false``).""",
    ).tag(config=True)

    apps_listen_url = Unicode(
        help="""Where the service listens for the apps origin, when that is not where it
        already listens. Default: the host and port of ``apps_url``. Empty, or the same as
        ``service_url``: no second listener (a reverse proxy forwards the apps origin to
        ``service_url``).""",
    ).tag(config=True)

    @default("apps_listen_url")
    def _default_apps_listen_url(self):
        return origin_of(self.apps_url)

    hub_cache_seconds = Int(
        10,
        help="""How long the Hub's answer about a token (who, which groups and scopes) is
        reused. Short, so that a revoked scope or token stops working soon.""",
    ).tag(config=True)

    activity_interval = Float(
        60,
        help="""Container traffic is posted to the Hub as its owner's activity at most once
        per this many seconds per user (and worker process).""",
    ).tag(config=True)

    workers = Int(
        1,
        help="""Processes serving the service's port(s) together (SO_REUSEPORT; the kernel
        spreads connections over them). They share nothing but the database, docker and
        the Hub: any of them answers any request.""",
    ).tag(config=True)

    event_loop = Enum(
        ["auto", "uvloop", "asyncio"],
        "auto",
        help="""The event loop: ``uvloop`` (faster proxying; ``pip install uvloop``),
        ``asyncio``, or ``auto``: uvloop when installed.""",
    ).tag(config=True)

    worker = Int(0)

    def load_config_file(self, suppress_errors=True):
        # as the CLI: c.RemoteApp written for a Jupyter server applies here too
        Application.load_config_file(self, "jupyter_server_config", path=self.config_file_paths)
        super().load_config_file(suppress_errors=suppress_errors)

    @property
    def prefix(self) -> str:
        return self.service_prefix.rstrip("/") + "/"

    @property
    def apps_origin(self) -> str | None:
        return origin_of(self.apps_url) or None

    def initialize(self, argv=None):
        super().initialize(argv)
        self.worker = int(os.environ.get(WORKER_ENV, "0"))
        self.remoteapp_config = RemoteApp(parent=self)
        hub_origin = origin_of(self.hub_url)
        auth_options: dict[str, Any] = {"cache_max_age": self.hub_cache_seconds}
        if self.apps_origin:
            # browsers log in on the apps origin: the OAuth client's one redirect URI
            # (hub_config sets the same for the Hub), not JupyterHub's default on its own
            auth_options["oauth_redirect_uri"] = f"{self.apps_origin}{self.prefix}oauth_callback"
            if hub_origin:  # the login page is on the Hub's origin, not the apps origin
                auth_options["hub_host"] = hub_origin
            else:
                self.log.warning(
                    "remoteapp: apps_url without hub_url: browsers on the apps origin "
                    "cannot be sent to the Hub's login (set c.RemoteAppService.hub_url)"
                )
        self.hub_auth = StatelessHubOAuth(parent=self, **auth_options)
        self.hub_auth.state_secret = derived_secret(self.hub_auth.api_token, "oauth state")
        if not self.hub_auth.access_scopes:  # started by hand: never "every Hub user"
            self.hub_auth.access_scopes = {f"access:services!service={SERVICE_NAME}"}
        try:
            accounting = self.remoteapp_config.open_accounting()
        except RemoteAppError as exc:
            # keep serving: every call answers 503 with the reason (as the extension does)
            self.log.error("remoteapp: the accounting cannot be opened: %s", exc.message)
            accounting = unavailable(f"the accounting cannot be opened: {exc.message}")
        base_user_url = self.prefix.rstrip("/")
        self.remoteapps = RemoteApps(
            accounting,
            self.remoteapp_config.container_manager(),
            mode=HUB_MODE,
            # one URL per app for everyone allowed: the service serves it
            base_user_url_for=lambda identity: base_user_url,
        )
        # where apps are served: the apps origin, else (warned) the Hub's own
        self.apps_rule = AppsOrigin(apps_url=self.apps_url, loopback=False)
        self.apps_sessions = AppsSessions(derived_secret(self.hub_auth.api_token, "apps-session"))
        self.activity = ActivityReporter(
            self.hub_auth.api_url, self.hub_auth.api_token, self.activity_interval
        )

    def make_app(self) -> web.Application:
        prefix = self.prefix
        auth = {"hub_auth": self.hub_auth}
        handlers: list[Any] = [
            (prefix, ServiceHomeHandler, auth),
            (url_path_join(prefix, "oauth_callback"), OAuthCallbackHandler, auth),
        ]
        handlers += [
            (pattern, handler, auth)
            for pattern, handler in api_handlers(prefix, ServiceApiHandler, api_prefix="api")
        ]
        # the Lab's iframe: a one-time ticket becomes the apps-session cookie (proxy/appsession)
        session_route = {
            "sessions": self.apps_sessions,
            "prefix": prefix,
            "allowed": lambda request, session: self.apps_rule.serves(
                request_origin(request), session
            ),
        }
        handlers.append((f"{prefix}{SESSION_PATH}", AppsSessionHandler, session_route))
        handlers += self.proxy_routes()
        return web.Application(
            handlers,
            remoteapp=self.remoteapps,
            remoteapp_mode=HUB_MODE,
            remoteapp_api_root=url_path_join(prefix, "api") + "/",
            remoteapp_hub_base_url=self.hub_base_url,
            remoteapp_hub_apps_origin=self.apps_origin,
            remoteapp_hub_origin=origin_of(self.hub_url),
            remoteapp_hub_prefix=prefix,
            remoteapp_apps_sessions=self.apps_sessions,
            # OAuth state and login cookies: the same in every worker, and across restarts
            cookie_secret=derived_secret(self.hub_auth.api_token, "cookie secret"),
        )

    def proxy_routes(self) -> list[Any]:
        """The container proxy's route (:mod:`.proxy`)."""
        from .proxy import service_proxy_routes

        return service_proxy_routes(self)

    # ---------------------------------------------------------------- running
    def start(self):
        if self.event_loop != "asyncio":
            try:
                import uvloop
            except ImportError:
                if self.event_loop == "uvloop":
                    raise
            else:
                uvloop.run(self.serve())
                return
        asyncio.run(self.serve())

    def _sockets(self) -> list[Any]:
        addresses = [listen_address(self.service_url)]
        if self.apps_listen_url:
            apps = listen_address(self.apps_listen_url)
            if apps not in addresses:
                addresses.append(apps)
        sockets = []
        for host, port in addresses:
            sockets += bind_sockets(port, host, reuse_port=self.workers > 1)
        return sockets

    async def serve(self) -> None:
        loop = asyncio.get_running_loop()
        sockets = self._sockets()
        server = HTTPServer(self.make_app(), xheaders=True)
        server.add_sockets(sockets)
        where = ", ".join("http://{}:{}".format(*s.getsockname()[:2]) for s in sockets)
        self.log.info(
            "remoteapp service worker %d at %s%s (accounting %s, realm %s, %s loop)",
            self.worker,
            where,
            self.prefix,
            self.remoteapp_config.accounting_url,
            self.remoteapp_config.realm,
            type(loop).__module__.split(".")[0],
        )
        if self.worker == 0 and not self.apps_origin:
            self.log.warning(
                "remoteapp: no c.RemoteAppService.apps_url: apps are served on the Hub's "
                "origin (through its proxy), where an app's scripts can act as the user "
                "who opens it. Set an apps origin: see docs/jupyterhub.md."
            )
        stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        children: list[subprocess.Popen] = []
        watch: asyncio.Task | None = None
        if self.worker == 0:
            children = [self._spawn_worker(i) for i in range(1, self.workers)]
            if children:
                watch = loop.create_task(self._supervise(children, stop))
        else:
            watch = loop.create_task(self._watch_parent(stop))
        await stop.wait()
        server.stop()
        for child in children:
            if child.poll() is None:
                child.terminate()
        for child in children:
            try:
                await asyncio.wait_for(asyncio.to_thread(child.wait), 10)
            except asyncio.TimeoutError:
                child.kill()
        if watch is not None:
            watch.cancel()
        await server.close_all_connections()
        await self.proxy_client.close()
        await self.activity.close()
        self.remoteapps.close()  # containers keep running; a restart finds them again
        self.log.info("remoteapp service worker %d stopped", self.worker)

    def _spawn_worker(self, index: int) -> subprocess.Popen:
        command = [sys.executable, "-m", "remoteapp_server.hub.service", *self.argv]
        return subprocess.Popen(command, env={**os.environ, WORKER_ENV: str(index)})

    async def _supervise(self, children: list[subprocess.Popen], stop: asyncio.Event) -> None:
        """Restart a worker that died (not one that was told to stop)."""
        while not stop.is_set():
            await asyncio.sleep(1)
            for i, child in enumerate(children):
                if child.poll() is not None and not stop.is_set():
                    self.log.error(
                        "remoteapp: worker %d exited (%s), restarting it", i + 1, child.returncode
                    )
                    children[i] = self._spawn_worker(i + 1)

    async def _watch_parent(self, stop: asyncio.Event) -> None:
        """A worker ends with the first process (JupyterHub stops that one only)."""
        parent = os.getppid()
        while not stop.is_set():
            await asyncio.sleep(1)
            if os.getppid() != parent:
                stop.set()


main = RemoteAppService.launch_instance

if __name__ == "__main__":
    main()
