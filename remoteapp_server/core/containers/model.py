"""What the manager knows about a container, rebuilt from docker labels every time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from ..images import image_from_labels
from .options import ContainerOptions

RUNINFO_KEYS = ("user", "mapping_id", "url_id", "urlpath", "realm")
ACTIVE_STATES = ("created", "running", "restarting")


@dataclass(frozen=True)
class Container:
    docker_id: str
    name: str
    image: str
    user: str
    mapping_id: str
    url_id: str
    urlpath: str
    realm: str
    #: docker's state: created, running, restarting, paused, exited, dead, removing
    state: str
    started_at: str
    ui_name: str = ""
    type: str = "vncapp"
    #: where the app answers, as seen from the server (127.0.0.1 + published port)
    host: str | None = None
    port: int | None = None

    @property
    def status(self) -> str:
        """The state shown to people: ``running`` or ``stopped``, or docker's own word."""
        if self.state == "running":
            return "running"
        if self.state in ("exited", "dead"):
            return "stopped"
        return self.state

    @property
    def target(self) -> str | None:
        """``http://host:port`` of the app, or None when it is not reachable."""
        if self.host is None or self.port is None:
            return None
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "url_id": self.url_id,
            "mapping_id": self.mapping_id,
            "user": self.user,
            "image": self.image,
            "ui_name": self.ui_name,
            "type": self.type,
            "url": self.urlpath,
            "status": self.status,
            "started_at": self.started_at,
        }


def iso_from_epoch(seconds: float | None) -> str:
    if not seconds:
        return ""
    return datetime.fromtimestamp(seconds, tz=timezone.utc).isoformat().replace("+00:00", "Z")


def from_summary(summary: dict[str, Any], opts: ContainerOptions) -> Container | None:
    """The container a docker summary describes; None when it carries no run info."""
    labels = summary.get("Labels") or {}
    try:
        runinfo = {k: labels[opts.label(k)] for k in ("user", "mapping_id", "url_id", "urlpath")}
    except KeyError:
        return None
    image = image_from_labels(summary.get("Image", ""), labels, opts.label_namespace)
    host, port = _address(summary, opts)
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


def _address(summary: dict[str, Any], opts: ContainerOptions) -> tuple[str | None, int | None]:
    """Where the server reaches the app: the published port, or the network address."""
    labels = summary.get("Labels") or {}
    try:
        container_port = int(labels.get(opts.label("port"), "0"))
    except ValueError:
        container_port = 0
    if opts.use_internal_ip:
        networks = (summary.get("NetworkSettings") or {}).get("Networks") or {}
        net = networks.get(opts.network_name or "", None) or next(iter(networks.values()), {})
        ip = (net or {}).get("IPAddress")
        return (ip or None), (container_port or None)
    for port in summary.get("Ports") or []:
        if port.get("PublicPort") and port.get("PrivatePort") == container_port:
            ip = port.get("IP") or "127.0.0.1"
            if ip in ("0.0.0.0", "::"):
                ip = "127.0.0.1"
            return ip, int(port["PublicPort"])
    return None, None
