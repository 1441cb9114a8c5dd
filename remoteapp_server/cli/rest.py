"""Commands that talk to a running server's REST API, as the user whose token they hold."""

from __future__ import annotations

import getpass
import os
import sys

from traitlets import Unicode

from ..client import RemoteAppClient, save_login
from .base import Command, UsageError


# ------------------------------------------------------------------ REST (a running server)
class RestCommand(Command):
    """Talks to a running server's REST API, as the user whose token it holds."""

    url = Unicode(
        None,
        allow_none=True,
        help="""URL of the Jupyter server, with its base path (e.g.
        https://hub.example.org/user/alice/). Default: $REMOTEAPP_URL, the JupyterHub
        environment, the login file, or the Jupyter server running on this machine.""",
    ).tag(config=True)
    token = Unicode(
        None,
        allow_none=True,
        help="API token (default: $REMOTEAPP_TOKEN, $JUPYTERHUB_API_TOKEN or the login file).",
    ).tag(config=True)
    aliases = {
        "url": "RestCommand.url",
        "token": "RestCommand.token",
        "log-level": "Application.log_level",
    }

    def client(self) -> RemoteAppClient:
        return RemoteAppClient(self.url, self.token)


class Available(RestCommand):
    name = "available"
    description = "List the applications you may start, with their mapping ids."
    usage_line = "available [--url URL]"

    def run(self):
        self.args(0, "no argument")
        for entry in self.client().applications():
            image = entry["image"]
            running = f"  running: {', '.join(entry['containers'])}" if entry["containers"] else ""
            print(f"{entry['mapping_id']}  {image['name']}  {image['ui_name']}{running}")


class Start(RestCommand):
    name = "start"
    description = "Start an application and print its URL when it is ready."
    usage_line = "start MAPPING_ID [--resolution WxH] [--url URL]"
    resolution = Unicode(None, allow_none=True, help="Display size, e.g. 1280x800.").tag(
        config=True
    )
    aliases = dict(RestCommand.aliases, resolution="Start.resolution")

    def run(self):
        (mapping_id,) = self.args(1, "MAPPING_ID")
        client = self.client()
        container = client.start(
            mapping_id,
            resolution=self.resolution,
            progress=lambda event: print(f"{event['stage']}: {event['message']}", file=sys.stderr),
        )
        print(client.url(container))


class Running(RestCommand):
    name = "running"
    description = "List your running applications."
    usage_line = "running [--url URL]"

    def run(self):
        self.args(0, "no argument")
        client = self.client()
        for container in client.containers():
            print(
                f"{container['url_id']}  {container['status']}  {container['image']}  "
                f"{client.url(container)}"
            )


class Stop(RestCommand):
    name = "stop"
    description = "Stop one of your applications."
    usage_line = "stop URL_ID [--url URL]"

    def run(self):
        (url_id,) = self.args(1, "URL_ID")
        self.client().stop(url_id)
        print(f"stopped {url_id}")


class Logs(RestCommand):
    name = "logs"
    description = "Print the output of one of your applications."
    usage_line = "logs URL_ID [--url URL]"

    def run(self):
        (url_id,) = self.args(1, "URL_ID")
        sys.stdout.write(self.client().logs(url_id))


class Login(RestCommand):
    name = "login"
    description = "Save a server URL and token (owner-only file) for the REST commands."
    usage_line = "login --url URL [--token TOKEN]  (the token is asked for when not given)"

    def run(self):
        self.args(0, "no argument")
        if not self.url:
            raise UsageError("--url is required")
        token = self.token or os.environ.get("REMOTEAPP_TOKEN")
        if not token:
            if not sys.stdin.isatty():
                raise UsageError("give --token or $REMOTEAPP_TOKEN (no terminal to ask)")
            token = getpass.getpass("token: ")
        RemoteAppClient(self.url, token).me()  # check before saving
        print(f"saved to {save_login(self.url, token)}")


# ------------------------------------------------------------------ JupyterHub
