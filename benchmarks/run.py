#!/usr/bin/env python3
"""Run the remoteapp benchmarks on this machine and write ``benchmarks/results.md``.

    python benchmarks/run.py                 # everything, 5 repeats (about 15 minutes)
    python benchmarks/run.py --quick         # tiny sizes, one repeat (seconds): a smoke run
    python benchmarks/run.py --repeat 3 --only http,ws

Needs a docker engine with the demo images (``images/build``). Starts its own Jupyter
servers (the extension with a temporary SQLite accounting; jupyter-server-proxy in a second
one, when it is installed) and containers, and removes them all at the end. ``wrk``
(Debian package) is used for HTTP request rates when installed. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import secrets
import shutil
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import aiohttp  # noqa: E402
import bench_api  # noqa: E402
import bench_concurrency  # noqa: E402
import bench_http  # noqa: E402
import bench_hub  # noqa: E402
import bench_start  # noqa: E402
import bench_ws  # noqa: E402
from common import (  # noqa: E402
    BENCH_WEBAPP,
    BENCH_WS_ECHO,
    HERE,
    VNCAPP,
    WEBAPP,
    Api,
    JupyterServer,
    Table,
    baseline_source,
    build_bench_images,
    docker_client,
    remove_containers,
    tmpdir,
)

BENCHMARKS = {
    "start": bench_start.run,
    "http": bench_http.run,
    "ws": bench_ws.run,
    "api": bench_api.run,
    "concurrency": bench_concurrency.run,
    "hub": bench_hub.run,
}
#: benchmarks that start their own servers (not the personal-mode ones of ``setup``)
SELF_CONTAINED = {"hub"}
BEGIN, END = "<!-- BEGIN GENERATED: benchmarks/run.py -->", "<!-- END GENERATED -->"


@dataclass
class Sizes:
    """What a run measures; --quick shrinks everything."""

    repeat: int
    duration: float  # seconds per load-generator measurement
    concurrency: int  # HTTP clients in flight
    big: int  # bytes of the streamed download
    big_name: str
    scale_users: int
    scale_apps: int
    scale_grants_per_user: int
    api_requests: int
    api_seconds: float  # at most this long per endpoint
    crowd_users: int
    crowd_starts: int
    crowd_repeat: int
    warmup: bool
    hub_concurrency: int = 8  # HTTP clients of the hub benchmark (busybox backlog: 9)
    hub_sessions: int = 50  # desktop-like WebSocket sessions at once


def sizes(args: argparse.Namespace) -> Sizes:
    if args.quick:
        return Sizes(
            repeat=args.repeat or 1, duration=args.duration or 0.2, concurrency=4,
            big=16 * 1024 * 1024, big_name="16m", scale_users=200, scale_apps=20,
            scale_grants_per_user=10, api_requests=5, api_seconds=0.5, crowd_users=2,
            crowd_starts=2, crowd_repeat=1, warmup=False, hub_concurrency=4, hub_sessions=3,
        )  # fmt: skip
    repeat = args.repeat or 5
    return Sizes(
        repeat=repeat, duration=args.duration or 3.0, concurrency=16,
        big=1 << 30, big_name="1g", scale_users=10_000, scale_apps=1_000,
        scale_grants_per_user=10, api_requests=200, api_seconds=8.0, crowd_users=10,
        crowd_starts=5, crowd_repeat=min(repeat, 3), warmup=True,
    )  # fmt: skip


@dataclass
class Context:
    """Everything the benchmarks share: servers, docker, grants, where to log."""

    args: argparse.Namespace
    sizes: Sizes
    workdir: Path
    run_id: str
    realm: str
    docker: Any
    owner: str = "bench-owner"
    ours: JupyterServer | None = None
    baseline: JupyterServer | None = None  # the same, run from the git revision --baseline
    jsp: JupyterServer | None = None
    session: aiohttp.ClientSession | None = None
    api: Api | None = None
    grants: dict[str, str] = field(default_factory=dict)  # image -> owner's mapping id
    crowd: dict[str, dict[str, Any]] = field(default_factory=dict)  # token -> user, grants
    db_path: Path | None = None
    scale: dict[str, int] = field(default_factory=dict)  # rows of the accounting at scale
    notes: list[str] = field(default_factory=list)

    def log(self, message: str) -> None:
        if not self.args.silent:
            print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def jsp_available() -> bool:
    try:
        import jupyter_server_proxy  # noqa: F401
    except ImportError:
        return False
    return True


async def setup(ctx: Context, personal: bool = True) -> None:
    images = {t for i in ctx.docker.images.list() for t in i.tags}
    missing = [tag for tag in (WEBAPP, VNCAPP) if tag not in images]
    if missing:
        raise SystemExit(
            f"missing demo image(s) {', '.join(missing)}: build them with images/build"
        )
    ctx.log("building the benchmark images")
    await asyncio.to_thread(build_bench_images, ctx.docker)
    if not personal:
        return

    ctx.log("preparing the accounting database")
    ctx.db_path = ctx.workdir / "remoteapp.sqlite"
    started = time.perf_counter()
    ctx.crowd = await asyncio.to_thread(bench_api.populate, ctx, ctx.db_path)
    ctx.log(f"  ... in {time.perf_counter() - started:.1f} s")

    token = secrets.token_hex(16)
    remoteapp_config = [
        f"c.RemoteApp.accounting_url = {str(ctx.db_path)!r}",
        f"c.RemoteApp.realm = {ctx.realm!r}",
        f"c.RemoteApp.personal_user = {ctx.owner!r}",
        "c.RemoteApp.start_timeout = 180",
        "c.RemoteApp.stop_timeout = 1",
    ]
    users = json.dumps({t: c["user"] for t, c in ctx.crowd.items()})
    ctx.ours = JupyterServer(
        ctx.workdir,
        "remoteapp",
        token=token,
        extensions={"remoteapp_server": True, "jupyter_server_proxy": False},
        config_lines=remoteapp_config,
        env={"REMOTEAPP_BENCH_USERS": users},
    )
    servers = [ctx.ours.start()]
    if ctx.args.baseline:
        source = await asyncio.to_thread(baseline_source, ctx.args.baseline, ctx.workdir)
        ctx.baseline = JupyterServer(
            ctx.workdir,
            "remoteapp-baseline",
            token=token,
            extensions={"remoteapp_server": True, "jupyter_server_proxy": False},
            config_lines=remoteapp_config,
            # the revision's package shadows the installed one in this server only
            env={"REMOTEAPP_BENCH_USERS": users, "PYTHONPATH": f"{source}{os.pathsep}{HERE}"},
        )
        servers.append(ctx.baseline.start())
    if jsp_available() and not ctx.args.no_jsp:
        ctx.jsp = JupyterServer(
            ctx.workdir,
            "jupyter-server-proxy",
            token=token,
            extensions={"remoteapp_server": False, "jupyter_server_proxy": True},
        )
        servers.append(ctx.jsp.start())
    else:
        ctx.notes.append(
            "jupyter-server-proxy is not installed (or --no-jsp): its column is empty."
        )
    ctx.log("starting the Jupyter server(s)")
    await asyncio.gather(*servers)
    ctx.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=600))
    ctx.api = Api(ctx.session, ctx.ours)


async def teardown(ctx: Context) -> None:
    if ctx.session is not None:
        await ctx.session.close()
    servers = [server for server in (ctx.ours, ctx.baseline, ctx.jsp) if server is not None]
    await asyncio.gather(*(asyncio.to_thread(server.stop) for server in servers))
    removed = await asyncio.to_thread(remove_containers, ctx.docker, ctx.realm, ctx.run_id)
    if removed:
        ctx.log(f"removed {removed} container(s)")
    if ctx.args.remove_images:
        for tag in (BENCH_WEBAPP, BENCH_WS_ECHO):
            try:
                ctx.docker.images.remove(tag, force=True)
            except Exception:  # noqa: BLE001 - not built
                pass


def header(ctx: Context, started: float, title: str = "Results") -> str:
    load = os.getloadavg()
    lines = [
        f"## {title}",
        "",
        f"Run {time.strftime('%Y-%m-%d %H:%M', time.localtime(started))}"
        f" ({'--quick' if ctx.args.quick else 'full'}, {ctx.sizes.repeat} repeat(s),"
        f" {time.time() - started:.0f} s) on {platform.node() or 'this machine'}:"
        f" {os.cpu_count()} cores, Python {platform.python_version()},"
        f" load average before/after {ctx.args.load_before:.2f}/{load[0]:.2f}.",
        "Cells: median over the repeats (min–max in brackets). HTTP request rates from"
        f" {'wrk' if shutil.which('wrk') else 'the aiohttp load generator (wrk not installed)'}.",
    ]
    for note in ctx.notes:
        lines.append(f"Note: {note}")
    return "\n".join(lines) + "\n"


def markers(block: str) -> tuple[str, str]:
    """The markers of a generated block: the main one, or a self-contained benchmark's."""
    if not block:
        return BEGIN, END
    return f"<!-- BEGIN GENERATED: benchmarks/run.py --only {block} -->", END


def write_results(path: Path, blocks: dict[str, str]) -> None:
    """Replace the generated blocks of ``path`` (``""``: the main one; a self-contained
    benchmark's own, e.g. ``hub``), keeping whatever is written around them; a block not
    there yet is appended."""
    old = path.read_text() if path.exists() else "# remoteapp benchmarks: results\n"
    for name, text in blocks.items():
        begin, end = markers(name)
        block = f"{begin}\n{text}\n{end}"
        if begin in old and end in old.partition(begin)[2]:
            before, _, rest = old.partition(begin)
            _, _, after = rest.partition(end)
            old = before + block + after
        else:
            old = old.rstrip("\n") + "\n\n" + block + "\n"
    path.write_text(old)


async def main_async(args: argparse.Namespace) -> int:
    started = time.time()
    run_id = args.run_id or secrets.token_hex(4)
    ctx = Context(
        args=args,
        sizes=sizes(args),
        workdir=tmpdir(),
        run_id=run_id,
        realm=f"remoteapp-bench-{run_id}",
        docker=docker_client(max_pool_size=64),
    )
    selected = args.only.split(",") if args.only else list(BENCHMARKS)
    unknown = set(selected) - set(BENCHMARKS)
    if unknown:
        raise SystemExit(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
    tables: dict[str, list[Table]] = {}  # block ("" or a self-contained benchmark) -> tables
    failures = 0
    try:
        await setup(ctx, personal=bool(set(selected) - SELF_CONTAINED))
        for name in selected:
            ctx.log(f"benchmark: {name}")
            try:
                found = await BENCHMARKS[name](ctx)
            except Exception as exc:  # noqa: BLE001 - report it, go on with the others
                failures += 1
                ctx.log(f"benchmark {name} failed: {type(exc).__name__}: {exc}")
                table = Table(f"{name}: failed", ["error"])
                table.add(f"{type(exc).__name__}: {exc}".replace("|", "/")[:500])
                found = [table]
                if args.fail_fast:
                    raise
            tables.setdefault(name if name in SELF_CONTAINED else "", []).extend(found)
            await asyncio.to_thread(remove_containers, ctx.docker, ctx.realm, ctx.run_id)
    finally:
        await teardown(ctx)
        shutil.rmtree(ctx.workdir, ignore_errors=True)
        ctx.docker.close()
    blocks = {
        block: header(ctx, started, f"Results: --only {block}" if block else "Results")
        + "\n"
        + "\n".join(t.markdown() for t in found)
        for block, found in tables.items()
    }
    print("\n".join(blocks.values()))
    write_results(Path(args.output), blocks)
    return 1 if failures else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, a few seconds")
    parser.add_argument("--repeat", type=int, default=0, help="repeats (default 5; --quick 1)")
    parser.add_argument("--duration", type=float, default=0, help="seconds per load measurement")
    parser.add_argument("--only", default="", help=f"comma-separated: {','.join(BENCHMARKS)}")
    parser.add_argument("--output", default=str(HERE / "results.md"))
    parser.add_argument("--no-jsp", action="store_true", help="skip jupyter-server-proxy")
    parser.add_argument(
        "--baseline",
        metavar="REV",
        default="",
        help="also measure remoteapp_server as of this git revision (a 'before' column)",
    )
    parser.add_argument(
        "--remove-images", action="store_true", help="remove the derived images at the end"
    )
    parser.add_argument("--fail-fast", action="store_true")
    parser.add_argument("--profile", metavar="DIR", help="py-spy profiles of our server into DIR")
    parser.add_argument("--silent", action="store_true", help="no progress on stderr")
    parser.add_argument("--run-id", default="", help="names this run's realm and labels")
    parser.add_argument("--keep-logs", metavar="PATH", help="hub: copy the Hub's log there")
    parser.add_argument(
        "--hub-old",
        metavar="REV",
        default="",
        help="hub: the revision of the old path's single-user server code (default: "
        "the last one before issue 11)",
    )
    args = parser.parse_args(argv)
    args.load_before = os.getloadavg()[0]

    def stop(signum, frame):  # clean up on SIGTERM as on Ctrl-C
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
