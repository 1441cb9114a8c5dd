"""What the manager knows about a container, rebuilt from docker labels every time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

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
