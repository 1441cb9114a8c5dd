"""5. Concurrency: N users × M concurrent starts each (N·M different grants of the web app)
through the REST API, plus one duplicate start per user that must get a clear 409; total
time until every start answered, against the same N·M starts with bare docker-py (a thread
each, polling each app until 200)."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from bench_start import floor_start
from common import NAMESPACE, WEBAPP, Stat, Table, fmt_ratio, ratio, remove_containers


async def ours_round(ctx) -> tuple[float, Counter, list[str]]:
    starts = []
    for token, member in ctx.crowd.items():
        for mapping_id in member["grants"]:
            starts.append((token, mapping_id, False))
        starts.append((token, member["grants"][0], True))  # a duplicate: must be 409

    async def start(token: str, mapping_id: str, duplicate: bool) -> tuple[int, str, bool]:
        status, body = await ctx.api.call(
            "POST", "containers", {"mapping_id": mapping_id}, token=token
        )
        return status, (body or {}).get("message", ""), duplicate

    t0 = time.perf_counter()
    answers = await asyncio.gather(*(start(*s) for s in starts))
    elapsed = time.perf_counter() - t0
    statuses = Counter(status for status, _, _ in answers)
    unclear = [
        f"HTTP {status}: {message[:120]}"
        for status, message, duplicate in answers
        if not (status == 201 or (status == 409 and message))
    ]
    # every 201 is a running container of its user
    for token, member in ctx.crowd.items():
        listed = await ctx.api.ok("GET", "containers", token=token)
        running = {c["mapping_id"] for c in listed if c["status"] == "running"}
        if running != set(member["grants"]):
            unclear.append(f"{member['user']}: {len(running)} running of {len(member['grants'])}")
    return elapsed, statuses, unclear


def floor_round(ctx, count: int) -> float:
    with ThreadPoolExecutor(count) as pool:
        t0 = time.perf_counter()
        list(pool.map(lambda _: floor_start(ctx.docker, WEBAPP, ctx.run_id), range(count)))
        return time.perf_counter() - t0


async def run(ctx) -> list[Table]:
    s = ctx.sizes
    count = s.crowd_users * s.crowd_starts
    ours, floor = Stat(), Stat()
    statuses: Counter = Counter()
    unclear: list[str] = []
    for repeat in range(s.crowd_repeat):
        elapsed, answered, problems = await ours_round(ctx)
        ours.add(elapsed)
        statuses += answered
        unclear += problems
        await asyncio.to_thread(remove_containers, ctx.docker, ctx.realm, ctx.run_id)
        floor.add(await asyncio.to_thread(floor_round, ctx, count))
        await asyncio.to_thread(remove_containers, ctx.docker, ctx.realm, ctx.run_id)
        ctx.log(f"  concurrency repeat {repeat + 1}/{s.crowd_repeat} done")
    left = ctx.docker.containers.list(
        all=True, filters={"label": f"{NAMESPACE}runinfo.realm={ctx.realm}"}
    )
    table = Table(
        f"5. Concurrency: {s.crowd_users} users × {s.crowd_starts} concurrent starts"
        f" (+1 duplicate each), web app, {s.crowd_repeat} repeat(s)",
        ["", "remoteapp API (s)", "bare docker-py (s)", "ratio", "answers", "unclear answers"],
    )
    table.add(
        f"{count} starts",
        ours.fmt(2),
        floor.fmt(2),
        fmt_ratio(ratio(ours, floor)),
        ", ".join(f"{n}× {status}" for status, n in sorted(statuses.items())),
        len(unclear) if not unclear else "; ".join(sorted(set(unclear))[:3]),
    )
    table.notes.append(
        "Time from the first request until the last answer (201 once the app answers, or 409"
        " for the duplicates); docker-py: one thread per start (containers.run, then polling"
        " the published port every 10 ms until 200); the server uses its default 8 docker"
        f" worker threads. Containers left after clean-up: {len(left)}."
    )
    return [table]
