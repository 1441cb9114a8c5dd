"""``jupyter remoteapp``: the operator's command line.

Database commands (``db``, ``user``, ``app``, ``grant``, ``revoke``, ``images``) work on
the accounting and the docker engine directly, with the same ``c.RemoteApp``
configuration the server uses. Errors are one line on stderr and a non-zero exit.
"""

from __future__ import annotations

from .accounting import AppGroup, DbGroup, Grant, Images, Revoke, UserGroup
from .base import Command, Group, UsageError
from .hubconfig import HubConfig
from .rest import Available, Login, Logs, Running, Start, Stop

__all__ = ["Command", "Group", "RemoteAppCLI", "UsageError", "main"]


class RemoteAppCLI(Group):
    name = "jupyter-remoteapp"
    description = """Manage remoteapp: the accounting database (users, applications,
    grants) and the docker images that carry remoteapp labels."""
    examples = """
jupyter remoteapp db init
jupyter remoteapp user create alice
jupyter remoteapp app create remoteapp/demo-vnc:latest --verify
jupyter remoteapp grant remoteapp/demo-vnc:latest alice --allow-home
jupyter remoteapp revoke --all remoteapp/demo-vnc:latest
jupyter remoteapp images
"""
    subcommands = {
        "db": (DbGroup, DbGroup.description),
        "user": (UserGroup, UserGroup.description),
        "app": (AppGroup, AppGroup.description),
        "grant": (Grant, Grant.description),
        "revoke": (Revoke, Revoke.description.split(":")[0] + "."),
        "images": (Images, Images.description),
        "available": (Available, Available.description),
        "start": (Start, Start.description),
        "running": (Running, Running.description),
        "stop": (Stop, Stop.description),
        "logs": (Logs, Logs.description),
        "login": (Login, Login.description),
        "hub-config": (HubConfig, HubConfig.description.split(":")[0] + "."),
        "service": (
            "remoteapp_server.hub.service.RemoteAppService",
            "Run the remoteapp JupyterHub service (JupyterHub starts it: see hub-config).",
        ),
    }


def main(argv: list[str] | None = None) -> None:
    RemoteAppCLI.launch_instance(argv)
