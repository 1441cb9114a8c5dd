"""The bind mounts of a grant's policy: the user's home and the granted volume.

Host paths are the most dangerous thing a container can be given, so everything about
them is here: a path is mounted only when it is literally the configured or granted one.
"""

from __future__ import annotations

import os
import stat

from docker.types import Mount

from ..accounting.base import Grant
from ..errors import BadRequest
from .options import ContainerOptions

#: Host paths a grant's volume may never be (nor be below, except for "/"): the host's
#: system, its devices and kernel interfaces, docker's own state and sockets.
SYSTEM_PATHS = (
    "/",
    "/bin",
    "/boot",
    "/dev",
    "/etc",
    "/lib",
    "/lib32",
    "/lib64",
    "/libx32",
    "/proc",
    "/root",
    "/run",
    "/sbin",
    "/sys",
    "/usr",
    "/var/lib/docker",
    "/var/lib/containerd",
    "/var/run",
)


def policy_mounts(opts: ContainerOptions, user: str, grant: Grant) -> list[Mount]:
    """Bind mounts of the policy: exactly the home and the grant's volume, if any.

    Host paths are mounted only when they are literally what was configured or
    granted: absolute, without '..', through no symbolic link, a directory (or,
    for a volume, a regular file) -- never a socket or device. Missing paths are
    refused, never created; a grant's volume is never a system path and, when
    ``allowed_volume_roots`` is set, lies below one of them.
    """
    policy = grant.policy
    mounts = []
    if policy.allow_home:
        if not opts.home_source:
            raise BadRequest(
                "the policy of this application mounts your home, but this server has no "
                "home directory for containers configured (c.RemoteApp.home_source)"
            )
        if "{user" in opts.home_source and (
            "/" in user or "\0" in user or user.strip() in ("", ".", "..")
        ):
            raise BadRequest(
                f"the user name {user!r} cannot name a home directory "
                f"({opts.home_source}): it contains '/' or is '.' or '..'"
            )
        try:
            source = opts.home_source.format(user=user)
        except (KeyError, IndexError, ValueError) as exc:
            raise BadRequest(
                f"c.RemoteApp.home_source {opts.home_source!r} is not a valid template "
                f"({exc!r}); only {{user}} is replaced"
            ) from None
        mounts.append(_bind(opts, source, opts.home_target, read_only=False, what="home"))
    if policy.volume_source:
        if policy.allow_home and policy.volume_target == opts.home_target:
            raise BadRequest(f"the policy volume target {opts.home_target} is the home's")
        mounts.append(
            _bind(
                opts,
                policy.volume_source,
                policy.volume_target,
                read_only=policy.volume_mode != "rw",
                what="volume",
            )
        )
    return mounts


def _bind(opts: ContainerOptions, source: str, target: str, *, read_only: bool, what: str) -> Mount:
    if not isinstance(source, str) or not source.startswith("/") or "\0" in source:
        raise BadRequest(f"the {what} path {source!r} is not an absolute path")
    if any(part == ".." for part in source.split("/")):
        raise BadRequest(f"the {what} path {source!r} must not contain '..'")
    path = "/" + os.path.normpath(source).lstrip("/")
    if what == "volume":
        for system in SYSTEM_PATHS:
            if path == system or (system != "/" and path.startswith(system + "/")):
                raise BadRequest(
                    f"the volume path {source!r} is a system path ({system}) of the host "
                    "and is never mounted"
                )
    if not os.path.lexists(path):
        raise BadRequest(
            f"the {what} path {source!r} does not exist on the docker host; "
            "it is not created automatically, ask an administrator to create it"
        )
    real = os.path.realpath(path)
    if real != path:
        raise BadRequest(
            f"the {what} path {source!r} is, or passes through, a symbolic link (to "
            f"{real!r}); links are not followed, so that nobody can redirect the mount "
            "by changing one: configure the real path"
        )
    mode = os.stat(path).st_mode
    if not (stat.S_ISDIR(mode) or (what == "volume" and stat.S_ISREG(mode))):
        raise BadRequest(
            f"the {what} path {source!r} is not a "
            + ("directory or a regular file" if what == "volume" else "directory")
            + "; sockets (such as docker's) and devices are never mounted"
        )
    if what == "volume":
        roots = opts.allowed_volume_roots
        if roots and not any(path == r or path.startswith(r.rstrip("/") + "/") for r in roots):
            raise BadRequest(
                f"the volume path {source!r} is outside the directories this server "
                f"mounts volumes from ({', '.join(roots)}; c.RemoteApp.allowed_volume_roots)"
            )
    return Mount(target=target, source=path, type="bind", read_only=read_only)
