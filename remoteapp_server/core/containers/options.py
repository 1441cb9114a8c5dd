"""The container options of remoteapp, as DockerSpawner/SwarmSpawner name them.

:class:`ContainerOptions` declares each option's name, type and default once; operators
set them as the traits of the same name on ``c.RemoteApp`` (``remoteapp_server.config``,
where their help is), and ``RemoteApp.container_options()`` copies every field from its
trait. Values are checked here, whoever builds the options.
"""

from __future__ import annotations

import ipaddress
import logging
import os
from dataclasses import dataclass, field
from typing import Any

from ..errors import BadRequest
from ..images import DEFAULT_NAMESPACE

log = logging.getLogger(__name__)

PULL_POLICIES = ("ifnotpresent", "always", "never", "skip")
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
    """Every container option, with its default: the one declaration of both.

    Each field is the trait of the same name of ``c.RemoteApp``, documented there.
    """

    realm: str = "remoteapp"
    label_namespace: str = DEFAULT_NAMESPACE
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
    #: ``{user}`` is replaced; empty: no home, and a policy that wants one cannot start
    home_source: str = ""
    home_target: str = "/workspace"
    start_timeout: float = 60
    stop_timeout: int = 5
    cap_drop: list[str] = field(default_factory=lambda: list(DEFAULT_CAP_DROP))
    cap_add: list[str] = field(default_factory=list)
    #: None: no limit
    pids_limit: int | None = DEFAULT_PIDS_LIMIT
    #: empty: anywhere but the system paths (``mounts.SYSTEM_PATHS``)
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
        return f"{self.label_namespace}runinfo.{key}"


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
