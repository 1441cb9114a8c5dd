"""Start, stop, find and read the logs of application containers.

The manager keeps no state of its own beyond the operations in flight: every container
carries ``<namespace>runinfo.*`` labels and is found again through them, so a new
manager (a restarted server) sees every container a previous one started.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import os
import secrets
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..accounting.base import Grant, validate_image_name
from ..errors import (
    BadRequest,
    Exists,
    NotFound,
    OperationInProgress,
    RemoteAppError,
    Unavailable,
)
from ..images import DEFAULT_NAMESPACE, Image, image_from_labels, is_remoteapp_image
from .docker import AsyncDocker, DockerEngineError
from .model import ACTIVE_STATES, Container, iso_from_epoch
from .naming import escape_name
from .readiness import StartFailed, wait_until_ready

log = logging.getLogger(__name__)

PULL_POLICIES = ("ifnotpresent", "always", "never", "skip")
ProgressCallback = Callable[[dict[str, Any]], Any]

#: Dropped from docker's default capability set. Kept: CHOWN, DAC_OVERRIDE, FOWNER,
#: FSETID, KILL, SETGID, SETUID, NET_BIND_SERVICE -- what images that start as root and
#: switch to a user (su, gosu, setpriv, chown of a home) need. Dropped: raw sockets
#: (packet spoofing), device nodes, chroot, capability juggling and the audit log.
DEFAULT_CAP_DROP = ("AUDIT_WRITE", "MKNOD", "NET_RAW", "SETFCAP", "SETPCAP", "SYS_CHROOT")
#: generous for one desktop application (threads count), fatal to a fork bomb
DEFAULT_PIDS_LIMIT = 1024
#: Linux capabilities (capabilities(7)), without the CAP_ prefix
CAPABILITIES = frozenset(
    [
        "AUDIT_CONTROL",
        "AUDIT_READ",
        "AUDIT_WRITE",
        "BLOCK_SUSPEND",
        "BPF",
        "CHECKPOINT_RESTORE",
        "CHOWN",
        "DAC_OVERRIDE",
        "DAC_READ_SEARCH",
        "FOWNER",
        "FSETID",
        "IPC_LOCK",
        "IPC_OWNER",
        "KILL",
        "LEASE",
        "LINUX_IMMUTABLE",
        "MAC_ADMIN",
        "MAC_OVERRIDE",
        "MKNOD",
        "NET_ADMIN",
        "NET_BIND_SERVICE",
        "NET_BROADCAST",
        "NET_RAW",
        "PERFMON",
        "SETFCAP",
        "SETGID",
        "SETPCAP",
        "SETUID",
        "SYSLOG",
        "SYS_ADMIN",
        "SYS_BOOT",
        "SYS_CHROOT",
        "SYS_MODULE",
        "SYS_NICE",
        "SYS_PACCT",
        "SYS_PTRACE",
        "SYS_RAWIO",
        "SYS_RESOURCE",
        "SYS_TIME",
        "SYS_TTY_CONFIG",
        "WAKE_ALARM",
    ]
)
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
#: create_container arguments remoteapp owns (extra_create_kwargs may not replace them)
_RESERVED_CREATE_KWARGS = frozenset({"image", "name", "labels", "environment", "host_config"})
#: host-config arguments with a trait of their own
_MANAGED_HOST_CONFIG = {
    "cap_add": "cap_add",
    "cap_drop": "cap_drop",
    "pids_limit": "pids_limit",
    "port_bindings": "host_ip",
}


@dataclass
class ContainerOptions:
    """Container options, as DockerSpawner/SwarmSpawner name them."""

    realm: str = "remoteapp"
    namespace: str = DEFAULT_NAMESPACE
    #: ``{user}`` (escaped), ``{mapping_id}``, ``{realm}`` and ``{url_id}`` are replaced.
    #: Keeping user and mapping id in the name makes docker itself refuse a second
    #: container for the same entry, even from another server process.
    name_template: str = "{realm}-{user}-{mapping_id}"
    host_ip: str = "127.0.0.1"
    network_name: str | None = None
    use_internal_ip: bool = False
    mem_limit: str | int | None = None
    cpu_limit: float | None = None
    pull_policy: str = "ifnotpresent"
    remove: bool = True
    extra_create_kwargs: dict[str, Any] = field(default_factory=dict)
    extra_host_config: dict[str, Any] = field(default_factory=dict)
    #: host directory mounted as the home when a policy allows it; ``{user}`` is replaced.
    #: Empty: no home is available and starting an app whose policy wants one fails.
    home_source: str = ""
    home_target: str = "/workspace"
    start_timeout: float = 60
    stop_timeout: int = 5
    container_port: int | None = None
    #: Linux capabilities removed from / added to docker's default set (see DEFAULT_CAP_DROP)
    cap_drop: list[str] = field(default_factory=lambda: list(DEFAULT_CAP_DROP))
    cap_add: list[str] = field(default_factory=list)
    #: most processes + threads a container may have (None: no limit)
    pids_limit: int | None = DEFAULT_PIDS_LIMIT
    #: host directories a grant's policy volume must be in (empty: anywhere but SYSTEM_PATHS)
    allowed_volume_roots: list[str] = field(default_factory=list)

    def __post_init__(self):
        if self.pull_policy not in PULL_POLICIES:
            raise BadRequest(
                f"pull_policy must be one of {', '.join(PULL_POLICIES)}, not {self.pull_policy!r}"
            )
        self.cap_drop = [_capability(c, "cap_drop") for c in self.cap_drop]
        self.cap_add = [_capability(c, "cap_add") for c in self.cap_add]
        if self.pids_limit is not None and (
            isinstance(self.pids_limit, bool)
            or not isinstance(self.pids_limit, int)
            or self.pids_limit < 1
        ):
            raise BadRequest(
                f"pids_limit must be a positive integer or None, not {self.pids_limit!r}"
            )
        for root in self.allowed_volume_roots:
            if not isinstance(root, str) or not os.path.isabs(root):
                raise BadRequest(f"allowed_volume_roots must be absolute paths, not {root!r}")
        self.allowed_volume_roots = [os.path.normpath(r) for r in self.allowed_volume_roots]
        reserved = sorted(set(self.extra_create_kwargs) & _RESERVED_CREATE_KWARGS)
        if reserved:
            raise BadRequest(
                f"extra_create_kwargs must not set {', '.join(reserved)}: remoteapp sets them "
                "itself (name, labels and environment identify and configure the app; host "
                "options belong in extra_host_config)"
            )
        managed = sorted(set(self.extra_host_config) & set(_MANAGED_HOST_CONFIG))
        if managed:
            raise BadRequest(
                f"extra_host_config must not set {', '.join(managed)}: use "
                + ", ".join(f"c.RemoteApp.{_MANAGED_HOST_CONFIG[k]}" for k in managed)
            )
        weakening = _weakening(self)
        if weakening:
            log.warning(
                "remoteapp containers are configured with weaker isolation than the default: "
                "%s. Every application container gets this; make sure it is meant.",
                "; ".join(weakening),
            )

    def label(self, key: str) -> str:
        return f"{self.namespace}runinfo.{key}"


class ContainerManager:
    def __init__(self, docker: AsyncDocker, options: ContainerOptions | None = None):
        self.docker = docker
        self.options = options or ContainerOptions()
        self._starting: set[tuple[str, str]] = set()
        self._stopping: set[str] = set()
        #: url ids of the starts in flight, and those of them a stop hit meanwhile
        self._start_url_ids: set[str] = set()
        self._stopped_while_starting: set[str] = set()
        self._since = time.time()

    # ---------------------------------------------------------------- images
    async def list_images(self) -> list[Image]:
        """Local docker images that carry the remoteapp labels, one entry per tag."""
        summaries = await self.docker.call("images")
        images = []
        for summary in summaries:
            labels = summary.get("Labels") or {}
            if not is_remoteapp_image(labels, self.options.namespace):
                continue
            for tag in summary.get("RepoTags") or []:
                if tag != "<none>:<none>":
                    images.append(image_from_labels(tag, labels, self.options.namespace))
        return sorted(images, key=lambda image: image.name)

    async def get_image(self, name: str) -> Image:
        """The image ``name`` read from its labels; NotFound when docker does not have it."""
        info = await self._inspect_image(name)
        return image_from_labels(name, info["Config"].get("Labels"), self.options.namespace)

    async def _inspect_image(self, name: str) -> dict[str, Any]:
        validate_image_name(name)
        try:
            return await self.docker.call("inspect_image", name)
        except NotFound:
            raise NotFound(f"docker image {name!r} is not available on this host") from None

    async def _ensure_image(self, name: str, progress: ProgressCallback | None) -> dict | None:
        """Make the image available according to the pull policy; return its inspect data."""
        policy = self.options.pull_policy
        if policy == "skip":
            return None
        if policy != "always":
            try:
                return await self._inspect_image(name)
            except NotFound:
                if policy == "never":
                    raise NotFound(
                        f"docker image {name!r} is not on this host and pull_policy is 'never'"
                    ) from None
        await self._pull(name, progress)
        return await self._inspect_image(name)

    async def _pull(self, name: str, progress: ProgressCallback | None) -> None:
        repo, _, tag = name.rpartition(":") if ":" in name.split("/")[-1] else (name, "", "")
        loop = asyncio.get_running_loop()
        await _report(progress, "pulling", f"pulling {name}")

        def pull(client):
            last = 0.0
            for event in client.pull(repo, tag=tag or "latest", stream=True, decode=True):
                if "error" in event:
                    raise BadRequest(f"pulling {name} failed: {event['error']}")
                now = time.monotonic()
                if progress is not None and now - last > 0.2:
                    last = now
                    loop.call_soon_threadsafe(
                        _fire, progress, {"stage": "pulling", "message": _pull_text(event)}
                    )

        try:
            await self.docker.run(pull)
        except NotFound as exc:
            raise NotFound(f"pulling {name} failed: {exc.message}") from None
        except DockerEngineError as exc:  # registry unreachable, authentication, ...
            raise Unavailable(f"pulling {name} failed: {exc.message}") from None

    # ------------------------------------------------------------ containers
    async def list(
        self,
        *,
        user: str | None = None,
        mapping_id: str | None = None,
        url_id: str | None = None,
    ) -> list[Container]:
        """Containers of this realm, filtered by owner, mapping id and/or url id."""
        filters = [f"{self.options.label('realm')}={self.options.realm}"]
        for key, value in (("user", user), ("mapping_id", mapping_id), ("url_id", url_id)):
            if value is not None:
                filters.append(f"{self.options.label(key)}={value}")
        summaries = await self.docker.call("containers", all=True, filters={"label": filters})
        containers = [self._from_summary(s) for s in summaries]
        if self.options.remove:
            containers = await self._sweep_exited(containers, summaries)
        # docker label filters match exactly, but be strict about what we return anyway
        return sorted(
            (
                c
                for c in containers
                if c is not None
                and (user is None or c.user == user)
                and (mapping_id is None or c.mapping_id == mapping_id)
                and (url_id is None or c.url_id == url_id)
            ),
            key=lambda c: (c.started_at, c.url_id),
        )

    async def _sweep_exited(
        self, containers: list[Container | None], summaries: list[dict[str, Any]]
    ) -> list[Container | None]:
        """Remove the containers that exited on their own, as stopping them would have.

        Only with ``remove``: an application that ended, a ``docker stop``/``kill``
        behind the server's back, a restart of the docker daemon. Their entries go away
        instead of lingering as "stopped"; the containers of starts and stops in flight
        here are left to those.
        """
        kept, exited = [], []
        for container, summary in zip(containers, summaries, strict=True):
            if (
                container is not None
                and container.state in ("exited", "dead")
                and (container.user, container.mapping_id) not in self._starting
                and container.url_id not in self._stopping
            ):
                exited.append((container, summary.get("Status", container.state)))
            else:
                kept.append(container)
        if not exited:
            return kept
        results = await asyncio.gather(
            *(self._remove(container.docker_id) for container, _ in exited),
            return_exceptions=True,
        )
        for (container, status), result in zip(exited, results, strict=True):
            if isinstance(result, BaseException):
                log.warning("could not remove the exited container %s: %s", container.name, result)
                kept.append(container)
            else:
                log.info(
                    "container %s of %s ended on its own (%s); removed it",
                    container.name,
                    container.user,
                    status,
                )
        return kept

    async def get(self, url_id: str, *, user: str | None = None) -> Container:
        """The container ``url_id`` (of ``user`` when given); NotFound otherwise.

        Another user's container is NotFound too: its existence is nobody else's business.
        """
        if not isinstance(url_id, str) or not url_id.isalnum() or len(url_id) > 64:
            raise NotFound(f"no container {url_id!r}")
        found = await self.list(url_id=url_id, user=user)
        if not found:
            raise NotFound(f"no container {url_id!r}")
        return found[0]

    def _from_summary(self, summary: dict[str, Any]) -> Container | None:
        labels = summary.get("Labels") or {}
        opts = self.options
        try:
            runinfo = {
                k: labels[opts.label(k)] for k in ("user", "mapping_id", "url_id", "urlpath")
            }
        except KeyError:
            return None
        image = image_from_labels(summary.get("Image", ""), labels, opts.namespace)
        host, port = self._address(summary)
        names = summary.get("Names") or [""]
        return Container(
            docker_id=summary["Id"],
            name=names[0].lstrip("/"),
            image=labels.get(opts.label("image"), summary.get("Image", "")),
            realm=labels.get(opts.label("realm"), ""),
            state=summary.get("State", ""),
            started_at=iso_from_epoch(summary.get("Created")),
            ui_name=image.ui_name,
            type=image.type,
            host=host,
            port=port,
            **runinfo,
        )

    def _address(self, summary: dict[str, Any]) -> tuple[str | None, int | None]:
        labels = summary.get("Labels") or {}
        try:
            container_port = int(labels.get(self.options.label("port"), "0"))
        except ValueError:
            container_port = 0
        if self.options.use_internal_ip:
            networks = (summary.get("NetworkSettings") or {}).get("Networks") or {}
            net = networks.get(self.options.network_name or "", None) or next(
                iter(networks.values()), {}
            )
            ip = (net or {}).get("IPAddress")
            return (ip or None), (container_port or None)
        for port in summary.get("Ports") or []:
            if port.get("PublicPort") and port.get("PrivatePort") == container_port:
                ip = port.get("IP") or "127.0.0.1"
                if ip in ("0.0.0.0", "::"):
                    ip = "127.0.0.1"
                return ip, int(port["PublicPort"])
        return None, None

    async def start(
        self,
        *,
        user: str,
        grant: Grant,
        base_url: str | None = None,
        configurables: dict[str, Any] | None = None,
        progress: ProgressCallback | None = None,
        base_user_url: str | None = None,
    ) -> Container:
        """Start ``grant``'s application for ``user`` and wait until it answers.

        The app serves at ``{base_user_url}/containers/{url_id}/`` (its
        ``$JPY_BASE_USER_URL``): ``/services/remoteapp`` behind JupyterHub, or given as
        the user's server base path ``base_url`` (``/user/alice/``), which means
        ``{base_url}remoteapp``. Any failure removes the container.
        """
        if base_user_url is None:
            if base_url is None:
                raise TypeError("start() needs base_url or base_user_url")
            prefix = base_url.strip("/")
            base_user_url = f"/{prefix}/remoteapp" if prefix else "/remoteapp"
        key = (user, grant.mapping_id)
        if key in self._starting:
            raise OperationInProgress(f"{grant.image} is already being started for {user}")
        self._starting.add(key)
        try:
            return await self._start(user, grant, base_user_url, configurables, progress)
        finally:
            self._starting.discard(key)

    #: a container still "created" (never started) after this long belongs to no start
    ABANDONED_AFTER = 60.0

    def _abandoned(self, container: Container) -> bool:
        """Whether ``container`` is a start that nobody finishes: created, never started,
        by a server that is gone (killed between create and start) or long ago."""
        if container.state != "created":
            return False
        try:
            created = datetime.fromisoformat(container.started_at.replace("Z", "+00:00"))
        except ValueError:
            return False
        created_at = created.timestamp()
        # docker reports whole seconds: "before this manager" with a second's margin
        return created_at < self._since - 1 or time.time() - created_at > self.ABANDONED_AFTER

    async def _start(self, user, grant, base_user_url, configurables, progress) -> Container:
        opts = self.options
        existing = await self.list(user=user, mapping_id=grant.mapping_id)
        active = [c for c in existing if c.state in ACTIVE_STATES and not self._abandoned(c)]
        if active:
            raise Exists(f"{grant.image} is already running for {user} at {active[0].urlpath}")
        for leftover in existing:  # stopped (kept: remove=False) or abandoned: make room
            await self._remove(leftover.docker_id)

        await _report(progress, "image", f"checking image {grant.image}")
        info = await self._ensure_image(grant.image, progress)
        labels = (info or {}).get("Config", {}).get("Labels") or {}
        image = image_from_labels(grant.image, labels, opts.namespace)
        env = image.configurables_env(configurables, grant.policy)
        mounts = self._mounts(user, grant)
        port = opts.container_port or _exposed_port(info) or 8888

        url_id = secrets.token_hex(16)
        base_user_url = "/" + base_user_url.strip("/")
        urlpath = f"{base_user_url}/containers/{url_id}/"
        env.update(
            JPY_USER=user,
            JPY_BASE_USER_URL=base_user_url,
            USER=user,
            URL_ID=url_id,
        )
        if grant.policy.app_license:
            env["APP_LICENSE"] = grant.policy.app_license
        run_labels = {
            opts.label("user"): user,
            opts.label("mapping_id"): grant.mapping_id,
            opts.label("url_id"): url_id,
            opts.label("urlpath"): urlpath,
            opts.label("realm"): opts.realm,
            opts.label("image"): grant.image,
            opts.label("port"): str(port),
        }
        name = opts.name_template.format(
            user=escape_name(user), mapping_id=grant.mapping_id, realm=opts.realm, url_id=url_id
        )
        await _report(progress, "creating", f"creating container {name}")
        self._start_url_ids.add(url_id)
        try:
            container_id = await self._create(name, grant.image, env, run_labels, mounts, port)
            try:
                await _report(progress, "starting", "starting container")
                await self.docker.call("start", container_id)
                container = await self.get(url_id, user=user)
                if container.target is None:
                    raise StartFailed(f"container {name} has no reachable address")
                await _report(progress, "waiting", f"waiting for the application at {urlpath}")
                await wait_until_ready(
                    container.target + urlpath,
                    timeout=opts.start_timeout,
                    still_running=lambda: self._still_running(container_id),
                )
                await _report(progress, "ready", "ready")
                return await self.get(url_id, user=user)
            except BaseException as exc:
                stopped = isinstance(exc, RemoteAppError) and await self._stopped_meanwhile(
                    url_id, container_id
                )
                await self._discard_failed(container_id, name, exc)
                if stopped:
                    # not the app's fault, nor a missing entry: the user (or an admin,
                    # or another server) stopped it before it was ready
                    raise OperationInProgress(
                        f"{grant.image} was stopped while it was starting; start it again "
                        "if that was not intended"
                    ) from exc
                raise
        finally:
            self._start_url_ids.discard(url_id)
            self._stopped_while_starting.discard(url_id)

    async def _stopped_meanwhile(self, url_id: str, container_id: str) -> bool:
        """Whether a start failed because its container was stopped or removed under it."""
        if url_id in self._stopped_while_starting:
            return True
        try:  # stopped from elsewhere: another server process, or docker directly
            info = await self.docker.call("inspect_container", container_id)
        except NotFound:
            return True
        except RemoteAppError:
            return False
        # "exited" alone may be the app failing on its own: that keeps its own error
        return (info.get("State") or {}).get("Status") == "removing"

    async def _create(self, name, image, env, labels, mounts, port) -> str:
        opts = self.options
        host_config: dict[str, Any] = {
            "mounts": mounts,
            "init": True,
            "security_opt": ["no-new-privileges"],
            "privileged": False,
            "cap_drop": list(opts.cap_drop),
            "cap_add": list(opts.cap_add),
        }
        if opts.pids_limit is not None:
            host_config["pids_limit"] = opts.pids_limit
        if not opts.use_internal_ip:
            host_config["port_bindings"] = {port: (opts.host_ip,)}
        if opts.network_name:
            host_config["network_mode"] = opts.network_name
        if opts.mem_limit is not None:
            host_config["mem_limit"] = opts.mem_limit
        if opts.cpu_limit is not None:
            host_config["nano_cpus"] = int(opts.cpu_limit * 1e9)
        extra = dict(opts.extra_host_config)
        for key in ("security_opt", "mounts"):  # the operator's are added, never replace ours
            host_config[key] = host_config[key] + list(extra.pop(key, None) or ())
        host_config.update(extra)

        def create(client):
            create_kwargs = {
                "image": image,
                "name": name,
                "environment": env,
                "labels": labels,
                "ports": [port],
                "host_config": client.create_host_config(**host_config),
            }
            create_kwargs.update(opts.extra_create_kwargs)
            return client.create_container(**create_kwargs)["Id"]

        try:
            return await self.docker.run(create)
        except Exists:
            raise OperationInProgress(
                f"a container for {image} already exists for this user (another server may be "
                "starting it); try again in a moment"
            ) from None

    def _mounts(self, user: str, grant: Grant) -> list:
        """Bind mounts of the policy: exactly the home and the grant's volume, if any.

        Host paths are mounted only when they are literally what was configured or
        granted: absolute, without '..', through no symbolic link, a directory (or,
        for a volume, a regular file) -- never a socket or device. Missing paths are
        refused, never created; a grant's volume is never a system path and, when
        ``allowed_volume_roots`` is set, lies below one of them.
        """
        opts = self.options
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
            mounts.append(self._bind(source, opts.home_target, read_only=False, what="home"))
        if policy.volume_source:
            if policy.allow_home and policy.volume_target == opts.home_target:
                raise BadRequest(f"the policy volume target {opts.home_target} is the home's")
            mounts.append(
                self._bind(
                    policy.volume_source,
                    policy.volume_target,
                    read_only=policy.volume_mode != "rw",
                    what="volume",
                )
            )
        return mounts

    def _bind(self, source: str, target: str, *, read_only: bool, what: str):
        from docker.types import Mount

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
            roots = self.options.allowed_volume_roots
            if roots and not any(path == r or path.startswith(r.rstrip("/") + "/") for r in roots):
                raise BadRequest(
                    f"the volume path {source!r} is outside the directories this server "
                    f"mounts volumes from ({', '.join(roots)}; c.RemoteApp.allowed_volume_roots)"
                )
        return Mount(target=target, source=path, type="bind", read_only=read_only)

    async def _still_running(self, container_id: str) -> str | None:
        """None while the container runs; otherwise why it stopped, with its last log lines."""
        info = await self.docker.call("inspect_container", container_id)
        state = info.get("State") or {}
        if state.get("Running"):
            return None
        logs = await self.docker.call("logs", container_id, tail=20)
        tail = logs.decode("utf-8", "replace").strip()
        return f"the application exited with code {state.get('ExitCode')}" + (
            f"; its last output:\n{tail}" if tail else ""
        )

    async def _discard_failed(self, container_id: str, name: str, exc: BaseException) -> None:
        log.warning("start of %s failed (%s); removing the container", name, exc)
        try:
            await asyncio.shield(self._remove(container_id))
        except Exception:  # the original error matters more
            log.exception("could not remove the failed container %s", name)

    async def _remove(self, container_id: str) -> None:
        try:
            await self.docker.call("remove_container", container_id, force=True, v=True)
        except NotFound:
            pass
        except Exists:
            pass  # docker's 409 to a forced removal: "removal ... is already in progress"

    async def stop(self, url_id: str, *, user: str | None = None, missing_ok: bool = True) -> bool:
        """Stop (and, with ``remove``, remove) a container; True if one was stopped.

        A container that is stopped already is removed whatever ``remove`` says: it was
        kept for inspection, and stopping it again means it has served that purpose.
        Idempotent: an absent container is False, or NotFound with ``missing_ok=False``.
        """
        if url_id in self._stopping:
            raise OperationInProgress(f"container {url_id} is already being stopped")
        self._stopping.add(url_id)
        if url_id in self._start_url_ids:
            self._stopped_while_starting.add(url_id)
        try:
            try:
                container = await self.get(url_id, user=user)
            except NotFound:
                if missing_ok:
                    return False
                raise
            try:
                if container.state in ACTIVE_STATES:
                    await self.docker.call(
                        "stop", container.docker_id, timeout=self.options.stop_timeout
                    )
                if self.options.remove or container.state not in ACTIVE_STATES:
                    await self._remove(container.docker_id)
            except NotFound:
                pass  # removed meanwhile (auto-remove, another server): that is what we wanted
            return True
        finally:
            self._stopping.discard(url_id)

    async def logs(self, url_id: str, *, user: str | None = None, tail: int = 1000) -> str:
        """The last ``tail`` lines of the container's output (stdout and stderr)."""
        if not isinstance(tail, int) or tail < 1:
            raise BadRequest("tail must be a positive number of lines")
        container = await self.get(url_id, user=user)
        raw = await self.docker.call("logs", container.docker_id, tail=tail)
        return raw.decode("utf-8", "replace")


def _exposed_port(info: dict | None) -> int | None:
    exposed = ((info or {}).get("Config") or {}).get("ExposedPorts") or {}
    ports = sorted(int(p.split("/")[0]) for p in exposed if p.endswith("/tcp"))
    if 8888 in ports:
        return 8888
    return ports[0] if ports else None


def _pull_text(event: dict[str, Any]) -> str:
    parts = [event.get("id", ""), event.get("status", ""), event.get("progress", "")]
    return " ".join(p for p in parts if p)


def _fire(progress: ProgressCallback, event: dict[str, Any]) -> None:
    try:
        result = progress(event)
        if asyncio.iscoroutine(result):
            asyncio.ensure_future(result)
    except Exception:
        log.exception("progress callback failed")


async def _report(progress: ProgressCallback | None, stage: str, message: str) -> None:
    if progress is None:
        return
    result = progress({"stage": stage, "message": message})
    if asyncio.iscoroutine(result):
        await result


def _capability(name: Any, trait: str) -> str:
    """``"cap_net_admin"`` → ``"NET_ADMIN"``; BadRequest for what is not a capability."""
    cap = name.strip().upper() if isinstance(name, str) else ""
    cap = cap.removeprefix("CAP_")
    if cap != "ALL" and cap not in CAPABILITIES:
        raise BadRequest(f"{trait}: {name!r} is not a Linux capability (see capabilities(7))")
    return cap


def _weakening(opts: ContainerOptions) -> list[str]:
    """What in the options gives containers more than remoteapp's defaults (for a warning)."""
    found = []
    if opts.host_ip and not opts.use_internal_ip:
        try:
            loopback = ipaddress.ip_address(opts.host_ip).is_loopback
        except ValueError:
            loopback = opts.host_ip == "localhost"
        if not loopback:
            found.append(f"ports published on host_ip={opts.host_ip!r}, not on loopback")
    if "ALL" in opts.cap_add or "SYS_ADMIN" in opts.cap_add:
        found.append(f"cap_add={opts.cap_add!r}")
    host = opts.extra_host_config
    if host.get("privileged"):
        found.append("extra_host_config privileged=True")
    for key in ("network_mode", "pid_mode", "ipc_mode", "userns_mode", "uts_mode"):
        if host.get(key) == "host":
            found.append(f"extra_host_config {key}='host'")
    for key in ("binds", "mounts", "volumes_from", "devices", "device_requests"):
        if host.get(key):
            found.append(f"extra_host_config {key}={host[key]!r}")
    for opt in host.get("security_opt") or ():
        if "unconfined" in str(opt) or str(opt).replace("=", ":") == "no-new-privileges:false":
            found.append(f"extra_host_config security_opt {opt!r}")
    return found
