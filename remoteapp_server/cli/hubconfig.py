"""``jupyter remoteapp hub-config``: the JupyterHub configuration of a deployment."""

from __future__ import annotations

import sys

from traitlets import Int, List, Unicode

from ..config import DEFAULT_SERVICE_URL
from .base import Command


class HubConfig(Command):
    name = "hub-config"
    description = """Print the JupyterHub configuration of a remoteapp deployment: the
    managed service, the custom:remoteapp:admin scope and its role, the user role's access
    to the service, and the spawner settings that put single-user servers in hub mode."""
    usage_line = (
        "hub-config [--admin-user NAME ...] [--admin-group G ...] [--service-url URL] [--db URL]"
        " [--apps-url URL --hub-url URL] [--workers N]"
    )

    service_url = Unicode(
        DEFAULT_SERVICE_URL,
        help="Where the remoteapp service listens (JupyterHub's service url).",
    ).tag(config=True)
    servers_service_url = Unicode(
        None,
        allow_none=True,
        help="""The service as single-user servers reach it, with its path. Default: the
        service URL + /services/remoteapp/ (servers on the Hub's host). With
        DockerSpawner: an address the containers reach.""",
    ).tag(config=True)
    admin_users = List(Unicode(), help="Users given the remoteapp-admin role.").tag(config=True)
    admin_groups = List(Unicode(), help="Groups given the remoteapp-admin role.").tag(config=True)
    apps_url = Unicode(
        None,
        allow_none=True,
        help="""The apps origin (https://apps.hub.example.org/) where the service serves
        container traffic. Default: none, apps are served through the Hub's proxy on the
        Hub's origin (their scripts could act as their users: see docs/jupyterhub.md).""",
    ).tag(config=True)
    hub_url = Unicode(
        None,
        allow_none=True,
        help="""The Hub's public URL (https://hub.example.org/): where browsers on the apps
        origin log in, the origin that frames apps. Needed with --apps-url.""",
    ).tag(config=True)
    workers = Int(1, help="Processes of the remoteapp service.").tag(config=True)
    aliases = dict(
        Command.aliases,
        **{
            "service-url": "HubConfig.service_url",
            "servers-service-url": "HubConfig.servers_service_url",
            "admin-user": "HubConfig.admin_users",
            "admin-group": "HubConfig.admin_groups",
            "apps-url": "HubConfig.apps_url",
            "hub-url": "HubConfig.hub_url",
            "workers": "HubConfig.workers",
        },
    )

    def run(self):
        from ..hub import hub_config_text

        self.args(0, "no argument")
        # options given here (--db) go to the service's command line
        options = dict(self.cli_config.get("RemoteApp", {}))
        sys.stdout.write(
            hub_config_text(
                service_url=self.service_url,
                servers_service_url=self.servers_service_url,
                admin_users=self.admin_users,
                admin_groups=self.admin_groups,
                remoteapp_options=options,
                python=sys.executable,
                apps_url=self.apps_url,
                hub_url=self.hub_url,
                workers=self.workers if self.workers != 1 else None,
            )
        )
