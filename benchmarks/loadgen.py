#!/usr/bin/env python3
"""The load generators of the benchmarks, run as separate processes by ``run.py``.

Each subcommand prints one JSON object on stdout. Separate processes keep the client's
CPU off the driver (and off the server it measures); ``wrk`` (Debian package ``wrk``) is
used for HTTP request rates when it is installed, this module's aiohttp client otherwise.

    loadgen.py http URL --concurrency N --duration S [--header 'Name: value']...
    loadgen.py requests URL --count N [--header ...]        # sequential, latency percentiles
    loadgen.py download URL [--header ...]                  # one streamed GET, bytes and MB/s
    loadgen.py ws-rtt URL --size B --duration S [--header ...]
    loadgen.py ws-stream URL --size B --duration S --window W [--header ...]
    loadgen.py ws-sessions URL --concurrency N --size B --rate R --duration S [--header ...]
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from urllib.parse import urlsplit


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list (q in [0, 100])."""
    if not sorted_values:
        return float("nan")
    rank = max(1, min(len(sorted_values), round(q / 100 * len(sorted_values) + 0.5)))
    return sorted_values[rank - 1]


def parse_headers(values: list[str]) -> dict[str, str]:
    headers = {}
    for value in values or []:
        name, _, content = value.partition(":")
        headers[name.strip()] = content.strip()
    return headers


def latency_summary(latencies: list[float]) -> dict[str, float]:
    ordered = sorted(latencies)
    return {
        "p50_ms": percentile(ordered, 50) * 1e3,
        "p95_ms": percentile(ordered, 95) * 1e3,
        "p99_ms": percentile(ordered, 99) * 1e3,
        "mean_ms": (statistics.fmean(ordered) * 1e3) if ordered else float("nan"),
    }


# -- HTTP request rate ---------------------------------------------------------------------------

_WRK_SCRIPT = r"""
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_s": %.6f, "bytes": %d, "errors": %d, "status_errors": %d, ' ..
    '"p50_ms": %.4f, "p95_ms": %.4f, "p99_ms": %.4f, "mean_ms": %.4f}\n',
    summary.requests, summary.duration / 1e6, summary.bytes,
    e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50) / 1e3, latency:percentile(95) / 1e3, latency:percentile(99) / 1e3,
    latency.mean / 1e3))
end
"""


def http_wrk(url: str, concurrency: int, duration: float, headers: dict[str, str]) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(_WRK_SCRIPT)
    try:
        command = [
            "wrk",
            "-t1",
            f"-c{concurrency}",
            f"-d{max(1, round(duration))}s",
            "--timeout",
            "10s",
        ]
        command += ["-s", script.name]
        for name, value in headers.items():
            command += ["-H", f"{name}: {value}"]
        out = subprocess.run(command + [url], capture_output=True, text=True, timeout=duration + 60)
    finally:
        os.unlink(script.name)
    line = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
    if out.returncode != 0 or not line:
        raise SystemExit(f"wrk failed ({out.returncode}): {out.stderr.strip()} {out.stdout[-500:]}")
    result = json.loads(line[-1])
    ok = result["requests"] - result["status_errors"]
    result.update(tool="wrk", rps=ok / result["duration_s"], ok=ok)
    return result


async def http_aiohttp(
    url: str, concurrency: int, duration: float, headers: dict[str, str]
) -> dict:
    import aiohttp

    latencies: list[float] = []
    counts = {"ok": 0, "status_errors": 0, "errors": 0, "bytes": 0}
    connector = aiohttp.TCPConnector(limit=concurrency, force_close=False)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(
        connector=connector, timeout=timeout, auto_decompress=False
    ) as session:
        start = time.perf_counter()
        stop = start + duration

        async def worker() -> None:
            while time.perf_counter() < stop:
                t0 = time.perf_counter()
                try:
                    async with session.get(url, headers=headers, allow_redirects=False) as response:
                        body = await response.read()
                        counts["bytes"] += len(body)
                        if 200 <= response.status < 300:
                            counts["ok"] += 1
                        else:
                            counts["status_errors"] += 1
                except (aiohttp.ClientError, OSError, asyncio.TimeoutError):
                    counts["errors"] += 1
                    continue
                latencies.append(time.perf_counter() - t0)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - start
    return {
        "tool": "aiohttp",
        "requests": counts["ok"] + counts["status_errors"],
        "ok": counts["ok"],
        "status_errors": counts["status_errors"],
        "errors": counts["errors"],
        "bytes": counts["bytes"],
        "duration_s": elapsed,
        "rps": counts["ok"] / elapsed,
        **latency_summary(latencies),
    }


def sequential_requests(
    url: str, count: int, headers: dict[str, str], warmup: int, budget: float
) -> dict:
    """``count`` GETs one after the other on one keep-alive connection (re-opened when the
    server closes it): the latency of single requests, not of a queue. Stops early after
    ``budget`` seconds (with at least 5 measured requests)."""
    parts = urlsplit(url)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    latencies, statuses = [], {}
    stop = None
    for index in range(warmup + count):
        if index == warmup:
            stop = time.perf_counter() + budget
        elif stop is not None and len(latencies) >= 5 and time.perf_counter() > stop:
            break
        t0 = time.perf_counter()
        try:
            connection.request("GET", target, headers=headers)
            response = connection.getresponse()
            response.read()
        except (OSError, http.client.HTTPException):
            connection.close()
            connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
            connection.request("GET", target, headers=headers)
            response = connection.getresponse()
            response.read()
        elapsed = time.perf_counter() - t0
        if response.will_close:
            connection.close()
        if index >= warmup:
            latencies.append(elapsed)
            statuses[response.status] = statuses.get(response.status, 0) + 1
    connection.close()
    return {"count": len(latencies), "statuses": statuses, **latency_summary(latencies)}


# -- one big download ----------------------------------------------------------------------------


def download(url: str, headers: dict[str, str], limit_seconds: float) -> dict:
    """Stream one GET into a reused buffer (C-level reads); bytes, seconds, MB/s."""
    parts = urlsplit(url)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)
    buffer = memoryview(bytearray(1 << 20))
    t0 = time.perf_counter()
    received, error = 0, ""
    try:
        connection.request("GET", target, headers=headers)
        response = connection.getresponse()
        status = response.status
        expected = response.getheader("Content-Length")
        while n := response.readinto(buffer):
            received += n
            if time.perf_counter() - t0 > limit_seconds:
                error = f"stopped after {limit_seconds:g} s"
                break
    except (OSError, http.client.HTTPException) as exc:
        status = locals().get("status", 0)
        expected = locals().get("expected")
        error = f"{type(exc).__name__}: {exc}"
    elapsed = time.perf_counter() - t0
    connection.close()
    complete = expected is not None and received == int(expected) and not error
    return {
        "status": status,
        "bytes": received,
        "expected": int(expected) if expected else None,
        "complete": complete,
        "seconds": elapsed,
        "mb_per_s": received / elapsed / 1e6 if elapsed > 0 else 0.0,
        "error": error,
    }


# -- WebSocket -----------------------------------------------------------------------------------


async def ws_rtt(url: str, size: int, duration: float, headers: dict[str, str]) -> dict:
    """One binary message, wait for its echo, repeat: round trips per second."""
    import aiohttp

    payload = os.urandom(size)
    latencies: list[float] = []
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(url, headers=headers, max_msg_size=0) as ws,
    ):
        for _ in range(20):  # warm-up
            await ws.send_bytes(payload)
            await ws.receive_bytes(timeout=30)
        start = time.perf_counter()
        stop = start + duration
        while (t0 := time.perf_counter()) < stop:
            await ws.send_bytes(payload)
            echoed = await ws.receive_bytes(timeout=30)
            latencies.append(time.perf_counter() - t0)
            if len(echoed) != size:
                raise SystemExit(f"echo of {len(echoed)} bytes, sent {size}")
        elapsed = time.perf_counter() - start
    return {
        "round_trips": len(latencies),
        "rtt_per_s": len(latencies) / elapsed,
        **latency_summary(latencies),
    }


async def ws_stream(
    url: str, size: int, duration: float, window: int, headers: dict[str, str]
) -> dict:
    """Keep ``window`` frames of ``size`` bytes in flight; MB/s of echoed payload."""
    import aiohttp

    payload = os.urandom(size)
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(url, headers=headers, max_msg_size=0) as ws,
    ):
        credit = asyncio.Semaphore(window)
        received = 0
        sending = True

        async def sender() -> int:
            sent = 0
            while sending:
                await credit.acquire()
                await ws.send_bytes(payload)
                sent += 1
            return sent

        task = asyncio.ensure_future(sender())
        start = time.perf_counter()
        stop = start + duration
        while time.perf_counter() < stop:
            message = await ws.receive_bytes(timeout=30)
            received += len(message)
            credit.release()
        sending = False
        elapsed = time.perf_counter() - start
        task.cancel()
    return {"bytes": received, "seconds": elapsed, "mb_per_s": received / elapsed / 1e6}


async def ws_sessions(
    url: str, sessions: int, size: int, rate: float, duration: float, headers: dict[str, str]
) -> dict:
    """``sessions`` WebSockets at once, each receiving ``ws_echo.py``'s steady stream
    (``rate`` frames of ``size`` bytes per second, stamped with their scheduled send time):
    aggregate MB/s and the delay of every frame (arrival − schedule; same host, one clock).
    The first second is a warm-up (connections, first frames), not counted."""
    import aiohttp

    separator = "&" if "?" in url else "?"
    stream_url = f"{url}{separator}stream={size}x{rate:g}"
    delays: list[float] = []
    counted = {"bytes": 0, "frames": 0, "lost": 0}
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        sockets = await asyncio.gather(
            *(
                session.ws_connect(stream_url, headers=headers, max_msg_size=0)
                for _ in range(sessions)
            )
        )
        start = time.time() + 1.0
        stop = start + duration

        async def receive(ws) -> None:
            expected = None
            while True:
                message = await ws.receive(timeout=30)
                now = time.time()
                if message.type != aiohttp.WSMsgType.BINARY or now >= stop:
                    return
                stamp, number = struct.unpack_from("!dQ", message.data)
                if expected is not None and number != expected:
                    counted["lost"] += abs(number - expected)
                expected = number + 1
                if now >= start:
                    delays.append(now - stamp)
                    counted["bytes"] += len(message.data)
                    counted["frames"] += 1

        await asyncio.gather(*(receive(ws) for ws in sockets))
        await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
    offered = sessions * size * rate
    return {
        "sessions": sessions,
        "frames": counted["frames"],
        "lost": counted["lost"],
        "mb_per_s": counted["bytes"] / duration / 1e6,
        "offered_mb_per_s": offered / 1e6,
        "max_ms": max(delays) * 1e3 if delays else float("nan"),
        **latency_summary(delays),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("http", "requests", "download", "ws-rtt", "ws-stream", "ws-sessions"):
        command = sub.add_parser(name)
        command.add_argument("url")
        command.add_argument("--header", action="append", default=[])
        command.add_argument("--concurrency", type=int, default=1)
        command.add_argument("--duration", type=float, default=2.0)
        command.add_argument("--count", type=int, default=100)
        command.add_argument("--warmup", type=int, default=5)
        command.add_argument("--size", type=int, default=1024)
        command.add_argument("--window", type=int, default=8)
        command.add_argument("--rate", type=float, default=30.0)
        command.add_argument("--tool", choices=("auto", "wrk", "aiohttp"), default="auto")
    args = parser.parse_args(argv)
    headers = parse_headers(args.header)
    if args.command == "http":
        use_wrk = args.tool == "wrk" or (args.tool == "auto" and shutil.which("wrk"))
        if use_wrk:
            result = http_wrk(args.url, args.concurrency, args.duration, headers)
        else:
            result = asyncio.run(http_aiohttp(args.url, args.concurrency, args.duration, headers))
    elif args.command == "requests":
        result = sequential_requests(args.url, args.count, headers, args.warmup, args.duration)
    elif args.command == "download":
        result = download(args.url, headers, limit_seconds=max(args.duration, 1.0))
    elif args.command == "ws-rtt":
        result = asyncio.run(ws_rtt(args.url, args.size, args.duration, headers))
    elif args.command == "ws-sessions":
        result = asyncio.run(
            ws_sessions(args.url, args.concurrency, args.size, args.rate, args.duration, headers)
        )
    else:
        result = asyncio.run(ws_stream(args.url, args.size, args.duration, args.window, headers))
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
