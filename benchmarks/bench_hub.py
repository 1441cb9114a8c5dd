"""6. Hub mode: container traffic behind a real JupyterHub, side by side in one run.

Starts a JupyterHub (``tests/hub_helpers.Hub``: configurable-http-proxy from npm, the
remoteapp service, LocalProcessSpawner) with one unprivileged system user whose
single-user server runs, and measures the same containers through these paths:

- **floor**: configurable-http-proxy routing straight to the container's published port
  (a route added through CHP's REST API, unauthenticated: what SimPhoNy-remote did);
- **old**: CHP → the user's single-user server → container
  (``/user/<name>/remoteapp/containers/<url_id>/``);
- **new (CHP)**: CHP → the remoteapp service → container
  (``/services/remoteapp/containers/<url_id>/``, the fallback without an apps origin);
- **new (apps)**: the apps origin, i.e. straight to the service's port → container;
- **new (apps) ×2**: the same through a second instance of the service (same accounting,
  realm and prefix, its own port) running ``workers=2``.

A path the code does not serve (yet) is probed, reported as such and left out.
Requests carry ``Authorization: token`` of a token the harness service creates for the
user through the Hub's API (the floor needs none). Floor containers are separate
containers of the same images: their CHP route is the container's own path, which
shadows every other path to that one container.
"""

from __future__ import annotations

import asyncio
import math
import os
import re
import shutil
import sys
import tempfile
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
from common import (
    BENCH_WEBAPP,
    BENCH_WS_ECHO,
    Stat,
    Table,
    baseline_source,
    cpu_seconds,
    fmt_ratio,
    free_port,
    loadgen,
    profiled,
    published_port,
    rss_kib,
    verdict,
)

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

#: the code of the old path: the last revision whose single-user servers proxied containers
#: themselves (before issue 11); its remoteapp_server runs in the user's server
OLD_REVISION = "f5b2644"
#: frames per second and bytes per frame of one desktop-like session
SESSION_RATE, SESSION_SIZE = 30, 16 * 1024
SERVICE = "remoteapp"
SECOND_SERVICE = "remoteapp-w2"  # the same service with workers=2, for side by side

PATHS = ("floor", "old", "new_chp", "new_apps", "new_apps_w2")
LABELS = {
    "floor": "floor: CHP → container",
    "old": "old: CHP → user server ({rev}) → container",
    "new_chp": "new: CHP → service → container",
    "new_apps": "new: apps origin → service → container",
    "new_apps_w2": "new: apps origin → service, workers=2",
}
SHORT = {"floor": "a", "old": "b", "new_chp": "c", "new_apps": "d", "new_apps_w2": "d×2"}
NEW = ("new_chp", "new_apps", "new_apps_w2")


# -- processes of the Hub ------------------------------------------------------------------------


def descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = defaultdict(list)
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                ppid = int(stat.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children[ppid].append(int(entry))
    found, stack = [], [root]
    while stack:
        for child in children[stack.pop()]:
            found.append(child)
            stack.append(child)
    return found


def _read(pid: int, name: str) -> bytes:
    try:
        with open(f"/proc/{pid}/{name}", "rb") as f:
            return f.read()
    except OSError:
        return b""


def service_name(pid: int) -> str:
    for item in _read(pid, "environ").split(b"\0"):
        if item.startswith(b"JUPYTERHUB_SERVICE_NAME="):
            return item.split(b"=", 1)[1].decode()
    return ""


def cpu_of(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            total += cpu_seconds(pid)
        except (OSError, IndexError, ValueError):
            pass  # gone
    return total


class TreeRss:
    """Peak growth of the summed resident memory of some processes while running."""

    def __init__(self, pids: list[int], every: float = 0.02):
        self.pids, self.every = pids, every
        self.before = self._now()
        self.peak = self.before
        self._task: asyncio.Task | None = None

    def _now(self) -> int:
        return sum(rss_kib(pid) or 0 for pid in self.pids)

    async def _run(self) -> None:
        while True:
            self.peak = max(self.peak, self._now())
            await asyncio.sleep(self.every)

    async def __aenter__(self) -> TreeRss:
        self._task = asyncio.ensure_future(self._run())
        return self

    async def __aexit__(self, *exc) -> None:
        assert self._task is not None
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        self.peak = max(self.peak, self._now())

    @property
    def growth_mib(self) -> float:
        return (self.peak - self.before) / 1024


def floor_tag(image: str) -> str:
    """A second tag of a benchmark image, for the floor's containers."""
    return image.rsplit(":", 1)[0] + ":floor"


# -- the deployment ------------------------------------------------------------------------------


@dataclass
class Route:
    """One way to reach a container."""

    key: str
    http: str  # base URL of the web app container (ends with /)
    ws: str  # base URL of the echo container (ws://..., ends with /)
    headers: list[str]  # loadgen --header arguments
    cpu_pids: list[int]  # every process of ours in the path (CHP, Python servers)
    server_pids: list[int]  # the Python server in the path (CHP for the floor)


@dataclass
class Deployment:
    ctx: object
    base: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="remoteapp-hubbench-")))
    hub: object = None
    user: str = ""
    token: str = ""
    routes: dict[str, Route] = field(default_factory=dict)
    missing: dict[str, str] = field(default_factory=dict)  # path -> why it is left out
    containers: list[str] = field(default_factory=list)
    floor_routes: list[str] = field(default_factory=list)
    second_port: int = 0

    def start(self) -> None:
        from hub_helpers import Hub, create_system_user, ensure_chp, user_python

        from remoteapp_server.core.accounting import Policy, open_accounting

        ctx = self.ctx
        if os.geteuid() != 0:
            raise RuntimeError("needs root: creates a system user and spawns its server")
        if not shutil.which("npm") and not ensure_chp().exists():
            raise RuntimeError("needs npm for configurable-http-proxy")
        ensure_chp()
        self.base.chmod(0o711)  # the user's Python lives here; private/: root only
        private = self.base / "private"
        private.mkdir(mode=0o700)
        self.user = f"rb{ctx.run_id}".lower()[:30]
        accounting_file = private / "remoteapp.sqlite"
        accounting = open_accounting(str(accounting_file))
        # one container per grant: the floor's containers are of a second tag (same image)
        images = [BENCH_WEBAPP, BENCH_WS_ECHO]
        for image in list(images):
            floor = floor_tag(image)
            ctx.docker.images.get(image).tag(*floor.split(":"))
            images.append(floor)
        for image in images:
            accounting.create_application(image)
        create_system_user(self.user)
        accounting.create_user(self.user)
        self.grants = {
            image: accounting.grant(image, Policy(), user=self.user).mapping_id for image in images
        }
        accounting.close()
        options = {
            "accounting_url": str(accounting_file),
            "realm": ctx.realm,
            "stop_timeout": 1,
            "start_timeout": 60,
        }
        # the user's server runs the old revision's remoteapp_server (the old path)
        revision = ctx.args.hub_old or OLD_REVISION
        old_source = baseline_source(revision, self.base)
        for path in [old_source, *old_source.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)
        self.second_port = free_port()
        self.second_apps_url = f"http://127.0.0.2:{free_port()}/"
        second = f"""
c.Spawner.environment.update({{"PYTHONPATH": {str(old_source)!r}}})
from remoteapp_server.hub import hub_config as _hub_config

# {SECOND_SERVICE}: the same service, same accounting, realm and prefix, with 2 workers
_second = _hub_config(
    service_url="http://127.0.0.1:{self.second_port}",
    python={sys.executable!r},
    remoteapp_options={options!r},
    apps_url={self.second_apps_url!r},
    workers=2,
)["JupyterHub"]["services"][0]
_second["name"] = {SECOND_SERVICE!r}
_second["command"] += ["--RemoteAppService.service_prefix=/services/{SERVICE}/"]
c.JupyterHub.services.append(_second)
c.JupyterHub.load_roles.append(
    {{
        "name": "bench-second-service",
        "scopes": ["access:services!service={SECOND_SERVICE}"],
        "users": [{self.user!r}],
    }}
)
"""
        self.hub = Hub(
            private,
            admin_users=[],
            realm=ctx.realm,
            accounting_url=str(accounting_file),
            user_python=user_python(self.base),
            log_level="INFO",
            extra_config=second,
            # the apps origin: 127.0.0.2:<port> (Hub's default); activity posted at most
            # once a minute per user, as deployed (the tests' Hub posts every second)
            hub_options={"service_options": {}, "remoteapp_options": options},
        )
        self.hub.start(timeout=90)
        self.hub.start_servers([self.user], timeout=120)
        self.token = self.hub.user_token(
            self.user,
            [
                f"access:servers!user={self.user}",
                f"access:services!service={SERVICE}",
                f"access:services!service={SECOND_SERVICE}",
            ],
        )

    def stop(self) -> None:
        from hub_helpers import remove_system_user

        if self.hub is not None:
            for path in self.floor_routes:
                try:
                    self.hub.proxy_route(path, None)
                except Exception:  # noqa: BLE001 - the proxy is going anyway
                    pass
            self.hub.stop()
            if self.ctx.args.keep_logs:
                shutil.copy(self.hub.log_path, self.ctx.args.keep_logs)
        if self.user:
            remove_system_user(self.user)
        shutil.rmtree(self.base, ignore_errors=True)

    # ---------------------------------------------------------------- processes
    def processes(self) -> dict[str, list[int]]:
        """chp, service, second service (with their workers), user server: pids."""
        found: dict[str, list[int]] = defaultdict(list)
        for pid in descendants(self.hub.process.pid):
            command = _read(pid, "cmdline").replace(b"\0", b" ")
            if b"configurable-http-proxy" in command:
                found["chp"].append(pid)
            elif b"jupyterhub.singleuser" in command or b"jupyterhub-singleuser" in command:
                found["user"].append(pid)
            elif b"remoteapp_server.service" in command or service_name(pid):
                found[service_name(pid) or "?"].append(pid)
        return found

    # ---------------------------------------------------------------- containers
    async def start_container(self, session: aiohttp.ClientSession, image: str) -> dict:
        url = f"{self.hub.url}/services/{SERVICE}/api/containers"
        headers = {"Authorization": f"token {self.token}"}
        async with session.post(
            url, json={"mapping_id": self.grants[image]}, headers=headers
        ) as answer:
            body = await answer.json(content_type=None)
            if answer.status != 201:
                raise RuntimeError(f"POST containers: HTTP {answer.status} {body}")
        self.containers.append(body["url_id"])
        return body

    async def floor_route(self, container: dict) -> str:
        """A CHP route at the container's own path to its published port."""
        path = urlsplit(container["url"]).path.rstrip("/")
        port = published_port(self.ctx.docker, container["url_id"])
        await asyncio.to_thread(self.hub.proxy_route, path, f"http://127.0.0.1:{port}")
        self.floor_routes.append(path)
        return f"{self.hub.url}{path}/"

    async def setup_routes(self, session: aiohttp.ClientSession) -> None:
        web, web_floor, echo, echo_floor = [
            await self.start_container(session, image)
            for image in (BENCH_WEBAPP, floor_tag(BENCH_WEBAPP), BENCH_WS_ECHO,
                          floor_tag(BENCH_WS_ECHO))
        ]  # fmt: skip
        procs = self.processes()
        self.ctx.log(f"  processes: {dict(procs)}")
        chp, user = procs["chp"], procs["user"]
        service, second = procs[SERVICE], procs[SECOND_SERVICE]
        auth = ["--header", f"Authorization: token {self.token}"]
        hub = self.hub.url
        floor_http = await self.floor_route(web_floor)
        floor_ws = await self.floor_route(echo_floor)

        def prefix(container: dict, kind: str, origin: str) -> str:
            return f"{origin}/{kind}/containers/{container['url_id']}/"

        # the apps origin: the origin of the container's URL (absolute on the apps origin)
        apps = urlsplit(web["url"])
        apps_origin = f"{apps.scheme}://{apps.netloc}" if apps.netloc else self.hub.url
        second_origin = self.second_apps_url.rstrip("/")
        user_kind = f"user/{self.user}/remoteapp"
        service_kind = f"services/{SERVICE}"
        candidates = {
            "floor": Route("floor", floor_http, floor_ws, [], chp, chp),
            "old": Route(
                "old", prefix(web, user_kind, hub), prefix(echo, user_kind, hub), auth,
                chp + user, user,
            ),
            "new_chp": Route(
                "new_chp", prefix(web, service_kind, hub), prefix(echo, service_kind, hub),
                auth, chp + service, service,
            ),
            "new_apps": Route(
                "new_apps", prefix(web, service_kind, apps_origin),
                prefix(echo, service_kind, apps_origin), auth, service, service,
            ),
            "new_apps_w2": Route(
                "new_apps_w2", prefix(web, service_kind, second_origin),
                prefix(echo, service_kind, second_origin), auth, second, second,
            ),
        }  # fmt: skip
        for key, route in candidates.items():
            why = await probe(session, route)
            if why:
                self.missing[key] = why
                self.ctx.log(f"  hub path {key} left out: {why}")
            else:
                route.ws = route.ws.replace("http://", "ws://")
                self.routes[key] = route

    async def remove_containers(self, session: aiohttp.ClientSession) -> None:
        headers = {"Authorization": f"token {self.token}"}
        for url_id in self.containers:
            url = f"{self.hub.url}/services/{SERVICE}/api/containers/{url_id}"
            try:
                async with session.delete(url, headers=headers) as answer:
                    await answer.read()
            except aiohttp.ClientError:
                pass


async def probe(session: aiohttp.ClientSession, route: Route) -> str:
    """Empty when the route serves both containers (the 1 KiB file, a WebSocket echo)."""
    headers = dict(h.split(": ", 1) for h in route.headers[1::2])
    try:
        for url, size in ((route.http + "1k", 1024), (route.http + "256k", 256 * 1024)):
            async with session.get(url, headers=headers, allow_redirects=False) as answer:
                body = await answer.read()
                if answer.status != 200 or len(body) != size:
                    where = answer.headers.get("Location", "")
                    return f"GET {urlsplit(url).path}: HTTP {answer.status}" + (
                        f" → {where}" if where else ""
                    )
        async with session.ws_connect(route.ws + "ws", headers=headers) as ws:
            await ws.send_bytes(b"x" * 100)
            echoed = await ws.receive_bytes(timeout=10)
            if echoed != b"x" * 100:
                return "WebSocket: wrong echo"
    except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
        return f"{type(exc).__name__}: {exc}"[:200]
    return ""


# -- measurements --------------------------------------------------------------------------------


class Cells:
    def __init__(self) -> None:
        self.rows: dict[str, dict[str, Stat]] = defaultdict(lambda: defaultdict(Stat))

    def __call__(self, row: str, path: str) -> Stat:
        return self.rows[row][path]


async def measured(ctx, route: Route, name: str, awaitable, profile_pid: int | None = None):
    """Await a load generator; the CPU the path's processes used meanwhile."""
    if profile_pid is not None:
        awaitable = profiled(ctx, profile_pid, name, awaitable)
    before = cpu_of(route.cpu_pids), cpu_of(route.server_pids)
    result = await awaitable
    used = cpu_of(route.cpu_pids) - before[0], cpu_of(route.server_pids) - before[1]
    return result, used


async def run_one(ctx, dep: Deployment, cells: Cells, failures, key: str, first: bool) -> None:
    s = ctx.sizes
    route = dep.routes[key]
    quick = ctx.args.quick
    tool = ["--tool", "aiohttp"] if quick else []
    profiled_paths = ("old", "new_chp", "new_apps")  # one Python process each
    spy = route.server_pids[0] if (first and key in profiled_paths) else None
    concurrency = str(s.hub_concurrency)
    for name in ("1k", "256k"):
        result, (cpu, server_cpu) = await measured(
            ctx, route, f"hub-{key}-{name}",
            loadgen("http", route.http + name, "--concurrency", concurrency,
                    "--duration", str(s.duration), *tool, *route.headers),
            spy,
        )  # fmt: skip
        cells(f"{name} req/s", key).add(result["rps"])
        cells(f"{name} p50", key).add(result["p50_ms"])
        cells(f"{name} p99", key).add(result["p99_ms"])
        if result["requests"]:
            cells(f"{name} cpu", key).add(cpu / result["requests"] * 1e6)
            cells(f"{name} server cpu", key).add(server_cpu / result["requests"] * 1e6)
        bad = result["errors"] + result["status_errors"]
        if bad:
            failures[key].append(f"{name}: {bad} failed of {result['requests'] + result['errors']}")
    async with TreeRss(route.server_pids) as rss:
        result, (cpu, _) = await measured(
            ctx, route, f"hub-{key}-download",
            loadgen("download", route.http + f"big-{s.big_name}", *route.headers,
                    "--duration", "300"),
            spy,
        )  # fmt: skip
    if result["complete"] and result["status"] == 200:
        cells("download MB/s", key).add(result["mb_per_s"])
        cells("download rss", key).add(rss.growth_mib)
        cells("download cpu", key).add(cpu / (result["bytes"] / 1e6) * 1e3)
    else:
        failures[key].append(
            f"download: HTTP {result['status']} after {result['bytes'] / 1e6:,.0f} MB"
            + (f" ({result['error']})" if result["error"] else "")
        )
    result, (cpu, server_cpu) = await measured(
        ctx, route, f"hub-{key}-ws-rtt",
        loadgen("ws-rtt", route.ws + "ws", "--size", "1024", "--duration", str(s.duration),
                *route.headers),
        spy,
    )  # fmt: skip
    cells("ws rtt/s", key).add(result["rtt_per_s"])
    cells("ws p50", key).add(result["p50_ms"])
    cells("ws p99", key).add(result["p99_ms"])
    if result["round_trips"]:
        cells("ws rtt cpu", key).add(cpu / result["round_trips"] * 1e6)
        cells("ws rtt server cpu", key).add(server_cpu / result["round_trips"] * 1e6)
    result, (cpu, _) = await measured(
        ctx, route, f"hub-{key}-ws-64k",
        loadgen("ws-stream", route.ws + "ws", "--size", str(64 * 1024), "--window", "8",
                "--duration", str(s.duration), *route.headers),
        spy,
    )  # fmt: skip
    cells("ws 64k MB/s", key).add(result["mb_per_s"])
    if result["bytes"]:
        cells("ws 64k cpu", key).add(cpu / (result["bytes"] / 1e6) * 1e3)
    seconds = max(s.duration, 1.0) * (2 if not quick else 1)
    result, (cpu, server_cpu) = await measured(
        ctx, route, f"hub-{key}-sessions",
        loadgen("ws-sessions", route.ws + "desktop", "--concurrency", str(s.hub_sessions),
                "--size", str(SESSION_SIZE), "--rate", str(SESSION_RATE),
                "--duration", str(seconds), *route.headers),
        spy,
    )  # fmt: skip
    window = seconds + 1.0  # the load generator's warm-up second is in the CPU window too
    cells("sessions MB/s", key).add(result["mb_per_s"])
    cells("sessions p50", key).add(result["p50_ms"])
    cells("sessions p99", key).add(result["p99_ms"])
    cells("sessions cpu", key).add(cpu / window * 100)
    cells("sessions server cpu", key).add(server_cpu / window * 100)
    if result["lost"]:
        failures[key].append(f"sessions: {result['lost']} frames missing")


async def run(ctx) -> list[Table]:
    s = ctx.sizes
    dep = Deployment(ctx)
    ctx.log("  starting JupyterHub, CHP, the service(s) and a single-user server")
    session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=600))
    try:
        await asyncio.to_thread(dep.start)
        await dep.setup_routes(session)
        paths = [p for p in PATHS if p in dep.routes]
        if "floor" not in paths:
            raise RuntimeError(f"the floor path does not work: {dep.missing.get('floor')}")
        cells = Cells()
        failures: dict[str, list[str]] = {p: [] for p in paths}
        for repeat in range(s.repeat):
            rotation = paths[repeat % len(paths) :] + paths[: repeat % len(paths)]
            for key in rotation:
                await run_one(ctx, dep, cells, failures, key, first=repeat == 0)
            ctx.log(f"  hub repeat {repeat + 1}/{s.repeat} done")
        await dep.remove_containers(session)
        return [hub_table(ctx, dep, cells, failures, paths)]
    finally:
        await session.close()
        await asyncio.to_thread(dep.stop)


# -- the table -----------------------------------------------------------------------------------

#: (label, cell key, higher is better, digits, floor target: None/"small"/"other")
ROWS = (
    ("1 KiB GET: requests/s", "1k req/s", True, 0, "small"),
    ("1 KiB GET: p50 (ms)", "1k p50", False, 2, "small"),
    ("1 KiB GET: p99 (ms)", "1k p99", False, 2, "small"),
    ("256 KiB GET: requests/s", "256k req/s", True, 0, "other"),
    ("256 KiB GET: p50 (ms)", "256k p50", False, 2, "other"),
    ("256 KiB GET: p99 (ms)", "256k p99", False, 2, "other"),
    ("{big} download: MB/s", "download MB/s", True, 0, "other"),
    ("WebSocket 1 KiB: round trips/s", "ws rtt/s", True, 0, "small"),
    ("WebSocket 1 KiB: p50 round trip (ms)", "ws p50", False, 3, "small"),
    ("WebSocket 64 KiB frames, 8 in flight: MB/s", "ws 64k MB/s", True, 0, "other"),
    ("{n} sessions: aggregate MB/s", "sessions MB/s", True, 1, "other"),
    ("{n} sessions: p50 frame delay (ms)", "sessions p50", False, 2, None),
    ("{n} sessions: p99 frame delay (ms)", "sessions p99", False, 2, "p99"),
)
CPU_ROWS = (
    ("CPU per 1 KiB GET (µs)", "1k cpu", 0),
    ("… of it the Python server (µs)", "1k server cpu", 0),
    ("CPU per 256 KiB GET (µs)", "256k cpu", 0),
    ("… of it the Python server (µs)", "256k server cpu", 0),
    ("CPU per MB downloaded (ms)", "download cpu", 1),
    ("CPU per WebSocket 1 KiB round trip (µs)", "ws rtt cpu", 0),
    ("… of it the Python server (µs)", "ws rtt server cpu", 0),
    ("CPU per MB of 64 KiB frames (ms)", "ws 64k cpu", 1),
    ("{n} sessions: CPU of the path (% of a core)", "sessions cpu", 0),
    ("{n} sessions: CPU of the Python server (% of a core)", "sessions server cpu", 0),
    ("{big} download: RSS growth of the server (MiB)", "download rss", 1),
)
DELAY_LIMIT_MS = 50.0


def event_loops(dep: Deployment) -> str:
    """Which event loop each service process ran, from their start lines in the log."""
    names = {str(getattr(dep.hub, "service_port", "")): SERVICE}
    names[str(dep.second_port)] = SECOND_SERVICE
    found: dict[str, list[str]] = defaultdict(list)
    pattern = r"service worker \d+ at http://[^:]+:(\d+).*?(\w+) loop\)"
    for match in re.finditer(pattern, dep.hub.log_tail(100_000) if dep.hub else ""):
        found[names.get(match[1], match[1])].append(match[2])
    return "; ".join(
        f"{name}: {len(kinds)} process(es), {'/'.join(sorted(set(kinds)))}"
        for name, kinds in found.items()
    )


def path_label(ctx, key: str) -> str:
    return LABELS[key].format(rev=ctx.args.hub_old or OLD_REVISION)


def speed(cells: Cells, key: str, a: str, b: str, higher: bool) -> float:
    """How much better path a is than b on one row (> 1: a is better)."""
    x, y = cells.rows.get(key, {}).get(a, Stat()), cells.rows.get(key, {}).get(b, Stat())
    if not (x.ok and y.ok) or 0 in (x.median, y.median):
        return float("nan")
    return x.median / y.median if higher else y.median / x.median


def hub_table(ctx, dep: Deployment, cells: Cells, failures, paths) -> Table:
    s = ctx.sizes
    big = f"{s.big / (1 << 30):g} GiB" if s.big >= 1 << 30 else f"{s.big / (1 << 20):g} MiB"
    new = [p for p in NEW if p in paths]
    compared = (["old"] if "old" in paths else []) + new  # with the floor
    ratio_columns = [f"{SHORT[p]}/a" for p in compared]
    if "old" in paths:
        ratio_columns += [f"{SHORT[p]}/b" for p in new]
    if {"new_apps", "new_apps_w2"} <= set(paths):
        ratio_columns.append("d×2/d")
    table = Table(
        f"6. Hub mode: CHP, the user's server and the service side by side"
        f" ({s.hub_concurrency} concurrent HTTP clients; {s.duration:g} s per measurement;"
        f" {s.hub_sessions} sessions of {SESSION_RATE} × {SESSION_SIZE // 1024} KiB frames/s)",
        ["metric", *[f"({SHORT[p]}) {path_label(ctx, p)}" for p in paths], *ratio_columns]
        + ["targets"],
    )
    for label, key, higher, digits, target in ROWS:
        label = label.format(big=big, n=s.hub_sessions)
        by_path = cells.rows.get(key, {})
        ratios, checks = [], []
        for p in compared:
            value = speed(cells, key, p, "floor", higher)
            ratios.append(fmt_ratio(value))
            if target in ("small", "other") and p in ("new_chp", "new_apps"):
                need = 0.7 if target == "small" else 0.9
                ok = None if math.isnan(value) else value >= need
                checks.append(f"{SHORT[p]} ≥{need}×a: {verdict(ok)}")
        if "old" in paths:
            for p in new:
                value = speed(cells, key, p, "old", higher)
                ratios.append(fmt_ratio(value))
                if p != "new_apps_w2" and target is not None:
                    # the sessions' MB/s is the offered load when nothing falls behind
                    need = 0.99 if key == "sessions MB/s" else 1.0
                    ok = None if math.isnan(value) else value >= need
                    checks.append(f"{SHORT[p]} ≥ b: {verdict(ok)}")
        if "d×2/d" in ratio_columns:
            ratios.append(fmt_ratio(speed(cells, key, "new_apps_w2", "new_apps", higher)))
        if target == "p99":
            for p in new:
                stat = by_path.get(p, Stat())
                ok = None if not stat.ok else stat.median < DELAY_LIMIT_MS
                checks.append(f"{SHORT[p]} < {DELAY_LIMIT_MS:g} ms: {verdict(ok)}")
        table.add(
            label,
            *[by_path.get(p, Stat()).fmt(digits) for p in paths],
            *ratios,
            "; ".join(checks),
        )
    for label, key, digits in CPU_ROWS:
        label = label.format(big=big, n=s.hub_sessions)
        by_path = cells.rows.get(key, {})
        extra = [""] * (len(ratio_columns) - (1 if "d×2/d" in ratio_columns else 0))
        check = ""
        if "d×2/d" in ratio_columns:
            d, d2 = by_path.get("new_apps", Stat()), by_path.get("new_apps_w2", Stat())
            grow = d2.median / d.median if d.ok and d2.ok and d.median else float("nan")
            extra.append(fmt_ratio(grow))
            if "rss" not in key and "sessions" not in key:
                ok = None if math.isnan(grow) else grow <= 1.1
                check = f"d×2 CPU ≤ 1.1× d: {verdict(ok)}"
        table.add(label, *[by_path.get(p, Stat()).fmt(digits) for p in paths], *extra, check)
    loops = event_loops(dep)
    if loops:
        table.notes.append(f"Event loops of the service processes (from their log): {loops}.")
    for key, why in dep.missing.items():
        table.notes.append(f"({SHORT[key]}) {path_label(ctx, key)}: not measured, {why}.")
    for key in paths:
        if failures[key]:
            shown = sorted(set(failures[key]))[:4]
            table.notes.append(f"({SHORT[key]}) failures: {'; '.join(shown)}.")
    table.notes += [
        "Ratios x/a, x/b: how path x compares with the floor (a) or the old path (b), rate"
        " over rate or the inverse of latency over latency (> 1: x is better). Targets from"
        " issue 11: ≥ 0.7× the floor on the small-request rows (1 KiB GET, WebSocket 1 KiB),"
        " ≥ 0.9× on every other row, the new paths ≥ the old path on every row (the"
        " sessions' MB/s, capped by the offered load: ≥ 0.99×), p99 frame"
        f" delay of the sessions < {DELAY_LIMIT_MS:g} ms; workers=2 is shown beside one"
        " worker, its CPU per request must not grow (≤ 1.1× for noise).",
        "CPU rows: CPU time of the processes in the path, from /proc (the floor: CHP;"
        " the old path: CHP + the user's server; the new path through CHP: CHP + the service;"
        " the apps origin: the service, all its worker processes); the container,"
        " docker-proxy and the load generator are not counted. RSS: the Python server of"
        " the path (CHP for the floor), peak growth during the download.",
        f"HTTP rows: the demo web app (busybox httpd, closes every connection; listen"
        f" backlog 9, hence {s.hub_concurrency} clients), WebSocket rows: ws_echo.py; each"
        " path has the same two containers, the floor two of its own. Sessions: one"
        " WebSocket each to the echo container in stream mode (frames stamped with their"
        " scheduled send time; delay = arrival − schedule, one clock), all from one"
        " load-generator process, first second not counted.",
    ]
    return table
