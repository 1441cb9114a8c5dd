"""4. The REST API at scale: an SQLite accounting with (full run) 10,000 users, 1,000
applications and 100,000 grants; latency of ``GET applications`` for one user and of the
paginated admin lists, over HTTP against the real server, and of the accounting calls
behind them in-process (whole lists sliced in Python vs offset/limit in SQL)."""

from __future__ import annotations

import secrets
import time
import uuid
from pathlib import Path
from typing import Any

from common import (
    BENCH_WEBAPP,
    BENCH_WS_ECHO,
    VNCAPP,
    WEBAPP,
    Api,
    Stat,
    Table,
    fmt_ratio,
    loadgen,
    verdict,
)
from sqlalchemy import create_engine, insert, select

from remoteapp_server.core.accounting import Policy
from remoteapp_server.core.accounting.orm import (
    AccountingEntry,
    Application,
    ApplicationPolicy,
    User,
)
from remoteapp_server.core.accounting.sql import SQLAccounting

TARGET_P95_MS = 25.0
PAGE = 100


def scale_user(index: int) -> str:
    return f"user{index:05d}"


def scale_app(index: int) -> str:
    return f"bench/app-{index:04d}:latest"


def populate(ctx, path: Path) -> dict[str, dict[str, Any]]:
    """Make the accounting file with ``SQLAccounting`` (schema, migrations), bulk-insert the
    scale data with SQLAlchemy core in one transaction, then add the grants the other
    benchmarks use through the normal API. Returns the crowd's tokens → user and grants."""
    s = ctx.sizes
    accounting = SQLAccounting(str(path))
    accounting.create_user(ctx.owner)
    for image in (WEBAPP, VNCAPP, BENCH_WEBAPP, BENCH_WS_ECHO):
        accounting.create_application(image)
        ctx.grants[image] = accounting.grant(image, Policy(), user=ctx.owner).mapping_id
    crowd = {}
    for index in range(s.crowd_users):
        name = f"crowd{index:02d}"
        accounting.create_user(name)
        grants = [
            accounting.grant(WEBAPP, Policy(app_license=f"licence-{k}"), user=name).mapping_id
            for k in range(s.crowd_starts)
        ]
        crowd[secrets.token_hex(16)] = {"user": name, "grants": grants}
    accounting.close()

    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as connection:
        connection.exec_driver_sql("PRAGMA foreign_keys = ON")
        policy_id = connection.scalar(
            select(ApplicationPolicy.id).where(ApplicationPolicy.app_license == "")
        )
        connection.execute(
            insert(User.__table__), [{"name": scale_user(i)} for i in range(s.scale_users)]
        )
        connection.execute(
            insert(Application.__table__), [{"image": scale_app(i)} for i in range(s.scale_apps)]
        )
        user_ids = dict(connection.execute(select(User.name, User.id)).all())
        app_ids = dict(connection.execute(select(Application.image, Application.id)).all())
        rows = []
        per_user = min(s.scale_grants_per_user, s.scale_apps)
        for i in range(s.scale_users):
            uid = user_ids[scale_user(i)]
            for k in range(per_user):  # distinct apps per user: 97 is coprime with 1000
                app = scale_app((i * 37 + k * 97) % s.scale_apps)
                rows.append(
                    {
                        "mapping_id": uuid.uuid4().hex,
                        "user_id": uid,
                        "group_id": None,
                        "application_id": app_ids[app],
                        "policy_id": policy_id,
                    }
                )
        # the owner sees some of the scale applications too (ten more entries)
        for k in range(min(10, s.scale_apps)):
            rows.append(
                {
                    "mapping_id": uuid.uuid4().hex,
                    "user_id": user_ids[ctx.owner],
                    "group_id": None,
                    "application_id": app_ids[scale_app(k * 7 % s.scale_apps)],
                    "policy_id": policy_id,
                }
            )
        connection.execute(insert(AccountingEntry.__table__), rows)
    engine.dispose()
    ctx.scale = {
        "users": s.scale_users,
        "applications": s.scale_apps,
        "grants": len(rows),
    }
    return crowd


def _ms(seconds: float) -> float:
    return seconds * 1e3


def _timed(fn, count: int, budget: float) -> Stat:
    """Per-call latencies (ms) of ``fn``: ``count`` calls or ``budget`` seconds, at least 3."""
    fn()  # warm-up
    stat = Stat()
    stop = time.perf_counter() + budget
    for index in range(count):
        t0 = time.perf_counter()
        fn()
        stat.add(_ms(time.perf_counter() - t0))
        if index >= 2 and time.perf_counter() > stop:
            break
    return stat


def _p95(stat: Stat) -> float:
    ordered = sorted(stat.values)
    return ordered[min(len(ordered) - 1, max(0, round(0.95 * len(ordered) + 0.5) - 1))]


async def run(ctx) -> list[Table]:
    s = ctx.sizes
    endpoints = [
        ("GET applications (one user, 14 entries)", "applications"),
        ("GET admin/users?limit=100", f"admin/users?limit={PAGE}"),
        ("GET admin/applications?limit=100", f"admin/applications?limit={PAGE}"),
        ("GET admin/grants?limit=100", f"admin/grants?limit={PAGE}"),
        (
            "GET admin/grants?user=…&limit=100",
            f"admin/grants?user={scale_user(42 % s.scale_users)}&limit={PAGE}",
        ),
        (
            "GET admin/grants?limit=100&offset=…(middle)",
            f"admin/grants?limit={PAGE}&offset={ctx.scale['grants'] // 2}",
        ),
        ("GET admin/stats (not paginated)", "admin/stats"),
    ]
    servers = {"current": ctx.ours}
    if ctx.baseline is not None:
        servers["baseline"] = ctx.baseline
    p50s = {(n, w): Stat() for n, _ in endpoints for w in servers}
    p95s = {(n, w): Stat() for n, _ in endpoints for w in servers}
    counts: dict[tuple[str, str], int] = {}
    for _, path in endpoints:  # both servers give the same answer
        answers = [await Api(ctx.session, server).call("GET", path) for server in servers.values()]
        if answers[0][0] != 200 or any(answer != answers[0] for answer in answers):
            raise RuntimeError(f"GET {path}: {[a[0] for a in answers]} or different answers")
    for repeat in range(s.repeat):
        for name, path in endpoints:
            for which, server in servers.items():
                result = await loadgen(
                    "requests", server.url + "remoteapp/api/" + path,
                    "--header", f"Authorization: token {server.token}",
                    "--count", str(s.api_requests), "--duration", str(s.api_seconds),
                    "--warmup", "2",
                )  # fmt: skip
                if set(result["statuses"]) != {"200"}:
                    raise RuntimeError(f"GET {path}: {result['statuses']}")
                p50s[name, which].add(result["p50_ms"])
                p95s[name, which].add(result["p95_ms"])
                counts[name, which] = result["count"]
        ctx.log(f"  api repeat {repeat + 1}/{s.repeat} done")

    columns = ["endpoint", "p50 ms", "p95 ms", "requests", "target p95 ≤ 25 ms"]
    if "baseline" in servers:
        columns += [f"baseline {ctx.args.baseline}: p50 ms", "p95 ms", "target"]
    table = Table(
        f"4. REST API at scale ({ctx.scale['users']:,} users, {ctx.scale['applications']:,}"
        f" applications, {ctx.scale['grants']:,} grants; SQLite): latency over HTTP",
        columns,
    )
    for name, _ in endpoints:
        cells = []
        for which in servers:
            p95 = p95s[name, which]
            met = p95.median <= TARGET_P95_MS if p95.ok else None
            cells += [p50s[name, which].fmt(1), p95.fmt(1)]
            if which == "current":
                cells.append(counts.get((name, which), 0))
            cells.append(verdict(met))
        table.add(name, *cells)
    table.notes += [
        "Sequential requests on one keep-alive connection (one client, no queueing), the"
        f" server's own token (the owner, admin in personal mode), up to {s.api_requests}"
        f" requests or {s.api_seconds:g} s per endpoint and repeat; `GET applications` also"
        " asks docker for the images and the owner's containers.",
        "The admin lists page in SQL (offset/limit and counts in the database);"
        " 'baseline' is a second server running remoteapp_server as of the git revision"
        " given with --baseline; both servers must answer every endpoint identically.",
    ]
    return [table, accounting_table(ctx)]


def accounting_table(ctx) -> Table:
    """The accounting calls behind the admin lists, in-process: before (everything, then a
    slice) and after (offset/limit and counts in SQL), if this SQLAccounting has them."""
    s = ctx.sizes
    accounting = SQLAccounting(str(ctx.db_path))
    has_paging = hasattr(accounting, "count_grants")
    user = scale_user(42 % s.scale_users)
    middle = ctx.scale["grants"] // 2
    budget = min(s.api_seconds, 10.0)
    count = s.api_requests

    def users_before():
        names = accounting.list_users()
        grants = accounting.list_grants()
        counts: dict[str, int] = {}
        for grant in grants:
            if grant.user is not None:
                counts[grant.user] = counts.get(grant.user, 0) + 1
        return [{"name": n, "grants": counts.get(n, 0)} for n in names][:PAGE], len(names)

    def users_after():
        names = accounting.list_users(offset=0, limit=PAGE)
        counts = accounting.count_grants_by_user(names)
        return [{"name": n, "grants": counts.get(n, 0)} for n in names], accounting.count_users()

    def grants_before(**filters):
        def call():
            grants = accounting.list_grants(**filters)
            return [g.to_dict() for g in grants][:PAGE], len(grants)

        return call

    def grants_after(offset=0, **filters):
        def call():
            page = accounting.list_grants(**filters, offset=offset, limit=PAGE)
            return [g.to_dict() for g in page], accounting.count_grants(**filters)

        return call

    def grants_before_middle():
        grants = accounting.list_grants()
        return [g.to_dict() for g in grants][middle : middle + PAGE], len(grants)

    def apps_before():
        names = accounting.list_applications()
        return names[:PAGE], len(names)

    def apps_after():
        return accounting.list_applications(offset=0, limit=PAGE), accounting.count_applications()

    rows = [
        ("users page (+ grant counts)", users_before, users_after if has_paging else None),
        ("applications page", apps_before, apps_after if has_paging else None),
        ("grants page", grants_before(), grants_after() if has_paging else None),
        (
            "grants page, one user",
            grants_before(user=user),
            grants_after(user=user) if has_paging else None,
        ),
        (
            "grants page at the middle offset",
            grants_before_middle,
            grants_after(offset=middle) if has_paging else None,
        ),
    ]
    table = Table(
        "4b. The accounting calls behind the admin lists (in-process, page of 100 + total)",
        ["listing", "before: p50 / p95 ms", "after (SQL offset/limit): p50 / p95 ms", "speed-up"],
    )
    try:
        for name, before, after in rows:
            if after is not None:  # same answer both ways
                assert before() == after(), name
            b = _timed(before, count, budget)
            a = _timed(after, count, budget) if after is not None else Stat()
            speedup = fmt_ratio(b.median / a.median) if a.ok and a.median > 0 else "—"
            table.add(
                name,
                f"{b.median:.1f} / {_p95(b):.1f}",
                f"{a.median:.2f} / {_p95(a):.2f}" if a.ok else "not available",
                speedup,
            )
    finally:
        accounting.close()
    table.notes.append(
        "Measured in the benchmark process against the same SQLite file, one call after the"
        " other; 'before' is what the admin handlers did up to commit 3e21266 (whole list,"
        " then a slice)."
    )
    return table
