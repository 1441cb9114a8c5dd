"""``jupyter remoteapp``: the operator's command line.

Database commands (``db``, ``user``, ``app``, ``grant``, ``revoke``, ``images``) work on
the accounting and the docker engine directly, with the same ``c.RemoteApp``
configuration the server uses. Errors are one line on stderr and a non-zero exit.
"""

from __future__ import annotations

import asyncio
import getpass
import os
import sys

from jupyter_core.application import JupyterApp
from traitlets import Bool, Int, List, Unicode
from traitlets.config import Application

from . import __version__
from .client import RemoteAppClient, RemoteAppClientError, save_login
from .config import DEFAULT_SERVICE_URL, RemoteApp
from .core.accounting import Policy
from .core.errors import RemoteAppError


class UsageError(Exception):
    """Wrong arguments: the usage is printed and the exit code is 2."""


class Command(JupyterApp):
    """Base of every leaf command: shared options, config files, error handling."""

    version = __version__
    config_file_name = Unicode("jupyter_remoteapp_config")
    #: ``jupyter remoteapp user create NAME`` → "user create NAME"
    usage_line = ""
    aliases = {"db": "RemoteApp.accounting_url", "log-level": "Application.log_level"}
    flags = {}
    classes = [RemoteApp]

    def load_config_file(self, suppress_errors=True):
        # the server's config first, so ``c.RemoteApp`` written for the server applies here
        Application.load_config_file(self, "jupyter_server_config", path=self.config_file_paths)
        super().load_config_file(suppress_errors=suppress_errors)

    @property
    def settings(self) -> RemoteApp:
        if not hasattr(self, "_settings"):
            self._settings = RemoteApp(parent=self)
        return self._settings

    def start(self):
        try:
            self.run()
        except UsageError as exc:
            print(f"usage: jupyter remoteapp {self.usage_line}\nerror: {exc}", file=sys.stderr)
            self.exit(2)
        except RemoteAppError as exc:
            print(f"jupyter remoteapp: error: {exc.message}", file=sys.stderr)
            self.exit(1)
        except RemoteAppClientError as exc:
            print(f"jupyter remoteapp: error: {exc}", file=sys.stderr)
            self.exit(1)

    def run(self) -> None:
        raise NotImplementedError

    def args(self, count: int, names: str) -> list[str]:
        if len(self.extra_args) != count:
            raise UsageError(f"expected {names}, got {len(self.extra_args)} argument(s)")
        return list(self.extra_args)

    def accounting(self):
        return self.settings.open_accounting()


class Group(JupyterApp):
    """A command with subcommands and nothing to do of its own."""

    version = __version__

    def start(self):
        if self.subapp is None:
            names = ", ".join(sorted(self.subcommands))
            where = "" if self.parent is None else f" {self.name}"
            print(f"jupyter remoteapp{where}: choose a subcommand: {names}", file=sys.stderr)
            self.exit(2)
        return self.subapp.start()


# ------------------------------------------------------------------ database
class DbInit(Command):
    name = "init"
    description = "Create the accounting database schema (idempotent)."
    usage_line = "db init [--db URL]"

    def run(self):
        from .core.accounting import migrate

        url = self.settings.accounting_url
        before = migrate.current_revision(url)
        migrate.init(url)
        after = migrate.current_revision(url)
        state = "already initialized" if before == after else "initialized"
        print(f"accounting database {state} at revision {after}: {url}")


class DbUpgrade(Command):
    name = "upgrade"
    description = "Upgrade the accounting database schema to this version of remoteapp."
    usage_line = "db upgrade [--db URL]"

    def run(self):
        from .core.accounting import migrate

        url = self.settings.accounting_url
        before = migrate.current_revision(url)
        migrate.upgrade(url)
        after = migrate.current_revision(url)
        print(f"accounting database upgraded from {before or 'empty'} to {after}: {url}")


class DbGroup(Group):
    name = "db"
    description = "Create or upgrade the accounting database."
    subcommands = {
        "init": (DbInit, DbInit.description),
        "upgrade": (DbUpgrade, DbUpgrade.description),
    }


# ------------------------------------------------------------------ users
class UserCreate(Command):
    name = "create"
    description = "Create a user."
    usage_line = "user create NAME"

    def run(self):
        (name,) = self.args(1, "NAME")
        self.accounting().create_user(name)
        print(f"created user {name!r}")


class UserRemove(Command):
    name = "remove"
    description = "Remove a user and every grant made to them."
    usage_line = "user remove NAME"

    def run(self):
        (name,) = self.args(1, "NAME")
        self.accounting().remove_user(name)
        print(f"removed user {name!r}")


class UserList(Command):
    name = "list"
    description = "List users (with --show-apps: and what each may run)."
    usage_line = "user list [--show-apps]"
    show_apps = Bool(False, help="Also list the grants of each user.").tag(config=True)
    flags = {"show-apps": ({"UserList": {"show_apps": True}}, "List each user's grants.")}

    def run(self):
        self.args(0, "no argument")
        accounting = self.accounting()
        for name in accounting.list_users():
            print(name)
            if self.show_apps:
                for grant in accounting.list_grants(user=name):
                    print(f"    {grant.mapping_id}  {grant.image}  {_policy_text(grant.policy)}")


class UserGroup(Group):
    name = "user"
    description = "Create, remove and list users."
    subcommands = {
        "create": (UserCreate, UserCreate.description),
        "remove": (UserRemove, UserRemove.description),
        "list": (UserList, UserList.description),
    }


# ------------------------------------------------------------------ applications
class AppCreate(Command):
    name = "create"
    description = "Register a docker image as an application."
    usage_line = "app create IMAGE [--verify]"
    verify = Bool(
        False, help="Check that docker has the image and that it carries remoteapp labels."
    ).tag(config=True)
    flags = {"verify": ({"AppCreate": {"verify": True}}, "Check the image in docker first.")}

    def run(self):
        (image,) = self.args(1, "IMAGE")
        if self.verify:
            found = asyncio.run(_get_image(self.settings, image))
            if found.problems:
                print(f"warning: {image}: {'; '.join(found.problems)}", file=sys.stderr)
        self.accounting().create_application(image)
        print(f"created application {image!r}")


class AppRemove(Command):
    name = "remove"
    description = "Remove an application and every grant of it."
    usage_line = "app remove IMAGE"

    def run(self):
        (image,) = self.args(1, "IMAGE")
        self.accounting().remove_application(image)
        print(f"removed application {image!r}")


class AppList(Command):
    name = "list"
    description = "List applications."
    usage_line = "app list"

    def run(self):
        self.args(0, "no argument")
        for image in self.accounting().list_applications():
            print(image)


class AppGroup(Group):
    name = "app"
    description = "Create, remove and list applications (docker images)."
    subcommands = {
        "create": (AppCreate, AppCreate.description),
        "remove": (AppRemove, AppRemove.description),
        "list": (AppList, AppList.description),
    }


# ------------------------------------------------------------------ grants
class PolicyCommand(Command):
    """Options that select a grantee and describe a policy."""

    group = Unicode(None, allow_none=True, help="A JupyterHub group instead of a user.").tag(
        config=True
    )
    allow_home = Bool(False, help="Mount the user's home in the container.").tag(config=True)
    allow_view = Bool(False, help="Allow others to view the running application.").tag(config=True)
    allow_common = Bool(False, help="Allow access to the common area.").tag(config=True)
    allow_startup_data = Bool(False, help="Allow choosing a startup data file.").tag(config=True)
    volume = Unicode(None, allow_none=True, help="A host volume SOURCE:TARGET:ro|rw.").tag(
        config=True
    )
    app_license = Unicode("", help="License text passed as APP_LICENSE.").tag(config=True)

    @classmethod
    def policy_options(cls, name: str):
        aliases = dict(
            Command.aliases,
            group=f"{name}.group",
            volume=f"{name}.volume",
            **{"app-license": f"{name}.app_license"},
        )
        flags = {
            flag.replace("_", "-"): ({name: {flag: True}}, f"Policy: {flag.replace('_', ' ')}.")
            for flag in ("allow_home", "allow_view", "allow_common", "allow_startup_data")
        }
        return aliases, flags

    def policy(self) -> Policy:
        return Policy.with_volume(
            self.volume,
            allow_home=self.allow_home,
            allow_view=self.allow_view,
            allow_common=self.allow_common,
            allow_startup_data=self.allow_startup_data,
            app_license=self.app_license,
        )

    def grantee(self, args: list[str]) -> dict[str, str]:
        if self.group is not None and args:
            raise UsageError("give either a USER or --group GROUP, not both")
        if self.group is not None:
            return {"group": self.group}
        if not args:
            raise UsageError("give a USER or --group GROUP")
        return {"user": args[0]}


class Grant(PolicyCommand):
    name = "grant"
    description = "Allow a user (or a JupyterHub group) to run an application under a policy."
    usage_line = (
        "grant IMAGE (USER | --group G) [--allow-home] [--allow-view] [--allow-common] "
        "[--volume SRC:TGT:ro|rw] [--app-license TEXT] [--allow-startup-data]"
    )
    aliases, flags = PolicyCommand.policy_options("Grant")

    def run(self):
        if not 1 <= len(self.extra_args) <= 2:
            raise UsageError("expected IMAGE and USER (or IMAGE and --group GROUP)")
        image, *rest = self.extra_args
        policy = self.policy()
        grant = self.accounting().grant(image, policy, **self.grantee(rest))
        who = f"group {grant.group!r}" if grant.group else f"user {grant.user!r}"
        print(f"granted {image!r} to {who}: mapping id {grant.mapping_id}")


class Revoke(PolicyCommand):
    name = "revoke"
    description = (
        "Revoke a grant: by image, grantee and policy; by --mapping-id; or --all "
        "(optionally restricted to an IMAGE, a USER or a --group)."
    )
    usage_line = (
        "revoke IMAGE (USER | --group G) [policy options] | revoke --mapping-id ID | "
        "revoke --all [IMAGE [USER] | --group G]"
    )
    mapping_id = Unicode(None, allow_none=True, help="Revoke the grant with this id.").tag(
        config=True
    )
    all = Bool(False, help="Revoke every matching grant.").tag(config=True)
    aliases, flags = PolicyCommand.policy_options("Revoke")
    aliases = dict(aliases, **{"mapping-id": "Revoke.mapping_id"})
    flags = dict(flags, all=({"Revoke": {"all": True}}, "Revoke every matching grant."))

    def run(self):
        accounting = self.accounting()
        args = list(self.extra_args)
        if self.mapping_id is not None:
            if args or self.all or self.group is not None:
                raise UsageError("--mapping-id takes no other selector")
            accounting.revoke_mapping(self.mapping_id)
            print(f"revoked {self.mapping_id}")
        elif self.all:
            if len(args) > 2:
                raise UsageError("--all takes at most IMAGE and USER")
            image = args[0] if args else None
            grantee = self.grantee(args[1:]) if len(args) > 1 or self.group else {}
            count = accounting.revoke_all(image=image, **grantee)
            print(f"revoked {count} grant(s)")
        else:
            if not 1 <= len(args) <= 2:
                raise UsageError("expected IMAGE and USER (or --group, --mapping-id, --all)")
            image, *rest = args
            accounting.revoke(image, self.policy(), **self.grantee(rest))
            print(f"revoked {image!r}")


# ------------------------------------------------------------------ docker
class Images(Command):
    name = "images"
    description = "List the docker images that carry the remoteapp labels."
    usage_line = "images"

    def run(self):
        self.args(0, "no argument")
        images = asyncio.run(_list_images(self.settings))
        if not images:
            print("no docker image carries remoteapp labels", file=sys.stderr)
        for image in images:
            print(f"{image.name}\t{image.type}\t{image.ui_name}")


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
class HubConfig(Command):
    name = "hub-config"
    description = """Print the JupyterHub configuration of a remoteapp deployment: the
    managed service, the custom:remoteapp:admin scope and its role, the user role's access
    to the service, and the spawner settings that put single-user servers in hub mode."""
    usage_line = (
        "hub-config [--admin-user NAME ...] [--admin-group G ...] [--service-url URL] [--db URL]"
        " [--apps-url URL] [--workers N]"
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
    workers = Int(1, help="Processes of the remoteapp service.").tag(config=True)
    aliases = dict(
        Command.aliases,
        **{
            "service-url": "HubConfig.service_url",
            "servers-service-url": "HubConfig.servers_service_url",
            "admin-user": "HubConfig.admin_users",
            "admin-group": "HubConfig.admin_groups",
            "apps-url": "HubConfig.apps_url",
            "workers": "HubConfig.workers",
        },
    )

    def run(self):
        from .hub import hub_config_text

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
                workers=self.workers if self.workers != 1 else None,
            )
        )


async def _list_images(settings: RemoteApp):
    manager = settings.container_manager()
    try:
        return await manager.list_images()
    finally:
        manager.docker.close()


async def _get_image(settings: RemoteApp, name: str):
    manager = settings.container_manager()
    try:
        image = await manager.get_image(name)
    finally:
        manager.docker.close()
    if not image.labelled:
        raise RemoteAppError(
            f"docker image {name!r} carries no remoteapp labels "
            f"({settings.label_namespace}ui_name, ...type)"
        )
    return image


def _policy_text(policy: Policy) -> str:
    parts = [
        k
        for k in ("allow_home", "allow_view", "allow_common", "allow_startup_data")
        if getattr(policy, k)
    ]
    if policy.volume:
        parts.append(f"volume={policy.volume}")
    if policy.app_license:
        parts.append("license")
    return ", ".join(parts) or "-"


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


if __name__ == "__main__":
    main()
