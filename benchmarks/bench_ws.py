"""3. The WebSocket proxy: round trips per second of 1 KiB binary messages and MB/s of
64 KiB frames (8 in flight) echoed by a container, through our proxy, directly and through
jupyter-server-proxy. The echo upstream is ``ws_echo.py`` (standard-library asyncio) in a
container made from remoteapp/demo-vnc, started through the REST API like any app."""

from __future__ import annotations

import math

from bench_http import LABELS, PATHS, header_args, server_of, start_container
from common import BENCH_WS_ECHO, Stat, Table, cpu_seconds, fmt_ratio, loadgen, ratio, verdict


async def run(ctx) -> list[Table]:
    s = ctx.sizes
    url_id, port = await start_container(ctx, BENCH_WS_ECHO)
    tail = f"remoteapp/containers/{url_id}/ws"
    ws_urls = {
        "ours": ctx.ours.url.replace("http://", "ws://") + tail,
        "direct": f"ws://127.0.0.1:{port}/{tail}",
    }
    if ctx.jsp is not None:
        ws_urls["jsp"] = ctx.jsp.url.replace("http://", "ws://") + f"proxy/{port}/{tail}"
    paths = [p for p in PATHS if p in ws_urls]
    rtt = {p: Stat() for p in paths}
    rtt_p50 = {p: Stat() for p in paths}
    stream = {p: Stat() for p in paths}
    cpu_rtt = {p: Stat() for p in paths}
    cpu_mb = {p: Stat() for p in paths}
    for repeat in range(s.repeat):
        rotation = paths[repeat % len(paths) :] + paths[: repeat % len(paths)]
        for path in rotation:
            server = server_of(ctx, path)
            before = cpu_seconds(server.pid) if server is not None else 0.0
            result = await loadgen(
                "ws-rtt", ws_urls[path], "--size", "1024", "--duration", str(s.duration),
                *header_args(ctx, path),
            )  # fmt: skip
            rtt[path].add(result["rtt_per_s"])
            rtt_p50[path].add(result["p50_ms"])
            if server is not None and result["round_trips"]:
                used = cpu_seconds(server.pid) - before
                cpu_rtt[path].add(used / result["round_trips"] * 1e6)
                before = cpu_seconds(server.pid)
            result = await loadgen(
                "ws-stream", ws_urls[path], "--size", str(64 * 1024), "--window", "8",
                "--duration", str(s.duration), *header_args(ctx, path),
            )  # fmt: skip
            stream[path].add(result["mb_per_s"])
            if server is not None and result["bytes"]:
                used = cpu_seconds(server.pid) - before
                cpu_mb[path].add(used / (result["bytes"] / 1e6) * 1e3)
        ctx.log(f"  ws repeat {repeat + 1}/{s.repeat} done")
    await ctx.api.call("DELETE", f"containers/{url_id}")

    table = Table(
        f"3. WebSocket proxy (echo container; {s.duration:g} s per measurement)",
        ["metric", *[LABELS[p] for p in paths], "ours/direct", "ours vs jsp", "targets"],
    )
    for label, cells, higher, digits in (
        ("1 KiB binary: round trips/s", rtt, True, 0),
        ("1 KiB binary: p50 round trip (ms)", rtt_p50, False, 3),
        ("64 KiB frames, 8 in flight: MB/s echoed", stream, True, 0),
    ):
        ours, direct, jsp = (cells.get(p, Stat()) for p in ("ours", "direct", "jsp"))
        vs_direct = ratio(ours, direct) if higher else ratio(direct, ours)
        vs_jsp = ratio(ours, jsp) if higher else ratio(jsp, ours)
        targets = []
        if ctx.jsp is not None:
            targets.append(f"≥1.5× jsp: {verdict(None if math.isnan(vs_jsp) else vs_jsp >= 1.5)}")
        if higher:
            ok = None if math.isnan(vs_direct) else vs_direct >= 0.5
            targets.append(f"≥0.5× direct: {verdict(ok)}")
        table.add(
            label,
            *[cells[p].fmt(digits) for p in paths],
            fmt_ratio(vs_direct),
            fmt_ratio(vs_jsp),
            "; ".join(targets),
        )
    for label, cells in (
        ("server CPU per 1 KiB round trip (µs)", cpu_rtt),
        ("server CPU per MB echoed, 64 KiB frames (ms)", cpu_mb),
    ):
        table.add(
            label,
            *[cells[p].fmt(1) if p != "direct" else "(container)" for p in paths],
            "",
            fmt_ratio(ratio(cells.get("jsp", Stat()), cells["ours"])),
            "",
        )
    table.notes.append(
        "One connection per measurement (aiohttp client in its own process); the echo"
        " server unmasks and echoes each frame; MB/s counts the echoed payload (the same"
        " bytes also went the other way)."
    )
    return [table]
