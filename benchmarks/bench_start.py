"""1. Start latency: ``POST containers`` on the REST API until the first 200 through the
proxy, against the floor: docker-py ``containers.run`` of the same image with the same
environment (init, port on 127.0.0.1), then polling its published port every 10 ms until
the app answers 200 at its prefix."""

from __future__ import annotations

import asyncio
import http.client
import json
import secrets
import time
from urllib.parse import urlsplit

from common import FLOOR_LABEL, VNCAPP, WEBAPP, Api, Stat, Table, fmt_ratio, ratio, verdict

TARGET = 1.10
POLL = 0.01


def http_get_status(port: int, path: str) -> int | None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        connection.request("GET", path)
        return connection.getresponse().status
    except (OSError, http.client.HTTPException):
        return None
    finally:
        connection.close()


def floor_start(client, image: str, run_id: str, timeout: float = 120) -> float:
    """Seconds from ``containers.run`` to the first 200 on the published port."""
    url_id = secrets.token_hex(16)
    t0 = time.perf_counter()
    container = client.containers.run(
        image,
        detach=True,
        init=True,
        environment={
            "JPY_BASE_USER_URL": "/remoteapp",
            "URL_ID": url_id,
            "JPY_USER": "bench-owner",
            "USER": "bench-owner",
        },
        ports={"8888/tcp": ("127.0.0.1", None)},
        labels={FLOOR_LABEL: run_id},
    )
    try:
        container.reload()
        port = int(container.ports["8888/tcp"][0]["HostPort"])
        path = f"/remoteapp/containers/{url_id}/"
        while http_get_status(port, path) != 200:
            if time.perf_counter() - t0 > timeout:
                raise RuntimeError(f"{image} did not answer within {timeout} s")
            time.sleep(POLL)
        return time.perf_counter() - t0
    finally:
        container.remove(force=True)


async def ours_start(ctx, mapping_id: str, server=None) -> tuple[float, float]:
    """(seconds to the first 200 through the proxy, of which the POST)."""
    server = server or ctx.ours
    api = Api(ctx.session, server)
    t0 = time.perf_counter()
    status, container = await api.call("POST", "containers", {"mapping_id": mapping_id})
    posted = time.perf_counter() - t0
    if status != 201:
        raise RuntimeError(f"POST containers: HTTP {status} {container}")
    # the path on the server's own origin (the answer's url may be on the apps origin):
    # what the other benchmarks request too, with the server's token
    url = server.url.rstrip("/") + urlsplit(container["url"]).path
    try:
        while True:
            async with ctx.session.get(url, headers=server.headers) as response:
                await response.read()
                if response.status == 200:
                    break
            if time.perf_counter() - t0 > 120:
                raise RuntimeError(f"{url} never answered 200")
            await asyncio.sleep(POLL)
        return time.perf_counter() - t0, posted
    finally:
        await api.call("DELETE", f"containers/{container['url_id']}")


async def stages(ctx, mapping_id: str) -> dict[str, float]:
    """Milliseconds from the POST to each progress event of a start (server-sent events)."""
    seen: dict[str, float] = {}
    url = ctx.api.base + "containers"
    headers = {**ctx.ours.headers, "Accept": "text/event-stream"}
    t0 = time.perf_counter()
    url_id = None
    async with ctx.session.post(url, json={"mapping_id": mapping_id}, headers=headers) as answer:
        event = ""
        async for line in answer.content:
            text = line.decode().strip()
            if text.startswith("event: "):
                event = text[7:]
            elif text.startswith("data: "):
                data = json.loads(text[6:])
                name = data.get("stage", event) if event == "progress" else event
                seen.setdefault(name, (time.perf_counter() - t0) * 1e3)
                url_id = data.get("url_id", url_id)
    seen["response end"] = (time.perf_counter() - t0) * 1e3
    if url_id:
        await ctx.api.call("DELETE", f"containers/{url_id}")
    return seen


async def run(ctx) -> list[Table]:
    s = ctx.sizes
    apps = [("web app (busybox httpd)", WEBAPP), ("VNC app (Xvnc + websockify)", VNCAPP)]
    ours = {image: Stat() for _, image in apps}
    posts = {image: Stat() for _, image in apps}
    floor = {image: Stat() for _, image in apps}
    baseline = {image: Stat() for _, image in apps}
    if s.warmup:  # page cache, docker's image metadata: not part of any measurement
        for _, image in apps:
            await asyncio.to_thread(floor_start, ctx.docker, image, ctx.run_id)
            await ours_start(ctx, ctx.grants[image])
    variants = ["floor", "ours"] + (["baseline"] if ctx.baseline is not None else [])
    for repeat in range(s.repeat):
        for _, image in apps:
            shift = repeat % len(variants)
            for which in variants[shift:] + variants[:shift]:
                if which == "floor":
                    floor[image].add(
                        await asyncio.to_thread(floor_start, ctx.docker, image, ctx.run_id)
                    )
                elif which == "ours":
                    total, posted = await ours_start(ctx, ctx.grants[image])
                    ours[image].add(total)
                    posts[image].add(posted)
                else:
                    total, _ = await ours_start(ctx, ctx.grants[image], ctx.baseline)
                    baseline[image].add(total)
        ctx.log(f"  start repeat {repeat + 1}/{s.repeat} done")
    breakdown: dict[str, dict[str, Stat]] = {}
    for _ in range(max(1, min(s.repeat, 3))):  # where the time of a start goes
        for _, image in apps:
            for stage, ms in (await stages(ctx, ctx.grants[image])).items():
                breakdown.setdefault(image, {}).setdefault(stage, Stat()).add(ms)

    table = Table(
        "1. Start latency: POST containers → first 200 through the proxy, vs docker-py floor",
        [
            "app",
            "remoteapp (ms)",
            "of which POST (ms)",
            "floor: containers.run + poll (ms)",
            "overhead (ms)",
            "ratio",
            "target ≤ 1.10×",
            f"baseline {ctx.args.baseline or '(none)'} (ms, ratio)",
        ],
    )
    for name, image in apps:
        to_ms = Stat([v * 1e3 for v in ours[image].values])
        floor_ms = Stat([v * 1e3 for v in floor[image].values])
        baseline_ms = Stat([v * 1e3 for v in baseline[image].values])
        r = ratio(to_ms, floor_ms)
        table.add(
            name,
            to_ms.fmt(0),
            Stat([v * 1e3 for v in posts[image].values]).fmt(0),
            floor_ms.fmt(0),
            f"{to_ms.median - floor_ms.median:+.0f}",
            fmt_ratio(r),
            verdict(None if r != r else r <= TARGET),
            f"{baseline_ms.fmt(0)}, {fmt_ratio(ratio(baseline_ms, floor_ms))}"
            if baseline_ms.ok
            else "—",
        )
    for name, image in apps:
        steps = ", ".join(f"{stage} {ms.median:.0f}" for stage, ms in breakdown[image].items())
        samples = len(next(iter(breakdown[image].values())).values)
        table.notes.append(
            f"Progress events of the {name} (ms after the POST, median of {samples} starts"
            f" with `Accept: text/event-stream`): {steps}."
        )
    table.notes.append(
        f"{s.repeat} start(s) of each, floor and remoteapp alternating; the floor polls every"
        " 10 ms; remoteapp's readiness poll runs every 25 ms for the first 10 s"
        " (core/containers/readiness.py). 'baseline': a second server running"
        " remoteapp_server as of the git revision given with --baseline, alternating too."
    )
    return [table]
