"""The remoteapp JupyterHub service: the privileged half of the hub deployment.

JupyterHub starts it as a managed service (``/services/remoteapp/``)::

    python -m remoteapp_server.service        # or: jupyter remoteapp service

It owns the docker connection and the accounting database and serves the same REST API
v1 as the server extension, under ``/services/remoteapp/api/``. Every request is
authenticated by the Hub (HubOAuth: a token, or the service's own OAuth cookie): the
caller's name, groups and scopes come from the Hub's user model for that token, cached
for ``hub_cache_seconds`` only, so revoked scopes stop working quickly. A caller needs
``access:services!service=remoteapp``; the admin endpoints need ``custom:remoteapp:admin``.

The single-user servers run users' code, so they get neither docker nor the database:
their extension forwards each API call here with the caller's own token (see
``remoteapp_server.handlers.forward``). ``jupyter remoteapp hub-config`` prints the
JupyterHub configuration for all of this.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
from typing import Any
from urllib.parse import quote, urlsplit

from jupyter_core.application import JupyterApp
from jupyterhub.services.auth import (
    HubOAuth,
    HubOAuthCallbackHandler,
    HubOAuthenticated,
    UserNotAllowed,
)
from jupyterhub.utils import url_path_join
from tornado import web
from tornado.httpserver import HTTPServer
from tornado.log import app_log
from traitlets import Int, Unicode, default
from traitlets.config import Application

from . import __version__
from .config import DEFAULT_SERVICE_URL, HUB_MODE, SERVICE_NAME, RemoteApp
from .core.accounting import unavailable
from .core.errors import RemoteAppError
from .core.remoteapps import ADMIN_SCOPE, Identity, RemoteApps
from .handlers.api import api_handlers
from .handlers.base import RemoteAppApi


def user_base_url(hub_base_url: str, model: dict[str, Any]) -> str:
    """``/user/<name>/``: where JupyterHub serves a user's default server.

    The Hub's own ``server`` field when the model has it (the token may read it), else
    JupyterHub's escaping of the name (``url_escape_path``: everything but ``@~``).
    """
    server = model.get("server")
    if server:
        return server if server.endswith("/") else server + "/"
    return url_path_join(hub_base_url, "user", quote(model["name"], safe="@~")) + "/"


class ServiceApiHandler(RemoteAppApi, HubOAuthenticated, web.RequestHandler):
    """Base of the service's REST handlers: the caller is the Hub user of the token."""

    expose_endpoint = True  # the single-user server's proxy needs where the app listens

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
        # Ask the Hub once, asynchronously (tornado's get_current_user is synchronous and
        # HubAuth would block a thread on it); HubAuthenticated.get_current_user then
        # returns this cached answer.
        model = await self.hub_auth.get_user(self, sync=False)
        self._hub_auth_user_cache = None
        if not model:
            return
        try:
            self._hub_auth_user_cache = self.check_hub_user(model)
        except UserNotAllowed:
            needed = " or ".join(sorted(self.hub_scopes or ()))
            raise web.HTTPError(
                403, f"{model.get('kind', 'user')} {model['name']} lacks the scope {needed}"
            ) from None
        self.settings["remoteapp_user_models"][model["name"]] = model
        await super().prepare()  # RemoteAppApi's: the body size limit

    def get_identity(self) -> Identity:
        model = self.current_user
        scopes = frozenset(model.get("scopes") or ())
        return Identity(
            name=model["name"],
            groups=tuple(model.get("groups") or ()),
            scopes=scopes,
            admin=ADMIN_SCOPE in scopes,
        )

    def check_xsrf_cookie(self) -> None:
        # HubOAuth checks XSRF itself for cookie-authenticated requests (tokens need none)
        return self.hub_auth.check_xsrf_cookie(self)


class ServiceHomeHandler(HubOAuthenticated, web.RequestHandler):
    """``/services/remoteapp/``: logs a browser in with OAuth and says who it is."""

    def initialize(self, hub_auth: HubOAuth) -> None:
        self.hub_auth = hub_auth

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
    authentication, owning the docker connection and the accounting database."""
    config_file_name = Unicode("jupyter_remoteapp_config")
    classes = [RemoteApp, HubOAuth]
    aliases = {
        "db": "RemoteApp.accounting_url",
        "url": "RemoteAppService.service_url",
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
        help="""JupyterHub's base URL, under which users' servers live (``/user/<name>/``)
        and so their containers. Default: $JUPYTERHUB_BASE_URL, else /.""",
    ).tag(config=True)

    @default("hub_base_url")
    def _default_hub_base_url(self):
        return os.environ.get("JUPYTERHUB_BASE_URL") or "/"

    hub_cache_seconds = Int(
        10,
        help="""How long the Hub's answer about a token (who, which groups and scopes) is
        reused. Short, so that a revoked scope or token stops working soon.""",
    ).tag(config=True)

    def load_config_file(self, suppress_errors=True):
        # as the CLI: c.RemoteApp written for a Jupyter server applies here too
        Application.load_config_file(self, "jupyter_server_config", path=self.config_file_paths)
        super().load_config_file(suppress_errors=suppress_errors)

    def initialize(self, argv=None):
        super().initialize(argv)
        self.remoteapp_config = RemoteApp(parent=self)
        self.hub_auth = HubOAuth(parent=self, cache_max_age=self.hub_cache_seconds)
        if not self.hub_auth.access_scopes:  # started by hand: never "every Hub user"
            self.hub_auth.access_scopes = {f"access:services!service={SERVICE_NAME}"}
        self.user_models: dict[str, dict[str, Any]] = {}
        try:
            accounting = self.remoteapp_config.open_accounting()
        except RemoteAppError as exc:
            # keep serving: every call answers 503 with the reason (as the extension does)
            self.log.error("remoteapp: the accounting cannot be opened: %s", exc.message)
            accounting = unavailable(f"the accounting cannot be opened: {exc.message}")
        self.remoteapps = RemoteApps(
            accounting,
            self.remoteapp_config.container_manager(),
            mode=HUB_MODE,
            base_url_for=self.base_url_for,
        )

    def base_url_for(self, identity: Identity) -> str:
        model = self.user_models.get(identity.name) or {"name": identity.name}
        return user_base_url(self.hub_base_url, model)

    def make_app(self) -> web.Application:
        prefix = self.service_prefix.rstrip("/") + "/"
        auth = {"hub_auth": self.hub_auth}
        handlers: list[Any] = [
            (prefix, ServiceHomeHandler, auth),
            (url_path_join(prefix, "oauth_callback"), HubOAuthCallbackHandler, auth),
        ]
        handlers += [
            (pattern, handler, auth)
            for pattern, handler in api_handlers(prefix, ServiceApiHandler, api_prefix="api")
        ]
        return web.Application(
            handlers,
            remoteapp=self.remoteapps,
            remoteapp_mode=HUB_MODE,
            remoteapp_api_root=url_path_join(prefix, "api") + "/",
            remoteapp_user_models=self.user_models,
            # OAuth state cookies only: a new secret per start just means a new login
            cookie_secret=secrets.token_bytes(32),
        )

    def start(self):
        asyncio.run(self.serve())

    async def serve(self) -> None:
        parts = urlsplit(self.service_url)
        host, port = parts.hostname or "127.0.0.1", parts.port or 10101
        server = HTTPServer(self.make_app(), xheaders=True)
        server.listen(port, host)
        self.log.info(
            "remoteapp service at http://%s:%s%s (accounting %s, realm %s)",
            host,
            port,
            self.service_prefix,
            self.remoteapp_config.accounting_url,
            self.remoteapp_config.realm,
        )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        server.stop()
        self.remoteapps.close()  # containers keep running; a restart finds them again
        self.log.info("remoteapp service stopped")


main = RemoteAppService.launch_instance

if __name__ == "__main__":
    main()
