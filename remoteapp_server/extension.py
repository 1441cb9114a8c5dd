"""The Jupyter Server extension: REST API v1 and the container proxy in ``jupyter lab``,
``jupyter server`` and ``jupyterhub-singleuser``.

The core objects are built once from :class:`remoteapp_server.config.RemoteApp` and
handed to the handlers through the tornado settings. In hub mode
(``c.RemoteApp.service_url``, set by JupyterHub's spawner environment) there is no core
here: the API is forwarded to the remoteapp service and the proxy asks the service
(``hub/facade.py``).
"""

from __future__ import annotations

import os

from jupyter_server.extension.application import ExtensionApp

from .config import HUB_MODE, RemoteApp
from .core.accounting import unavailable
from .core.errors import RemoteAppError
from .core.remoteapps import Identity, RemoteApps
from .handlers.api import api_handlers
from .handlers.base import IdentityRule
from .hub.facade import ServiceClient, ServiceTargetResolver, forward_handlers
from .proxy.appsession import AppsOrigin, AppsSession, AppsSessions, derive_secret
from .proxy.personal import apps_handlers, close_proxy


class ProxyResolver:
    """Maps a proxied request's user to their container, through the same identity rule."""

    def __init__(self, remoteapps: RemoteApps, rule: IdentityRule):
        self.remoteapps = remoteapps
        self.rule = rule

    async def resolve(self, user, url_id: str) -> str:
        return await self.remoteapps.resolve_target(self.rule.identity(user), url_id)

    async def locate(self, session: AppsSession) -> tuple[str, str]:
        """(owner, target) of an apps session's container: the session user's own, or
        anyone's when an admin's ticket opened it."""
        user = None if session.admin else session.user
        return await self.remoteapps.locate(session.url_id, user=user)

    def forget(self, url_id: str) -> None:
        self.remoteapps.forget_target(url_id)


class RemoteAppExtension(ExtensionApp):
    name = "remoteapp_server"
    description = "Dockerized desktop and web applications in JupyterLab tabs."
    classes = [RemoteApp]

    #: set in hub mode (``c.RemoteApp.service_url``): the service does the work
    service: ServiceClient | None = None

    def initialize_settings(self):
        config = RemoteApp(parent=self)
        if config.service_url:
            self._initialize_hub_mode(config)
            return
        under_hub = bool(os.environ.get("JUPYTERHUB_API_TOKEN"))
        mode = "hub-direct" if under_hub else "personal"
        # personal mode: the home of a container is the directory Jupyter serves (its
        # real path: symbolic links are not mounted; braces are not template fields)
        root_dir = os.path.realpath(self.serverapp.root_dir).replace("{", "{{").replace("}", "}}")
        home_source = config.home_source or ("" if under_hub else root_dir)
        manager = config.container_manager(home_source=home_source)
        try:
            accounting = config.open_accounting()
        except RemoteAppError as exc:
            self.log.error("remoteapp: the accounting cannot be opened: %s", exc.message)
            accounting = unavailable(f"the accounting cannot be opened: {exc.message}")
        self.remoteapps = RemoteApps(
            accounting,
            manager,
            mode=mode,
            base_user_url_for=lambda identity: self._base_user_url_for(identity),
        )
        self.identity_rule = IdentityRule(config.personal_user, config.personal_admin)
        # tickets and apps-session cookies: signed with a key derived from the server's
        # cookie secret (kept across restarts when Jupyter keeps it in a file)
        self.apps_origin = AppsOrigin(
            apps_url=config.apps_url, same_origin_fallback=config.apps_same_origin_fallback
        )
        self.apps_sessions = AppsSessions(derive_secret(self.serverapp.cookie_secret))
        self.settings.update(
            remoteapp=self.remoteapps,
            remoteapp_mode=mode,
            remoteapp_identity_rule=self.identity_rule,
            remoteapp_apps_origin=self.apps_origin,
            remoteapp_apps_sessions=self.apps_sessions,
        )
        self.log.info(
            "remoteapp: %s mode, accounting at %s, realm %s",
            mode,
            config.accounting_url,
            config.realm,
        )

    def _initialize_hub_mode(self, config: RemoteApp) -> None:
        """No docker, no database here: users' kernels run as this server's OS user."""
        self.service = ServiceClient(config.service_url)
        ttl = config.service_cache_seconds
        self.service_resolver = ServiceTargetResolver(self.service, ttl=ttl)
        self.settings.update(remoteapp_mode=HUB_MODE)
        self.log.info("remoteapp: hub mode, the remoteapp service at %s", config.service_url)

    def _base_user_url_for(self, identity: Identity) -> str:
        # This server serves exactly one user: containers live under its own base URL.
        return self.serverapp.base_url.rstrip("/") + "/remoteapp"

    def initialize_handlers(self):
        if self.service is not None:
            self.handlers.extend(forward_handlers("/", self.service, self.service_resolver))
            return
        resolver = ProxyResolver(self.remoteapps, self.identity_rule)
        self.handlers.extend(api_handlers("/"))
        apps = apps_handlers(
            "/", resolver, self.apps_origin, self.apps_sessions, served_at=self.serverapp.base_url
        )
        self.handlers.extend(apps)

    async def stop_extension(self):
        await close_proxy(self.serverapp.web_app.settings)
        if self.service is not None:
            await self.service.close()
            return
        self.remoteapps.close()  # containers keep running; a restart finds them again
