"""Commands on the accounting and the docker engine directly: ``db``, ``user``, ``app``,
``grant``, ``revoke`` and ``images``, with the ``c.RemoteApp`` configuration the server uses."""

from __future__ import annotations

import asyncio
import sys

from traitlets import Bool, Unicode

from ..config import RemoteApp
from ..core.accounting import Policy
from ..core.accounting.policy import POLICY_FLAGS
from ..core.errors import RemoteAppError
from .base import Command, Group, UsageError


# ------------------------------------------------------------------ database
class DbInit(Command):
    name = "init"
    description = "Create the accounting database schema (idempotent)."
    usage_line = "db init [--db URL]"

    def run(self):
        from ..core.accounting import migrate

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
        from ..core.accounting import migrate

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
    """Options that select a grantee and describe a policy: a flag per policy flag
    (``--allow-home``...), ``--volume`` and ``--app-license``, named as in the REST API."""

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
            for flag in POLICY_FLAGS
        }
        return aliases, flags

    def policy(self) -> Policy:
        """The policy the options describe, parsed as the REST API parses its ``policy``."""
        options = {flag: getattr(self, flag) for flag in POLICY_FLAGS}
        options["app_license"] = self.app_license
        if self.volume is not None:
            options["volume"] = self.volume
        return Policy.from_dict(options)

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
    parts = policy.flags
    if policy.volume:
        parts.append(f"volume={policy.volume}")
    if policy.app_license:
        parts.append("license")
    return ", ".join(parts) or "-"
