"""The traitlets configuration shared by the server extension, the hub service and the CLI.

Operators write ``c.RemoteApp.<trait>`` once (in ``jupyter_server_config.py`` or
``jupyter_remoteapp_config.py``) and every entry point builds the same core objects
from it.
"""

from __future__ import annotations

import getpass
import os

from jupyter_core.paths import jupyter_data_dir
from traitlets import Bool, Dict, Enum, Float, Int, List, Unicode, Union, default
from traitlets.config import Configurable

from .core.accounting import Accounting, open_accounting
from .core.containers import PULL_POLICIES, AsyncDocker, ContainerManager, ContainerOptions
from .core.containers.manager import DEFAULT_CAP_DROP, DEFAULT_PIDS_LIMIT
from .core.images import DEFAULT_NAMESPACE

#: the name JupyterHub knows the remoteapp service by (``c.JupyterHub.services``)
SERVICE_NAME = "remoteapp"
#: where JupyterHub's managed remoteapp service listens by default
DEFAULT_SERVICE_URL = "http://127.0.0.1:10101"
#: the mode ``GET me`` reports behind JupyterHub with the service
HUB_MODE = "hub"


def default_accounting_path() -> str:
    """The embedded SQLite accounting file under the Jupyter data dir."""
    return os.path.join(jupyter_data_dir(), "remoteapp", "remoteapp.sqlite")


class RemoteApp(Configurable):
    """Accounting, docker and container options of remoteapp."""

    accounting_url = Unicode(
        help="""Where users, applications and grants are stored.

        Any SQLAlchemy URL (``sqlite:///...``, ``postgresql://...``), a path to an SQLite
        file, or a path to a ``.csv`` file in the SimPhoNy-remote format (read-only).
        Default: an SQLite file under the Jupyter data dir, created on first use.""",
    ).tag(config=True)

    @default("accounting_url")
    def _default_accounting_url(self):
        return os.environ.get("REMOTEAPP_DB") or default_accounting_path()

    label_namespace = Unicode(
        DEFAULT_NAMESPACE,
        help="""Prefix of the docker labels that describe an application image
        (``<prefix>ui_name``, ``<prefix>type``, ...) and of the run-info labels put on
        containers. The default reads SimPhoNy-remote images unchanged.""",
    ).tag(config=True)

    realm = Unicode(
        "remoteapp",
        help="""Label value that marks the containers of this deployment. Servers sharing
        a docker engine see each other's containers only when they share the realm.""",
    ).tag(config=True)

    docker_host = Unicode(
        None,
        allow_none=True,
        help="""URL of the docker engine (``unix:///var/run/docker.sock``,
        ``tcp://host:2376``). None: from the environment (``DOCKER_HOST``...).""",
    ).tag(config=True)

    docker_workers = Int(
        8,
        help="""Threads (and pooled HTTP connections) for docker calls, so that slow
        calls such as pulls do not queue the others.""",
    ).tag(config=True)

    host_ip = Unicode(
        "127.0.0.1",
        help="""Host address container ports are published on. Keep it on loopback: the
        authenticated proxy is the only way into a container.""",
    ).tag(config=True)

    network_name = Unicode(
        None,
        allow_none=True,
        help="Docker network to attach the containers to (None: docker's default bridge).",
    ).tag(config=True)

    use_internal_ip = Bool(
        False,
        help="""Reach containers at their address on ``network_name`` instead of a port
        published on ``host_ip`` (for a server that runs in a container itself).""",
    ).tag(config=True)

    mem_limit = Union(
        [Int(), Unicode()],
        allow_none=True,
        default_value=None,
        help="Memory limit per container: bytes or a docker string such as '2g'.",
    ).tag(config=True)

    cpu_limit = Float(
        None,
        allow_none=True,
        help="CPU limit per container, in cores (0.5 = half a core).",
    ).tag(config=True)

    pull_policy = Enum(
        PULL_POLICIES,
        default_value="ifnotpresent",
        help="""When to pull an application's image: ``ifnotpresent`` (pull when
        missing), ``always``, ``never`` (fail when missing) or ``skip`` (do not check).""",
    ).tag(config=True)

    remove = Bool(
        True,
        help="""Remove containers when they are stopped, and those that ended on their own
        (the app exited, docker stopped them) when noticed. False keeps them, shown as
        "stopped" with their logs, for inspection; stopping such a container removes it.""",
    ).tag(config=True)

    name_template = Unicode(
        "{realm}-{user}-{mapping_id}",
        help="""Container name. ``{user}`` is the escaped user name (``[a-z0-9-]``),
        ``{mapping_id}``, ``{realm}`` and ``{url_id}`` are available. Keep ``{user}`` and
        ``{mapping_id}`` in it: docker then refuses a second container for the same
        entry even from another server.""",
    ).tag(config=True)

    cap_drop = List(
        Unicode(),
        default_value=list(DEFAULT_CAP_DROP),
        help="""Linux capabilities removed from docker's default set in every container
        (names as in capabilities(7), with or without ``CAP_``; ``ALL`` drops every one).

        The default drops AUDIT_WRITE, MKNOD, NET_RAW, SETFCAP, SETPCAP and SYS_CHROOT
        and keeps CHOWN, DAC_OVERRIDE, FOWNER, FSETID, KILL, SETGID, SETUID and
        NET_BIND_SERVICE: what images that start as root and switch to a user (``su``,
        ``gosu``, ``chown`` of the home) need. ``["ALL"]`` is stricter and suits images
        that run as an unprivileged user from the start (``USER`` in the Dockerfile).
        Capabilities a container keeps are still bounded by ``no-new-privileges``,
        docker's seccomp profile and the user namespace of the engine.""",
    ).tag(config=True)

    cap_add = List(
        Unicode(),
        help="""Linux capabilities added to every container after ``cap_drop`` (e.g.
        ``["SYS_PTRACE"]`` for debuggers). Default: none. ``ALL`` or ``SYS_ADMIN`` make
        containers nearly as powerful as the host: the server logs a warning at start.""",
    ).tag(config=True)

    pids_limit = Int(
        DEFAULT_PIDS_LIMIT,
        allow_none=True,
        help="""Most processes and threads one container may have, so that a fork bomb
        in one application does not starve the host. None: no limit (docker's default).""",
    ).tag(config=True)

    allowed_volume_roots = List(
        Unicode(),
        help="""Host directories that the volume of a grant's policy must be (or be below).
        Grants are entered by remoteapp admins, who are not necessarily trusted with
        the host: set this to the data directories they may hand out (e.g.
        ``["/srv/data"]``). Empty (the default): any directory or file, except the host's
        system paths (``/``, ``/etc``, ``/usr``, ``/root``, ``/proc``, ``/sys``,
        ``/dev``, ``/run``, ``/var/run``, ``/var/lib/docker``, ...), which are never
        mounted. In every case a volume is mounted only when its path is literally the
        granted one: absolute, without ``..``, through no symbolic link, and not a
        socket or device (such as the docker socket).""",
    ).tag(config=True)

    extra_create_kwargs = Dict(
        help="""Extra keyword arguments for docker-py's ``create_container`` (e.g.
        ``{"user": "1000:1000"}``). ``image``, ``name``, ``labels``, ``environment`` and
        ``host_config`` are refused: remoteapp sets them itself. This is operator
        configuration and trusted as such.""",
    ).tag(config=True)

    extra_host_config = Dict(
        help="""Extra keyword arguments for docker-py's ``create_host_config`` (e.g.
        ``{"read_only": True, "tmpfs": {"/tmp": ""}}``). ``security_opt`` and ``mounts``
        are added to remoteapp's own (``no-new-privileges`` and the policy's bind mounts
        always stay); the other keys replace remoteapp's values. ``cap_add``,
        ``cap_drop``, ``pids_limit`` and ``port_bindings`` are refused: use the traits of
        the same name and ``host_ip``. Settings that weaken isolation (``privileged``,
        ``binds``/``mounts``/``devices``, ``network_mode``/``pid_mode``/``ipc_mode`` =
        ``host``, ``unconfined`` security options) are applied, since the operator is
        trusted, but logged as a warning when the server starts.""",
    ).tag(config=True)

    home_source = Unicode(
        "",
        help="""Host directory mounted as the home of containers whose policy has
        ``allow_home``; ``{user}`` is replaced by the user name. Empty: the server's
        root directory in personal mode, no home otherwise.""",
    ).tag(config=True)

    home_target = Unicode("/workspace", help="Where the home is mounted inside containers.").tag(
        config=True
    )

    start_timeout = Float(
        60,
        help="Seconds to wait for an application to answer HTTP 2xx at its URL after start.",
    ).tag(config=True)

    stop_timeout = Int(
        5, help="Seconds an application gets to exit after SIGTERM before it is killed."
    ).tag(config=True)

    personal_user = Unicode(
        help="""The accounting user of a server that does not run under JupyterHub
        (personal mode): whoever holds the server's token acts as this user. Default:
        the operating-system user running the server.""",
    ).tag(config=True)

    @default("personal_user")
    def _default_personal_user(self):
        return getpass.getuser()

    personal_admin = Bool(
        True,
        help="""Whether the personal-mode user may use the admin API (users,
        applications, grants, every container). Under JupyterHub the admin permission
        is the ``custom:remoteapp:admin`` scope instead.""",
    ).tag(config=True)

    apps_url = Unicode(
        "",
        help="""Personal mode: the URL (origin) apps are served on, e.g.
        ``https://apps.example.org/`` when this server is reached through a reverse
        proxy that also forwards that name to it. Empty (default): the other loopback
        name of the port the Lab came on (Lab on ``localhost:P`` → apps on
        ``127.0.0.1:P`` and the reverse), which isolates apps from the Lab also through
        ``ssh -L``; for a Lab reached by any other name there is no apps origin: see
        ``apps_same_origin_fallback``.""",
    ).tag(config=True)

    apps_same_origin_fallback = Bool(
        True,
        help="""What to do when there is no apps origin (the Lab is reached by a name
        other than localhost/127.0.0.1 and ``apps_url`` is not set). True (default):
        serve apps on the Lab's own origin, with a warning in the log and in the Lab —
        an app's script can then act as the user (read their files, start kernels).
        False: refuse to serve apps on the Lab's origin.""",
    ).tag(config=True)

    service_url = Unicode(
        help="""URL of the remoteapp JupyterHub service, with its path
        (``http://127.0.0.1:10101/services/remoteapp/``). When set, the server extension
        is in hub mode: it opens no docker or database connection (users' kernels run as
        this server's OS user) and forwards every API call to the service with the
        caller's own token. Default: $REMOTEAPP_SERVICE_URL, which the JupyterHub
        configuration made by ``jupyter remoteapp hub-config`` sets for the spawners.""",
    ).tag(config=True)

    @default("service_url")
    def _default_service_url(self):
        return os.environ.get("REMOTEAPP_SERVICE_URL", "")

    service_cache_seconds = Float(
        5,
        help="""Hub mode: how long the service's answer that a container is the caller's
        (and where it listens) is reused by the proxy before asking again.""",
    ).tag(config=True)

    def open_accounting(self) -> Accounting:
        return open_accounting(self.accounting_url)

    def container_options(self, **overrides) -> ContainerOptions:
        values = dict(
            realm=self.realm,
            namespace=self.label_namespace,
            name_template=self.name_template,
            host_ip=self.host_ip,
            network_name=self.network_name,
            use_internal_ip=self.use_internal_ip,
            mem_limit=self.mem_limit,
            cpu_limit=self.cpu_limit,
            pull_policy=self.pull_policy,
            remove=self.remove,
            extra_create_kwargs=dict(self.extra_create_kwargs),
            extra_host_config=dict(self.extra_host_config),
            home_source=self.home_source,
            home_target=self.home_target,
            start_timeout=self.start_timeout,
            stop_timeout=self.stop_timeout,
            cap_drop=list(self.cap_drop),
            cap_add=list(self.cap_add),
            pids_limit=self.pids_limit,
            allowed_volume_roots=list(self.allowed_volume_roots),
        )
        values.update(overrides)
        return ContainerOptions(**values)

    def container_manager(self, **overrides) -> ContainerManager:
        docker = AsyncDocker(self.docker_host, max_workers=self.docker_workers)
        return ContainerManager(docker, self.container_options(**overrides))
