"""The JupyterHub configuration of a remoteapp deployment.

``hub_config(...)`` returns it as ``{class: {trait: value}}``, ``configure_hub(c, ...)``
applies it to a ``jupyterhub_config.py``'s ``c`` (adding to the services, roles, scopes and
environment already configured there) and ``jupyter remoteapp hub-config`` prints it as
Python lines to paste into one. What it sets up, and why:

- the managed service ``remoteapp`` (docker + accounting + every user's container
  traffic at ``/services/remoteapp/containers/<url_id>/``; ``remoteapp_server.hub.service``),
  with its OAuth callback on the apps origin when ``apps_url`` is given (a browser then
  logs in to the service there, and only there);
- the role ``remoteapp-service`` giving the service's own token ``users:activity``: the
  service posts container traffic as its owner's activity (``hub/activity.py``), or the
  Hub — and jupyterhub-idle-culler — would take a user working only in a desktop for
  idle. Nothing else: the service learns who calls from the caller's own token;
- the custom scope ``custom:remoteapp:admin`` and a role ``remoteapp-admin`` granting it;
- the ``user`` role plus ``access:services!service=remoteapp``: the service refuses
  tokens without it;
- ``Spawner.oauth_client_allowed_scopes`` and ``Spawner.server_token_scopes``: without
  them the browser's (page-config) token and the kernels' ``$JUPYTERHUB_API_TOKEN`` lack
  the service's scopes, and the single-user server could not forward the user's calls;
- ``Spawner.environment``: ``REMOTEAPP_SERVICE_URL`` puts the single-user extension into
  hub mode (no docker, no database; it forwards to the service).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Any

from ..config import DEFAULT_SERVICE_URL, SERVICE_NAME
from ..core.remoteapps import ADMIN_SCOPE

ACCESS_SCOPE = f"access:services!service={SERVICE_NAME}"
ADMIN_ROLE = "remoteapp-admin"
SERVICE_ROLE = "remoteapp-service"
#: what the service's own token needs: record its users' activity (see the module doc)
SERVICE_SCOPES = ("users:activity",)
#: JupyterHub's default scopes of ``$JUPYTERHUB_API_TOKEN`` (its ``server`` role)
DEFAULT_SERVER_TOKEN_SCOPES = ("users:activity!user", "access:servers!server")

#: traits that ``configure_hub`` adds to rather than replaces
_EXTENDED = {("JupyterHub", "services"), ("JupyterHub", "load_roles")}
_UPDATED = {("JupyterHub", "custom_scopes"), ("Spawner", "environment")}


def hub_config(
    *,
    service_url: str = DEFAULT_SERVICE_URL,
    servers_service_url: str | None = None,
    admin_users: Iterable[str] = (),
    admin_groups: Iterable[str] = (),
    remoteapp_options: dict[str, Any] | None = None,
    service_options: dict[str, Any] | None = None,
    service_environment: dict[str, str] | None = None,
    python: str = sys.executable,
    hub_base_url: str = "/",
    apps_url: str | None = None,
    hub_url: str | None = None,
    workers: int | None = None,
) -> dict[str, dict[str, Any]]:
    """The JupyterHub configuration for remoteapp, as ``{class: {trait: value}}``.

    - ``service_url``: where the service listens (JupyterHub's service ``url``).
    - ``servers_service_url``: the service as the single-user servers reach it, with the
      service path. Default: ``service_url`` + ``/services/remoteapp/`` — right when the
      servers run on the Hub's host (LocalProcessSpawner); with DockerSpawner give an
      address the containers reach (and make the service listen there).
    - ``admin_users``, ``admin_groups``: members of the ``remoteapp-admin`` role.
    - ``remoteapp_options``: ``c.RemoteApp`` traits of the service, passed on its command
      line (``{"accounting_url": "/srv/remoteapp/remoteapp.sqlite", "realm": "hub"}``).
    - ``service_options``: ``c.RemoteAppService`` traits, on its command line too
      (``{"activity_interval": 60}``).
    - ``service_environment``: extra environment of the service (``DOCKER_HOST``...).
    - ``apps_url``: the apps origin (``https://apps.hub.example.org/``), where the service
      serves container traffic and where browsers log in to it
      (``c.RemoteAppService.apps_url``). None: through the Hub's proxy on the Hub's own
      origin, which lets an app's scripts act as its user (the service warns).
    - ``hub_url``: the Hub's public URL (``c.RemoteAppService.hub_url``): where browsers on
      the apps origin log in, the origin that may frame apps. ``configure_hub`` takes
      ``c.JupyterHub.public_url`` or ``bind_url`` when not given.
    - ``workers``: processes of the service (``c.RemoteAppService.workers``).
    """
    prefix = f"{hub_base_url.rstrip('/')}/services/{SERVICE_NAME}/"
    if servers_service_url is None:
        servers_service_url = service_url.rstrip("/") + prefix
    command = [python, "-m", "remoteapp_server.hub.service"]
    command += [f"--RemoteApp.{key}={value}" for key, value in (remoteapp_options or {}).items()]
    command += [
        f"--RemoteAppService.{key}={value}" for key, value in (service_options or {}).items()
    ]
    service: dict[str, Any] = {
        "name": SERVICE_NAME,
        "url": service_url,
        "command": command,
        "environment": dict(service_environment or {}),
        # the service's own OAuth login (a browser opening an app): no confirmation page;
        # the admin scope in its cookie's token lets admins open users' apps
        "oauth_no_confirm": True,
        "oauth_client_allowed_scopes": [ADMIN_SCOPE],
        "display": False,
    }
    if apps_url:
        apps_url = apps_url.rstrip("/") + "/"
        command.append(f"--RemoteAppService.apps_url={apps_url}")
        # one redirect URI per OAuth client: the apps origin's, where browsers use apps
        service["oauth_redirect_uri"] = f"{apps_url.rstrip('/')}{prefix}oauth_callback"
    if hub_url:
        command.append(f"--RemoteAppService.hub_url={hub_url}")
    if workers:
        command.append(f"--RemoteAppService.workers={int(workers)}")
    return {
        "JupyterHub": {
            "services": [service],
            "custom_scopes": {
                ADMIN_SCOPE: {
                    "description": "Manage remoteapp: users, applications, grants, "
                    "and every user's application containers.",
                }
            },
            "load_roles": [
                {
                    "name": ADMIN_ROLE,
                    "description": "remoteapp administrators",
                    "scopes": [ADMIN_SCOPE],
                    "users": sorted(admin_users),
                    "groups": sorted(admin_groups),
                },
                {
                    # JupyterHub's default user role is ["self"]: keep it, add the service
                    "name": "user",
                    "scopes": ["self", ACCESS_SCOPE],
                },
                {
                    # the service's own token: users' container traffic is their activity
                    "name": SERVICE_ROLE,
                    "description": "the remoteapp service records its users' activity",
                    "scopes": list(SERVICE_SCOPES),
                    "services": [SERVICE_NAME],
                },
            ],
        },
        "Spawner": {
            # tokens the servers hold for their users get the service's scopes (the Hub
            # only hands out the subset the user has: the admin scope to admins only)
            "oauth_client_allowed_scopes": [ACCESS_SCOPE, ADMIN_SCOPE],
            "server_token_scopes": [*DEFAULT_SERVER_TOKEN_SCOPES, ACCESS_SCOPE, ADMIN_SCOPE],
            "environment": {"REMOTEAPP_SERVICE_URL": servers_service_url},
        },
    }


def configure_hub(c: Any, **options: Any) -> dict[str, dict[str, Any]]:
    """Apply :func:`hub_config` to a ``jupyterhub_config.py``'s ``c``; returns it too.

    Services and roles are appended, scopes and the spawners' environment updated; the
    rest is set.
    """
    if not options.get("hub_url"):
        for trait in ("public_url", "bind_url"):
            if trait in c.JupyterHub and c.JupyterHub[trait]:
                options["hub_url"] = c.JupyterHub[trait]
                break
    config = hub_config(**options)
    for section, traits in config.items():
        for trait, value in traits.items():
            current = getattr(c, section)
            if (section, trait) in _EXTENDED:
                getattr(current, trait).extend(value)
            elif (section, trait) in _UPDATED:
                getattr(current, trait).update(value)
            else:
                setattr(current, trait, value)
    return config


def hub_config_text(**options: Any) -> str:
    """:func:`hub_config` as lines for a ``jupyterhub_config.py``."""
    lines = [
        "# remoteapp: generated by `jupyter remoteapp hub-config`",
        "# (or call remoteapp_server.hub.configure_hub(c, ...) in this file)",
    ]
    for section, traits in hub_config(**options).items():
        for trait, value in traits.items():
            text = _python(value)
            if (section, trait) in _EXTENDED:
                lines.append(f"c.{section}.{trait}.extend({text})")
            elif (section, trait) in _UPDATED:
                lines.append(f"c.{section}.{trait}.update({text})")
            else:
                lines.append(f"c.{section}.{trait} = {text}")
    return "\n".join(lines) + "\n"


def _python(value: Any, indent: int = 0) -> str:
    """A readable Python literal: containers one item per line, indented by 4."""
    pad, inner = " " * indent, " " * (indent + 4)
    if isinstance(value, dict) and value:
        items = [f"{inner}{k!r}: {_python(v, indent + 4)}," for k, v in value.items()]
        return "{\n" + "\n".join(items) + f"\n{pad}}}"
    if isinstance(value, list) and value and not all(isinstance(v, str) for v in value):
        items = [f"{inner}{_python(v, indent + 4)}," for v in value]
        return "[\n" + "\n".join(items) + f"\n{pad}]"
    return repr(value)
