"""A real JupyterHub for the end-to-end tests: configurable-http-proxy from npm, the
remoteapp service, single-user servers of real unprivileged system users
(LocalProcessSpawner), and a scripted browser login per user."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

ROOT = Path(__file__).resolve().parent.parent
CHP = ROOT / ".hub" / "node_modules" / ".bin" / "configurable-http-proxy"
VENV_BIN = Path(sys.executable).parent
PASSWORD = "remoteapp-test-password"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def ensure_chp() -> Path:
    """configurable-http-proxy, installed locally under .hub/ (as scripts/setup does)."""
    if not CHP.exists():
        (ROOT / ".hub").mkdir(exist_ok=True)
        subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund", "--prefix", str(ROOT / ".hub")]
            + ["configurable-http-proxy@5"],
            check=True,
            capture_output=True,
        )
    return CHP


def user_python(directory: Path) -> Path:
    """A Python the test users may run, with this checkout's packages.

    The dev venv's interpreter may live where other users cannot go (pyenv under
    /root). A venv of the system Python 3 (same minor version: compiled packages fit)
    whose ``.pth`` adds the dev venv's site-packages gives them the same installation,
    including the editable remoteapp; its ``share``/``etc`` link to the dev venv's,
    where JupyterLab's assets and the extension's enabling config are.
    """
    if not _under_private_dir(Path(sys.executable).resolve()):
        return Path(sys.executable)
    version = f"python{sys.version_info[0]}.{sys.version_info[1]}"
    checkout = Path(__file__).resolve().parent.parent
    if _under_private_dir(Path(sys.prefix, "lib", version)) or _under_private_dir(checkout):
        pytest.skip(
            f"the venv or the checkout ({checkout}) is in a directory other users cannot "
            "enter; the JupyterHub tests need real unprivileged users to run this code"
        )
    env = directory / "user-python"
    if not env.exists():
        subprocess.run([f"/usr/bin/{version}", "-m", "venv", "--without-pip", str(env)], check=True)
        dev_site = Path(sys.prefix, "lib", version, "site-packages")
        pth = env / "lib" / version / "site-packages" / "remoteapp-dev.pth"
        pth.write_text(f"import site; site.addsitedir({str(dev_site)!r})\n")
        for name in ("share", "etc"):
            shutil.rmtree(env / name, ignore_errors=True)
            (env / name).symlink_to(Path(sys.prefix) / name)
    return env / "bin" / "python"


def _under_private_dir(path: Path) -> bool:
    """Whether some directory above ``path`` is closed to other users."""
    return any(not parent.stat().st_mode & 0o001 for parent in path.parents)


def create_system_user(name: str) -> None:
    """An unprivileged login with a home: not root, not in the docker group."""
    if subprocess.run(["id", name], capture_output=True).returncode != 0:
        subprocess.run(["useradd", "--create-home", "--shell", "/bin/sh", name], check=True)
    groups = subprocess.run(["id", "-Gn", name], capture_output=True, text=True).stdout.split()
    assert "docker" not in groups and "root" not in groups, (name, groups)


def remove_system_user(name: str) -> None:
    subprocess.run(["pkill", "-KILL", "-u", name], capture_output=True)  # leftovers only
    for _ in range(20):
        if subprocess.run(["userdel", "-r", name], capture_output=True).returncode in (0, 6):
            return
        time.sleep(0.25)  # "user is currently used by process": the kill takes a moment


class Hub:
    """One JupyterHub in ``workdir`` with the remoteapp configuration of ``configure_hub``."""

    def __init__(
        self,
        workdir: Path,
        *,
        admin_users: list[str],
        realm: str,
        accounting_url: str,
        user_python: Path,
        apps_origin: bool = True,
        workers: int = 1,
        apps_url: str | None = None,
        public_url: str | None = None,
        apps_listen_url: str | None = None,
        port: int | None = None,
        log_level: str = "DEBUG",
        extra_config: str = "",
        hub_options: dict[str, Any] | None = None,
    ):
        """``hub_options``: keyword arguments of ``configure_hub`` over the ones here;
        ``extra_config``: Python lines appended to ``jupyterhub_config.py`` (``c`` is in
        scope)."""
        self.workdir = workdir
        self.user_python = user_python
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.service_port = free_port()
        #: the apps origin: another loopback address, so another site for the browser
        self.apps_url = apps_url or (f"http://127.0.0.2:{free_port()}/" if apps_origin else None)
        self.workers = workers
        #: the Hub as browsers reach it (default: its address)
        self.public_url = public_url or self.url
        self.service_options: dict[str, Any] = {"activity_interval": 1}
        if apps_listen_url:
            self.service_options["apps_listen_url"] = apps_listen_url
        self.harness_token = secrets.token_hex(32)
        self.proxy_api_url = f"http://127.0.0.1:{free_port()}"
        self.proxy_auth_token = secrets.token_hex(32)
        self.log_level = log_level
        self.extra_config = extra_config
        self.hub_options = hub_options or {}
        self.admin_users = admin_users
        self.realm = realm
        self.accounting_url = accounting_url
        self.process: subprocess.Popen | None = None
        self.log_path = workdir / "jupyterhub.log"

    def hub_config_options(self) -> dict[str, Any]:
        """The keyword arguments of ``configure_hub`` in the Hub's configuration."""
        return {
            "service_url": f"http://127.0.0.1:{self.service_port}",
            "apps_url": self.apps_url,
            "hub_url": self.public_url,
            "workers": self.workers,
            # activity_interval: the test sees activity posted for each request
            "service_options": self.service_options,
            "admin_users": self.admin_users,
            "python": sys.executable,
            "remoteapp_options": {
                "accounting_url": self.accounting_url,
                "realm": self.realm,
                "stop_timeout": 1,
                "start_timeout": 30,
            },
            **self.hub_options,
        }

    def write_config(self) -> Path:
        config = self.workdir / "jupyterhub_config.py"
        config.write_text(
            textwrap.dedent(
                f"""
                from remoteapp_server.hub import configure_hub

                c.JupyterHub.bind_url = {self.url!r}
                c.JupyterHub.hub_ip = "127.0.0.1"
                c.JupyterHub.hub_port = {free_port()}
                c.ConfigurableHTTPProxy.api_url = {self.proxy_api_url!r}
                c.ConfigurableHTTPProxy.auth_token = {self.proxy_auth_token!r}
                c.ConfigurableHTTPProxy.command = [{str(ensure_chp())!r}]
                c.JupyterHub.db_url = "sqlite:///{self.workdir}/jupyterhub.sqlite"
                c.JupyterHub.cookie_secret_file = "{self.workdir}/cookie_secret"
                c.JupyterHub.pid_file = "{self.workdir}/jupyterhub.pid"
                c.JupyterHub.authenticator_class = "dummy"
                c.DummyAuthenticator.password = {PASSWORD!r}
                c.Authenticator.allow_all = True
                c.JupyterHub.spawner_class = "localprocess"
                c.Spawner.cmd = [{str(self.user_python)!r}, "-m", "jupyterhub.singleuser"]
                c.Spawner.default_url = "/lab"
                c.Spawner.http_timeout = 60
                c.Spawner.start_timeout = 60
                c.JupyterHub.log_level = {self.log_level!r}

                configure_hub(c, **{self.hub_config_options()!r})
                # the test harness: creates users, starts their servers, reads tokens
                c.JupyterHub.services.append(
                    {{"name": "harness", "api_token": {self.harness_token!r}}}
                )
                c.JupyterHub.load_roles.append(
                    {{
                        "name": "harness",
                        "scopes": ["admin:users", "admin:servers", "tokens"],
                        "services": ["harness"],
                    }}
                )
                """
            )
            + textwrap.dedent(self.extra_config)
        )
        return config

    def start(self, timeout: float = 30) -> None:
        config = self.write_config()
        # PYTHONPATH (kept by JupyterHub for its service and servers): this checkout's
        # remoteapp_server even when the venv's editable install points to another one
        checkout = str(Path(__file__).resolve().parent.parent)
        path = os.pathsep.join(filter(None, [checkout, os.environ.get("PYTHONPATH")]))
        env = dict(os.environ, PATH=f"{VENV_BIN}:{os.environ['PATH']}", PYTHONPATH=path)
        self._log = open(self.log_path, "wb")  # noqa: SIM115 (kept open while it runs)
        self.process = subprocess.Popen(
            [str(VENV_BIN / "jupyterhub"), "-f", str(config)],
            cwd=self.workdir,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"jupyterhub exited:\n{self.log_tail()}")
            try:
                if requests.get(f"{self.url}/hub/api/", timeout=2).ok and self._service_up():
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"jupyterhub did not come up:\n{self.log_tail()}")

    def _service_up(self) -> bool:
        try:
            answer = requests.get(f"{self.url}/services/remoteapp/api/me", timeout=2)
        except requests.RequestException:
            return False
        return answer.status_code == 403  # up, and refusing the unauthenticated

    def log_tail(self, lines: int = 80) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()  # the Hub stops the servers, the service and the proxy
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, 9)
            self.process.wait(5)
        self._log.close()
        self.process = None

    # ------------------------------------------------------------ Hub REST API
    def api(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = {"Authorization": f"token {self.harness_token}"}
        return requests.request(
            method, f"{self.url}/hub/api/{path}", headers=headers, timeout=30, **kwargs
        )

    def proxy_route(self, path: str, target: str | None) -> None:
        """Add (``target``) or remove (None) a route of configurable-http-proxy, through its
        REST API (the Hub ignores routes it did not add)."""
        headers = {"Authorization": f"token {self.proxy_auth_token}"}
        url = f"{self.proxy_api_url}/api/routes{path}"
        if target is None:
            answer = requests.delete(url, headers=headers, timeout=10)
        else:
            answer = requests.post(url, headers=headers, json={"target": target}, timeout=10)
        answer.raise_for_status()

    def start_servers(self, names: list[str], timeout: float = 60) -> None:
        for name in names:
            answer = self.api("POST", f"users/{name}")
            assert answer.status_code in (201, 409), answer.text
            answer = self.api("POST", f"users/{name}/server")
            assert answer.status_code in (201, 202, 400), answer.text  # 400: already running
        deadline = time.monotonic() + timeout
        pending = set(names)
        while pending and time.monotonic() < deadline:
            for name in list(pending):
                model = self.api("GET", f"users/{name}").json()
                if (model.get("servers") or {}).get("", {}).get("ready"):
                    pending.discard(name)
            time.sleep(0.3)
        assert not pending, f"servers not ready: {pending}\n{self.log_tail()}"

    def user_token(self, name: str, scopes: list[str]) -> str:
        answer = self.api(
            "POST", f"users/{name}/tokens", json={"scopes": scopes, "note": "remoteapp test"}
        )
        assert answer.status_code == 201, answer.text
        return answer.json()["token"]


class HubUser:
    """A browser of one user: scripted login, then cookie-authenticated calls."""

    def __init__(self, hub: Hub, name: str):
        self.hub = hub
        self.name = name
        self.session = requests.Session()
        self.server = f"{hub.url}/user/{name}/"
        self.api_url = f"{self.server}remoteapp/api/"

    def login(self) -> None:
        login = f"{self.hub.url}/hub/login"
        self.session.get(login, timeout=30).raise_for_status()
        xsrf = self.session.cookies.get("_xsrf", path="/hub/")
        answer = self.session.post(
            login,
            data={"username": self.name, "password": PASSWORD, "_xsrf": xsrf},
            timeout=30,
        )
        answer.raise_for_status()
        # completes the single-user server's OAuth: its cookie then holds the user's token
        deadline = time.monotonic() + 60
        while True:  # a server not started yet: the Hub spawns it and shows spawn-pending
            lab = self.session.get(f"{self.server}lab", timeout=60)
            if "/spawn-pending/" not in lab.url or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert lab.status_code == 200 and urlsplit(lab.url).path == f"/user/{self.name}/lab", (
            lab.status_code,
            lab.url,
        )

    def login_to_service(self) -> requests.Response:
        """A browser opening the service on the apps origin: the service's OAuth login
        (Hub authorize page, no confirmation, callback on the apps origin) sets its cookie
        there. Returns the final answer (the service's home page)."""
        home = f"{self.hub.apps_url or self.hub.url + '/'}services/remoteapp/"
        answer = self.session.get(home, timeout=30)
        assert answer.status_code == 200, (answer.status_code, answer.url, answer.text[:300])
        assert answer.json()["user"] == self.name
        return answer

    @property
    def token(self) -> str:
        """A token of this user for scripts: the service's access scope, their own
        server's, and the admin scope when the user has it."""
        if not hasattr(self, "_token"):
            scopes = ["access:services!service=remoteapp", f"access:servers!user={self.name}"]
            if self.name in self.hub.admin_users:
                scopes.append("custom:remoteapp:admin")
            self._token = self.hub.user_token(self.name, scopes)
        return self._token

    @property
    def xsrf(self) -> str:
        for cookie in self.session.cookies:
            if cookie.name == "_xsrf" and cookie.path.rstrip("/") == f"/user/{self.name}":
                return cookie.value
        raise AssertionError(f"no _xsrf cookie for {self.name}'s server")

    def call(self, method: str, path: str, body: Any = None, **kwargs: Any) -> tuple[int, Any]:
        """An API call like the Lab frontend makes it (cookie + X-XSRFToken)."""
        headers = kwargs.pop("headers", {})
        if method != "GET":
            headers["X-XSRFToken"] = self.xsrf
        answer = self.session.request(
            method,
            self.api_url + path,
            json=body,
            headers=headers,
            timeout=kwargs.pop("timeout", 90),
            allow_redirects=False,
            **kwargs,
        )
        try:
            return answer.status_code, answer.json()
        except ValueError:
            return answer.status_code, answer.text

    def get(self, path: str, **kwargs: Any) -> tuple[int, Any]:
        return self.call("GET", path, **kwargs)

    def cookie_header(self) -> str:
        return "; ".join(f"{c.name}={c.value}" for c in self.session.cookies)

    # ------------------------------------------------------------ a real kernel
    def execute(self, code: str, timeout: float = 60) -> str:
        """Run ``code`` in a new kernel of the user's server; returns its stdout."""
        answer = self.session.post(
            f"{self.server}api/kernels",
            json={"name": "python3"},
            headers={"X-XSRFToken": self.xsrf},
            timeout=30,
        )
        assert answer.status_code == 201, answer.text
        kernel_id = answer.json()["id"]
        try:
            return asyncio.run(self._execute(kernel_id, code, timeout))
        finally:
            self.session.delete(
                f"{self.server}api/kernels/{kernel_id}",
                headers={"X-XSRFToken": self.xsrf},
                timeout=30,
            )

    async def _execute(self, kernel_id: str, code: str, timeout: float) -> str:
        from tornado.httpclient import HTTPRequest
        from tornado.websocket import websocket_connect

        ws_url = self.server.replace("http://", "ws://") + f"api/kernels/{kernel_id}/channels"
        request = HTTPRequest(ws_url, headers={"Cookie": self.cookie_header()})
        conn = await websocket_connect(request)
        msg_id = uuid.uuid4().hex
        conn.write_message(
            json.dumps(
                {
                    "header": {
                        "msg_id": msg_id,
                        "msg_type": "execute_request",
                        "username": self.name,
                        "session": uuid.uuid4().hex,
                        "version": "5.3",
                        "date": "",
                    },
                    "parent_header": {},
                    "metadata": {},
                    "content": {
                        "code": code,
                        "silent": False,
                        "store_history": False,
                        "user_expressions": {},
                        "allow_stdin": False,
                        "stop_on_error": True,
                    },
                    "channel": "shell",
                    "buffers": [],
                }
            )
        )
        out: list[str] = []
        deadline = time.monotonic() + timeout
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"kernel output so far: {''.join(out)}")
                raw = await asyncio.wait_for(conn.read_message(), left)
                if raw is None:
                    raise ConnectionError("kernel websocket closed")
                msg = json.loads(raw)
                if msg.get("parent_header", {}).get("msg_id") != msg_id:
                    continue
                kind = msg["header"]["msg_type"]
                if kind == "stream":
                    out.append(msg["content"]["text"])
                elif kind == "error":
                    raise AssertionError("\n".join(msg["content"]["traceback"]))
                elif kind == "status" and msg["content"]["execution_state"] == "idle":
                    return "".join(out)
        finally:
            conn.close()


def run_hub(docker_client, *, users, admin_users, realm, images, **options):
    """A started Hub with system ``users``, each granted ``images``, their servers
    running; everything removed afterwards (a generator for a module fixture)."""
    from remoteapp_server.core.accounting import Policy, open_accounting

    # base: others may enter (the users' Python lives here); private: root only
    base = Path(tempfile.mkdtemp(prefix="remoteapp-hub-test-"))
    base.chmod(0o711)
    private = base / "private"
    private.mkdir(mode=0o700)
    accounting_file = private / "remoteapp.sqlite"
    accounting = open_accounting(str(accounting_file))
    grants: dict[str, dict[str, str]] = {}
    for image in images:
        accounting.create_application(image)
    for name in users:
        create_system_user(name)
        accounting.create_user(name)
        grants[name] = {
            image: accounting.grant(image, Policy(), user=name).mapping_id for image in images
        }
    accounting.close()
    hub = Hub(
        private,
        admin_users=admin_users,
        realm=realm,
        accounting_url=str(accounting_file),
        user_python=user_python(base),
        **options,
    )
    hub.grants = grants
    hub.accounting_file = accounting_file
    try:
        hub.start()
        hub.start_servers(list(users))
        yield hub
    finally:
        hub.stop()
        # the Hub's, the service's and the servers' log, for after the fact
        shutil.copy(hub.log_path, ensure_chp().parents[2] / "last-test-hub.log")
        for container in docker_client.containers.list(
            all=True,
            filters={"label": f"eu.simphony-project.docker.runinfo.realm={realm}"},
        ):
            container.remove(force=True)
        for name in users:
            remove_system_user(name)
        shutil.rmtree(base, ignore_errors=True)


def cleanup_workdir(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
