"""Real faults for tests/test_faults.py: a private docker daemon that can be stopped and
started, a Jupyter server in a subprocess that can be SIGKILLed, files that even root
cannot write (``chattr +i``, read-only bind mounts).

Everything here needs root and cleans up after itself; the callers skip with the reason
:func:`private_dockerd_missing` / :func:`immutable_missing` give.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import requests

TESTS = Path(__file__).resolve().parent


def _log_tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


# ------------------------------------------------------------------ private docker daemon


def private_dockerd_missing() -> str | None:
    """Why a private docker daemon cannot run here, or None."""
    if os.geteuid() != 0:
        return "a private docker daemon needs root"
    for tool in ("dockerd", "ip"):
        if shutil.which(tool) is None:
            return f"a private docker daemon needs {tool} on PATH"
    return None


def _addresses_in_use() -> str:
    return (
        subprocess.run(
            ["ip", "-4", "-o", "addr", "show"], capture_output=True, text=True, check=True
        ).stdout
        + subprocess.run(
            ["ip", "-4", "route", "show"], capture_output=True, text=True, check=True
        ).stdout
    )


class PrivateDockerd:
    """A docker daemon of its own: socket, data root, exec root, pid file and bridge.

    The machine's main daemon (``/var/run/docker.sock``) is never touched, so other
    tests can use docker while this one is stopped and started. ``--iptables=false``
    keeps its hands off the host's firewall: published ports work through docker-proxy
    (the userland proxy), which is all a 127.0.0.1 binding needs.
    """

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="ra-dockerd-", dir="/tmp"))
        self.socket = self.dir / "docker.sock"
        self.url = f"unix://{self.socket}"
        self.log = self.dir / "dockerd.log"
        self.bridge = f"rafault{os.getpid() % 100000}"
        self.subnet: str | None = None
        self.process: subprocess.Popen | None = None
        #: seconds the last start took until the daemon answered
        self.start_seconds = 0.0

    # the bridge: its own, so that nothing is shared with docker0 of the main daemon
    def _create_bridge(self) -> None:
        in_use = _addresses_in_use()
        for third in range(200, 255):
            if f"172.31.{third}." not in in_use:
                break
        else:
            raise RuntimeError("no free 172.31.x.0/24 subnet for the private docker bridge")
        subprocess.run(["ip", "link", "del", self.bridge], capture_output=True)  # a leftover
        subprocess.run(["ip", "link", "add", "name", self.bridge, "type", "bridge"], check=True)
        self.subnet = f"172.31.{third}.1/24"
        subprocess.run(["ip", "addr", "add", self.subnet, "dev", self.bridge], check=True)
        subprocess.run(["ip", "link", "set", self.bridge, "up"], check=True)

    def start(self, timeout: float = 30) -> None:
        if self.subnet is None:
            self._create_bridge()
        began = time.monotonic()
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [
                    "dockerd",
                    "--host",
                    self.url,
                    "--data-root",
                    str(self.dir / "data"),
                    "--exec-root",
                    str(self.dir / "exec"),
                    "--pidfile",
                    str(self.dir / "docker.pid"),
                    "--iptables=false",
                    "--ip-masq=false",
                    "--bridge",
                    self.bridge,
                    # containers get 1 s to stop when the daemon does (default 10 s)
                    "--shutdown-timeout",
                    "1",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # a Ctrl-C of pytest must not skip the clean stop
            )
        deadline = began + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"the private dockerd exited with {self.process.returncode}:\n"
                    + _log_tail(self.log)
                )
            if self.answers():
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"the private dockerd did not answer:\n{_log_tail(self.log)}")
            time.sleep(0.05)
        self.start_seconds = time.monotonic() - began

    def answers(self) -> bool:
        if not self.socket.exists():
            return False
        try:
            with self.client() as client:
                return bool(client.ping())
        except Exception:
            return False

    def client(self) -> docker.APIClient:
        return docker.APIClient(base_url=self.url, version="auto", timeout=30)

    def stop(self, timeout: float = 30) -> None:
        """Stop the daemon as an operator would (SIGTERM); its containers stop with it."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
            self._kill_own_containerd()

    def _kill_own_containerd(self) -> None:
        """After a SIGKILL of dockerd: its containerd (under our exec root) lives on."""
        for pid_file in (self.dir / "exec").glob("containerd/containerd.pid"):
            with contextlib.suppress(OSError, ValueError):
                os.kill(int(pid_file.read_text().strip()), signal.SIGKILL)

    def load_image(self, tag: str) -> None:
        """Copy ``tag`` from the main daemon (``docker save | docker load``)."""
        with docker.APIClient(version="auto", timeout=120) as main:
            data = b"".join(main.get_image(tag))
        with self.client() as client:
            for _ in client.load_image(data):
                pass

    def close(self) -> None:
        """Remove its containers, stop it, unmount what it left, delete bridge and files."""
        try:
            if self.process is not None and self.answers():
                with self.client() as client:
                    for container in client.containers(all=True, quiet=True):
                        with contextlib.suppress(docker.errors.APIError):
                            client.remove_container(container["Id"], force=True, v=True)
        finally:
            self.stop()
            mounts = []
            with open("/proc/self/mountinfo") as mountinfo:
                for line in mountinfo:
                    point = line.split()[4]
                    if point.startswith(str(self.dir) + "/"):
                        mounts.append(point)
            for point in sorted(mounts, key=len, reverse=True):
                subprocess.run(["umount", "-l", point], capture_output=True)
            subprocess.run(["ip", "link", "del", self.bridge], capture_output=True)
            shutil.rmtree(self.dir, ignore_errors=True)


# ------------------------------------------------------------------ holding a docker call


class DockerCallGate:
    """A unix socket in front of the real docker socket that passes everything through,
    except, once :attr:`armed`, the first request matching ``hold``: that one is held
    (never reaches docker) and :attr:`held` is set, so a test can act at exactly that
    point of an operation, such as after docker created a container and before it was
    started.
    """

    armed = False

    def __init__(self, directory: Path, hold: bytes, upstream: str = "/var/run/docker.sock"):
        import re
        import threading

        self.path = directory / "gate.sock"
        self.url = f"unix://{self.path}"
        self.upstream = upstream
        self.hold = re.compile(hold)
        self.held = threading.Event()
        self._closed = threading.Event()
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._listener.bind(str(self.path))
        self._listener.listen(16)
        self._threads = [threading.Thread(target=self._accept, daemon=True)]
        self._threads[0].start()

    def _accept(self) -> None:
        import threading

        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                upstream.connect(self.upstream)
            except OSError:
                client.close()
                continue
            for source, target, inspect in ((client, upstream, True), (upstream, client, False)):
                thread = threading.Thread(
                    target=self._pump, args=(source, target, inspect), daemon=True
                )
                thread.start()

    def _pump(self, source: socket.socket, target: socket.socket, inspect: bool) -> None:
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                if inspect and self.armed and not self.held.is_set() and self.hold.search(data):
                    self.held.set()
                    self._closed.wait()  # never forwarded
                    break
                target.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, target):
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self._closed.set()
        with contextlib.suppress(OSError):
            self._listener.close()
        with contextlib.suppress(OSError):
            self.path.unlink()


# ------------------------------------------------------------------ a Jupyter server process


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServerProcess:
    """``jupyter server`` with the extension, run as a subprocess that can be SIGKILLed.

    Identity comes from ``fake_hub`` tokens (alice is admin, bob is not), so owner and
    admin views can both be checked. Configuration, runtime files and the SQLite
    accounting live under ``directory`` and survive a restart.
    """

    def __init__(self, directory: Path, remoteapp: dict[str, Any]):
        self.dir = directory
        self.remoteapp = remoteapp
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.process: subprocess.Popen | None = None
        self.log = directory / "server.log"
        self.starts = 0

    def _write_config(self) -> Path:
        config = self.dir / "jupyter_server_config.py"
        settings = "\n".join(f"c.RemoteApp.{k} = {v!r}" for k, v in self.remoteapp.items())
        config.write_text(
            textwrap.dedent(
                f"""\
                c.ServerApp.jpserver_extensions = {{"remoteapp_server": True}}
                c.ServerApp.identity_provider_class = "fake_hub.FakeHubIdentityProvider"
                c.ServerApp.ip = "127.0.0.1"
                c.ServerApp.port = {self.port}
                c.ServerApp.port_retries = 0
                c.ServerApp.open_browser = False
                c.ServerApp.allow_root = True
                c.ServerApp.root_dir = {str(self.dir)!r}
                """
            )
            + settings
            + "\n"
        )
        return config

    def start(self, timeout: float = 60) -> None:
        config = self._write_config()
        env = dict(
            os.environ,
            PYTHONPATH=os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]),
            JUPYTER_CONFIG_DIR=str(self.dir / "config"),
            JUPYTER_DATA_DIR=str(self.dir / "data"),
            JUPYTER_RUNTIME_DIR=str(self.dir / "runtime"),
            JUPYTER_PLATFORM_DIRS="1",
        )
        env.pop("JUPYTERHUB_API_TOKEN", None)
        self.starts += 1
        with open(self.log, "ab") as log:
            log.write(f"\n---- start {self.starts}\n".encode())
            log.flush()
            self.process = subprocess.Popen(
                [sys.executable, "-m", "jupyter_server", f"--config={config}"],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                cwd=self.dir,
            )
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited early:\n{_log_tail(self.log)}")
            try:
                if self.call("GET", "me", "alice").status_code == 200:
                    return
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the server did not come up:\n{_log_tail(self.log)}")
            time.sleep(0.1)

    def call(self, method: str, path: str, who: str, body: Any = None, **kwargs: Any):
        kwargs.setdefault("timeout", 90)
        return requests.request(
            method,
            f"{self.url}remoteapp/api/{path}",
            json=body,
            headers={"Authorization": f"token {who}-token"},
            **kwargs,
        )

    def proxied(self, url: str, who: str) -> requests.Response:
        """GET a container URL through the server's proxy, as ``who``."""
        return requests.get(url, headers={"Authorization": f"token {who}-token"}, timeout=30)

    def kill(self) -> None:
        """SIGKILL: no shutdown hook runs, nothing is cleaned up."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)
        self.process = None

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self.process = None

    def log_tail(self, lines: int = 60) -> str:
        return _log_tail(self.log, lines)


# ------------------------------------------------------------------ files root cannot write


def immutable_missing(directory: Path) -> str | None:
    """Why ``chattr +i`` cannot make files in ``directory`` unwritable for root, or None."""
    if os.geteuid() != 0:
        return "chattr +i needs root (CAP_LINUX_IMMUTABLE)"
    if shutil.which("chattr") is None:
        return "chattr is not installed (e2fsprogs)"
    probe = directory / ".immutable-probe"
    probe.write_text("")
    try:
        done = subprocess.run(["chattr", "+i", str(probe)], capture_output=True, text=True)
        if done.returncode != 0:
            return f"this filesystem does not support chattr +i: {done.stderr.strip()}"
        try:
            with open(probe, "a"):
                return "chattr +i does not stop root from writing here"
        except PermissionError:
            return None
    finally:
        subprocess.run(["chattr", "-i", str(probe)], capture_output=True)
        probe.unlink()


@contextlib.contextmanager
def immutable(*paths: Path) -> Iterator[None]:
    """``chattr +i`` (not even root may write, rename or delete), undone afterwards."""
    done = []
    try:
        for path in paths:
            subprocess.run(["chattr", "+i", str(path)], check=True, capture_output=True)
            done.append(path)
        yield
    finally:
        for path in done:
            subprocess.run(["chattr", "-i", str(path)], capture_output=True)


def bind_mount_missing(directory: Path) -> str | None:
    """Why a read-only bind mount cannot be made here, or None."""
    if os.geteuid() != 0:
        return "mounting needs root"
    probe = directory / ".mount-probe"
    probe.write_text("")
    try:
        with read_only_bind(probe):
            try:
                with open(probe, "a"):
                    return "a read-only bind mount does not stop root from writing here"
            except OSError as exc:
                if exc.errno != errno.EROFS:
                    return f"writing to a read-only bind mount failed with {exc}"
                return None
    except subprocess.CalledProcessError as exc:
        return f"cannot make a read-only bind mount: {exc.stderr.strip()}"
    finally:
        probe.unlink()


@contextlib.contextmanager
def read_only_bind(path: Path) -> Iterator[None]:
    """Mount ``path`` read-only over itself, as a filesystem remounted read-only after
    errors looks to programs: writes fail with EROFS, for root too."""
    subprocess.run(
        ["mount", "--bind", str(path), str(path)], check=True, capture_output=True, text=True
    )
    try:
        subprocess.run(
            ["mount", "-o", "remount,ro,bind", str(path)],
            check=True,
            capture_output=True,
            text=True,
        )
        yield
    finally:
        # lazily: files open on the mount (SQLite's) keep it busy, new opens see the file
        subprocess.run(["umount", "-l", str(path)], capture_output=True)
