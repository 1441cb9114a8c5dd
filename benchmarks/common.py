"""Shared pieces of the benchmarks: statistics, tables, the Jupyter servers under test,
docker clean-up, the load generator processes and memory sampling."""

from __future__ import annotations

import asyncio
import io
import json
import math
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import docker
import docker.errors

HERE = Path(__file__).resolve().parent
NAMESPACE = "eu.simphony-project.docker."
WEBAPP = "remoteapp/demo-webapp:latest"
VNCAPP = "remoteapp/demo-vnc:latest"
BENCH_WEBAPP = "remoteapp-bench/webapp:latest"
BENCH_WS_ECHO = "remoteapp-bench/ws-echo:latest"
#: label on every container the benchmarks start themselves (the "floor" containers)
FLOOR_LABEL = "remoteapp.bench.run"
#: on the derived images: what they were built from (rebuilt when that changes)
IMAGE_DIGEST_LABEL = "remoteapp.bench.source"

MiB = 1024 * 1024


# -- statistics and tables -----------------------------------------------------------------------


@dataclass
class Stat:
    """Samples of one measurement over the repeats."""

    values: list[float] = field(default_factory=list)

    def add(self, value: float | None) -> None:
        if value is not None and not math.isnan(value):
            self.values.append(float(value))

    @property
    def ok(self) -> bool:
        return bool(self.values)

    @property
    def median(self) -> float:
        return statistics.median(self.values) if self.values else float("nan")

    @property
    def low(self) -> float:
        return min(self.values) if self.values else float("nan")

    @property
    def high(self) -> float:
        return max(self.values) if self.values else float("nan")

    def fmt(self, digits: int = 1, unit: str = "") -> str:
        if not self.values:
            return "—"
        text = f"{_num(self.median, digits)}{unit}"
        if len(self.values) > 1:
            text += f" ({_num(self.low, digits)}–{_num(self.high, digits)})"
        return text


def _num(value: float, digits: int) -> str:
    if math.isnan(value):
        return "—"
    if abs(value) >= 100 and digits > 0:
        digits = 0
    return f"{value:,.{digits}f}"


def ratio(a: Stat, b: Stat) -> float:
    """Ratio of the medians (nan when either is missing or b is 0)."""
    if not (a.ok and b.ok) or b.median == 0:
        return float("nan")
    return a.median / b.median


def fmt_ratio(value: float) -> str:
    return "—" if math.isnan(value) else f"{value:.2f}×"


def verdict(met: bool | None) -> str:
    return {True: "met", False: "**missed**", None: "n/a"}[met]


@dataclass
class Table:
    title: str
    columns: list[str]
    rows: list[list[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, *cells: Any) -> None:
        self.rows.append([str(c) for c in cells])

    def markdown(self) -> str:
        out = io.StringIO()
        out.write(f"### {self.title}\n\n")
        out.write("| " + " | ".join(self.columns) + " |\n")
        out.write("|" + "|".join(" --- " for _ in self.columns) + "|\n")
        for row in self.rows:
            out.write("| " + " | ".join(row) + " |\n")
        if self.notes:
            out.write("\n")
            for note in self.notes:
                out.write(f"- {note}\n")
        return out.getvalue()


# -- processes -----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def rss_kib(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class RssSampler:
    """Samples a process's resident memory every few milliseconds while running."""

    def __init__(self, pid: int, every: float = 0.02):
        self.pid, self.every = pid, every
        self.before = rss_kib(pid) or 0
        self.peak = self.before
        self._task: asyncio.Task | None = None

    async def _run(self) -> None:
        while True:
            value = rss_kib(self.pid)
            if value is not None:
                self.peak = max(self.peak, value)
            await asyncio.sleep(self.every)

    async def __aenter__(self) -> RssSampler:
        self._task = asyncio.ensure_future(self._run())
        return self

    async def __aexit__(self, *exc: Any) -> None:
        assert self._task is not None
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        value = rss_kib(self.pid)
        if value is not None:
            self.peak = max(self.peak, value)

    @property
    def growth_mib(self) -> float:
        return (self.peak - self.before) / 1024


async def loadgen(*args: str, timeout: float = 600) -> dict[str, Any]:
    """Run ``loadgen.py`` in its own process; its JSON answer."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(HERE / "loadgen.py"),
        *args,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), timeout)
    except asyncio.TimeoutError:
        process.kill()
        await process.wait()
        raise RuntimeError(f"loadgen {args[0]} timed out after {timeout} s") from None
    if process.returncode != 0:
        raise RuntimeError(f"loadgen {' '.join(args[:2])} failed: {err.decode()[-800:]}")
    return json.loads(out.decode().strip().splitlines()[-1])


# -- the Jupyter servers under test --------------------------------------------------------------


class JupyterServer:
    """``jupyter server`` as a subprocess with its own config, data and runtime dirs (so it
    is invisible to other Jupyter servers and clients on the machine)."""

    def __init__(
        self,
        workdir: Path,
        name: str,
        *,
        token: str,
        extensions: dict[str, bool],
        config_lines: Sequence[str] = (),
        env: dict[str, str] | None = None,
    ):
        self.dir = workdir / name
        self.dir.mkdir(parents=True, exist_ok=True)
        self.name = name
        self.token = token
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.headers = {"Authorization": f"token {token}"}
        self.log_path = self.dir / "server.log"
        config = [
            f"c.ServerApp.jpserver_extensions = {extensions!r}",
            "c.ServerApp.open_browser = False",
            "c.ServerApp.allow_root = True",
            f"c.ServerApp.root_dir = {str(self.dir)!r}",
            "c.ServerApp.identity_provider_class = 'bench_identity.BenchIdentityProvider'",
            *config_lines,
        ]
        self.config_path = self.dir / "jupyter_server_config.py"
        self.config_path.write_text("\n".join(config) + "\n")
        self.env = dict(os.environ)
        for key in list(self.env):
            if key.startswith("JUPYTERHUB_"):  # always personal mode
                del self.env[key]
        for sub in ("config", "data", "runtime"):
            (self.dir / sub).mkdir(exist_ok=True)
        self.env.update(
            JUPYTER_CONFIG_DIR=str(self.dir / "config"),
            JUPYTER_DATA_DIR=str(self.dir / "data"),
            JUPYTER_RUNTIME_DIR=str(self.dir / "runtime"),
            JUPYTER_PLATFORM_DIRS="0",
            PYTHONPATH=os.pathsep.join(filter(None, [str(HERE), self.env.get("PYTHONPATH")])),
        )
        self.env.update(env or {})
        self.process: subprocess.Popen | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    async def start(self, timeout: float = 90) -> None:
        jupyter = str(Path(sys.executable).with_name("jupyter"))
        command = [
            jupyter,
            "server",
            f"--port={self.port}",
            "--ip=127.0.0.1",
            f"--IdentityProvider.token={self.token}",
            f"--config={self.config_path}",
        ]
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, env=self.env, cwd=self.dir
            )
        deadline = time.monotonic() + timeout
        async with aiohttp.ClientSession() as session:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(
                        f"jupyter server {self.name} exited: {self.log_path.read_text()[-2000:]}"
                    )
                try:
                    async with session.get(
                        self.url + "api/status", headers=self.headers
                    ) as response:
                        if response.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.1)
        raise RuntimeError(f"jupyter server {self.name} did not start in {timeout} s")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


class Api:
    """The REST API of our server, through one aiohttp session."""

    def __init__(self, session: aiohttp.ClientSession, server: JupyterServer):
        self.session = session
        self.server = server
        self.base = server.url + "remoteapp/api/"

    async def call(
        self, method: str, path: str, body: Any = None, token: str | None = None
    ) -> tuple[int, Any]:
        headers = {"Authorization": f"token {token or self.server.token}"}
        async with self.session.request(
            method, self.base + path, json=body, headers=headers
        ) as response:
            text = await response.text()
            try:
                return response.status, (json.loads(text) if text else None)
            except ValueError:
                raise RuntimeError(
                    f"{method} {path}: HTTP {response.status}, not JSON: {text[:300]!r}"
                ) from None

    async def ok(self, method: str, path: str, body: Any = None, token: str | None = None) -> Any:
        status, answer = await self.call(method, path, body, token)
        if status >= 300:
            raise RuntimeError(f"{method} {path}: HTTP {status} {answer}")
        return answer


# -- docker --------------------------------------------------------------------------------------


def docker_client(**kwargs: Any):
    client = docker.from_env(**kwargs)
    client.ping()
    return client


def remove_containers(client, realm: str, run_id: str) -> int:
    """Remove every container of this run: those of our realm and the floor ones."""
    removed = 0
    for label in (f"{NAMESPACE}runinfo.realm={realm}", f"{FLOOR_LABEL}={run_id}"):
        for container in client.containers.list(all=True, filters={"label": label}):
            try:
                container.remove(force=True)
                removed += 1
            except Exception:  # noqa: BLE001 - gone already
                pass
    return removed


#: sparse files in the benchmark web app (no disk used): name → bytes
BIG_FILES = {"16m": 16 << 20, "1g": 1 << 30}


def build_bench_images(client) -> list[str]:
    """Two images derived from the demo images (each builds in about a second):

    - ``remoteapp-bench/webapp``: the demo web app plus ``1k`` and ``256k`` files and sparse
      files (``big-<name>``, no disk used) under its prefix;
    - ``remoteapp-bench/ws-echo``: the VNC image's python3 running ``ws_echo.py``.
    """
    import base64

    sparse = " && ".join(
        f'truncate -s {size} /tmp/bench-{name} && ln -sf /tmp/bench-{name} "$d/big-{name}"'
        for name, size in BIG_FILES.items()
    )
    prepare = (
        'd="/www${JPY_BASE_USER_URL%/}/containers/${URL_ID}"; d=$(printf %s "$d" | tr -s /); '
        'mkdir -p "$d" && head -c 1024 /dev/zero > "$d/1k" '
        '&& head -c 262144 /dev/zero > "$d/256k" && '
        # the same files under the per-user prefix of the old hub path (bench_hub.py)
        'o="/www/user/${JPY_USER}/remoteapp/containers/${URL_ID}"; '
        'if [ -n "$JPY_USER" ] && [ ! -e "$o" ]; then mkdir -p "${o%/*}" && ln -s "$d" "$o"; fi'
        " && " + sparse + " && exec /usr/local/bin/remoteapp-webapp-start"
    )
    webapp = f"FROM {WEBAPP}\nCMD {json.dumps(['/bin/sh', '-c', prepare])}\n"
    script = base64.b64encode((HERE / "ws_echo.py").read_bytes()).decode()
    echo = (
        f"FROM {VNCAPP}\n"
        f"RUN echo {script} | base64 -d > /usr/local/bin/remoteapp-bench-ws-echo\n"
        'LABEL eu.simphony-project.docker.ui_name="Benchmark WebSocket echo" '
        'eu.simphony-project.docker.type="webapp"\n'
        'CMD ["python3", "/usr/local/bin/remoteapp-bench-ws-echo"]\n'
    )
    import hashlib

    for tag, dockerfile in ((BENCH_WEBAPP, webapp), (BENCH_WS_ECHO, echo)):
        base = client.images.get(dockerfile.split()[1]).id
        digest = hashlib.sha256(f"{base}\n{dockerfile}".encode()).hexdigest()[:16]
        try:  # built before from the same base image and Dockerfile: reuse it
            if client.images.get(tag).labels.get(IMAGE_DIGEST_LABEL) == digest:
                continue
        except docker.errors.ImageNotFound:
            pass
        dockerfile += f'LABEL {IMAGE_DIGEST_LABEL}="{digest}"\n'
        client.images.build(fileobj=io.BytesIO(dockerfile.encode()), tag=tag, rm=True)
    return [BENCH_WEBAPP, BENCH_WS_ECHO]


def published_port(client, url_id: str) -> int:
    found = client.containers.list(filters={"label": f"{NAMESPACE}runinfo.url_id={url_id}"})
    if not found:
        raise RuntimeError(f"no container with url id {url_id}")
    ports = found[0].attrs["NetworkSettings"]["Ports"]
    for bindings in ports.values():
        for binding in bindings or []:
            return int(binding["HostPort"])
    raise RuntimeError(f"container {url_id} publishes no port")


async def http_status(session: aiohttp.ClientSession, url: str, **kwargs: Any) -> int | None:
    try:
        async with session.get(url, allow_redirects=False, **kwargs) as response:
            await response.read()
            return response.status
    except (aiohttp.ClientError, OSError, asyncio.TimeoutError):
        return None


async def profiled(ctx, pid: int, name: str, awaitable):
    """Await ``awaitable`` while py-spy samples process ``pid`` (with ``--profile DIR``):
    writes ``DIR/<name>.txt`` (collapsed stacks; ``profile_summary.py`` reads them)."""
    if not getattr(ctx.args, "profile", None):
        return await awaitable
    out = Path(ctx.args.profile) / f"{name}.txt"
    out.parent.mkdir(parents=True, exist_ok=True)
    beside = Path(sys.executable).with_name("py-spy")
    spy = await asyncio.create_subprocess_exec(
        str(beside) if beside.exists() else "py-spy", "record", "--pid", str(pid),
        "--rate", "250", "--format", "raw", "--nonblocking", "--output", str(out),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        await asyncio.sleep(0.3)
        return await awaitable
    finally:
        spy.send_signal(signal.SIGINT)
        await spy.wait()


def baseline_source(revision: str, workdir: Path) -> Path:
    """``remoteapp_server/`` as of ``revision`` (any git revision), unpacked under workdir."""
    root = HERE.parent
    target = workdir / "baseline-src"
    target.mkdir()
    try:
        archive = subprocess.run(
            ["git", "-C", str(root), "archive", "--format=tar", revision, "remoteapp_server"],
            check=True,
            capture_output=True,
        ).stdout
    except subprocess.CalledProcessError as exc:
        raise SystemExit(f"--baseline {revision}: {exc.stderr.decode().strip()}") from exc
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return target


def tmpdir() -> Path:
    return Path(tempfile.mkdtemp(prefix="remoteapp-bench-"))


Progress = Callable[[str], None]
