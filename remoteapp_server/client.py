"""A small Python client of the remoteapp REST API, for notebooks and the CLI.

In a JupyterHub kernel it needs no arguments (``JUPYTERHUB_SERVICE_URL`` and
``JUPYTERHUB_API_TOKEN``); on a workstation it finds the running Jupyter server, or
takes a URL and a token (arguments, ``REMOTEAPP_URL``/``REMOTEAPP_TOKEN``, or the
login file written by ``jupyter remoteapp login``)::

    from remoteapp_server.client import RemoteAppClient
    client = RemoteAppClient()
    app = client.applications()[0]
    container = client.start(app["mapping_id"], resolution="1280x800")
    print(client.url(container))
"""

from __future__ import annotations

import json
import os
import stat
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urljoin

import requests


class RemoteAppClientError(Exception):
    """The server answered an error (``status`` and its ``message``), or none was found."""

    def __init__(self, status: int, message: str):
        super().__init__(f"{status}: {message}" if status else message)
        self.status = status
        self.message = message


def login_file() -> Path:
    from jupyter_core.paths import jupyter_config_dir

    return Path(jupyter_config_dir()) / "remoteapp" / "login.json"


def save_login(url: str, token: str, path: Path | None = None) -> Path:
    """Write the login file readable by the owner only (0600)."""
    path = path or login_file()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as stream:
        json.dump({"url": url, "token": token}, stream)
    os.chmod(path, 0o600)  # also when the file existed with wider permissions
    return path


def _read_login(path: Path) -> tuple[str, str] | None:
    if not path.exists():
        return None
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise RemoteAppClientError(
            0, f"{path} is readable by others: it holds a token; run chmod 600 {path}"
        )
    data = json.loads(path.read_text())
    return data["url"], data["token"]


def discover(url: str | None = None, token: str | None = None) -> tuple[str, str]:
    """Find the server URL (with its base path) and a token; see the module docstring."""
    url = url or os.environ.get("REMOTEAPP_URL")
    token = token or os.environ.get("REMOTEAPP_TOKEN")
    if not url and os.environ.get("JUPYTERHUB_SERVICE_URL"):
        url = os.environ["JUPYTERHUB_SERVICE_URL"]
        token = token or os.environ.get("JUPYTERHUB_API_TOKEN")
    if not url:
        saved = _read_login(login_file())
        if saved:
            url, token = saved[0], token or saved[1]
    if not url:
        try:
            from jupyter_server.serverapp import list_running_servers

            server = next(iter(list_running_servers()), None)
        except Exception:  # no jupyter_server, unreadable runtime dir
            server = None
        if server:
            url, token = server["url"], token or server.get("token", "")
    if not url:
        raise RemoteAppClientError(
            0,
            "no remoteapp server found: pass url= and token=, set REMOTEAPP_URL and "
            "REMOTEAPP_TOKEN, or run `jupyter remoteapp login`",
        )
    return url, token or ""


class RemoteAppClient:
    def __init__(self, url: str | None = None, token: str | None = None, *, timeout: float = 30):
        self.server_url, token = discover(url, token)
        if not self.server_url.endswith("/"):
            self.server_url += "/"
        self.api_url = urljoin(self.server_url, "remoteapp/api/")
        self.timeout = timeout
        self.session = requests.Session()
        if token:
            self.session.headers["Authorization"] = f"token {token}"

    # ---------------------------------------------------------------- plumbing
    def _request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", self.timeout)
        try:
            response = self.session.request(method, self.api_url + path, **kwargs)
        except requests.ConnectionError as exc:
            raise RemoteAppClientError(0, f"cannot reach {self.api_url}: {exc}") from None
        if response.status_code >= 400:
            try:
                message = response.json()["message"]
            except (ValueError, KeyError, TypeError):
                message = response.reason or response.text[:200]
            raise RemoteAppClientError(response.status_code, message)
        return response

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._request(method, path, **kwargs)
        return None if response.status_code == 204 else response.json()

    # ---------------------------------------------------------------- API
    def me(self) -> dict[str, Any]:
        return self._json("GET", "me")

    def applications(self) -> list[dict[str, Any]]:
        """The entries the caller may start (one per grant)."""
        return self._json("GET", "applications")

    def containers(self) -> list[dict[str, Any]]:
        return self._json("GET", "containers")

    def container(self, url_id: str) -> dict[str, Any]:
        return self._json("GET", f"containers/{quote(url_id, safe='')}")

    def start(
        self,
        mapping_id: str,
        *,
        resolution: str | None = None,
        startupdata: str | None = None,
        configurables: dict[str, Any] | None = None,
        progress: Callable[[dict[str, Any]], Any] | None = None,
        timeout: float = 300,
    ) -> dict[str, Any]:
        """Start an application; returns the container once the app answers.

        With ``progress``, each stage (pulling, creating, waiting...) is reported as it
        happens (the server streams server-sent events).
        """
        configurables = dict(configurables or {})
        if resolution:
            configurables["resolution"] = resolution
        if startupdata:
            configurables["startupdata"] = startupdata
        body = {"mapping_id": mapping_id, "configurables": configurables}
        if progress is None:
            return self._json("POST", "containers", json=body, timeout=timeout)
        response = self._request(
            "POST",
            "containers",
            json=body,
            stream=True,
            timeout=timeout,
            headers={"Accept": "text/event-stream"},
        )
        with response:
            for event, data in _server_sent_events(response):
                if event == "progress":
                    progress(data)
                elif event == "ready":
                    return data
                elif event == "error":
                    raise RemoteAppClientError(data["status"], data["message"])
        raise RemoteAppClientError(0, "the server closed the start stream without a result")

    def stop(self, url_id: str) -> None:
        self._json("DELETE", f"containers/{quote(url_id, safe='')}")

    def logs(self, url_id: str, tail: int = 1000) -> str:
        return self._json(
            "GET", f"containers/{quote(url_id, safe='')}/logs", params={"tail": tail}
        )["logs"]

    def url(self, container: dict[str, Any] | str) -> str:
        """The absolute URL of a container, on the apps origin (a browser opens it through
        a ticket from JupyterLab; this client reaches it with its token)."""
        if isinstance(container, str):
            container = self.container(container)
        return urljoin(self.server_url, container["url"])  # a path in the same-origin fallback

    def wait_ready(self, url_id: str, timeout: float = 60) -> dict[str, Any]:
        """Wait until the app answers 2xx through the proxy; return the container."""
        container = self.container(url_id)
        deadline = time.monotonic() + timeout
        while True:
            try:
                if self.session.get(self.url(container), timeout=5).ok:
                    return container
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise RemoteAppClientError(504, f"{url_id} did not answer within {timeout} s")
            time.sleep(0.25)


def _server_sent_events(response: requests.Response) -> Iterator[tuple[str, Any]]:
    event, data = "message", []
    for line in response.iter_lines(decode_unicode=True):
        if line == "":
            if data:
                yield event, json.loads("\n".join(data))
            event, data = "message", []
        elif line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].strip())
