"""Proposed fixes, patched into the benchmark's *preview* server process only (never into
the package), so that the benchmarks can show their effect before they are made for real.

A Jupyter server extension of its own (``c.ServerApp.jpserver_extensions = {"preview": True}``,
with ``benchmarks/`` on the path); patches only what ``$REMOTEAPP_BENCH_PREVIEW``
(comma-separated) names:

- ``readiness``: the start's readiness poll backs off to at most ``READINESS_CAP`` seconds
  between attempts instead of 250 ms (``core/containers/readiness.py``);
- ``pagination``: the admin list handlers page in SQL (``SQLAccounting``'s ``offset``/
  ``limit``/``count_*``) instead of loading whole lists and slicing them
  (``handlers/api.py`` + ``core/remoteapps.py``); ``admin/stats`` counts in SQL.
"""

from __future__ import annotations

import asyncio
import os
import time
from urllib.parse import urlsplit

READINESS_CAP = 0.025


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "preview"}]


def _load_jupyter_server_extension(serverapp) -> None:
    serverapp.log.info("remoteapp benchmark preview: patched %s", ", ".join(apply()) or "nothing")


def apply() -> list[str]:
    wanted = {w.strip() for w in os.environ.get("REMOTEAPP_BENCH_PREVIEW", "").split(",")}
    applied = []
    if "readiness" in wanted:
        _patch_readiness()
        applied.append("readiness")
    if "pagination" in wanted:
        _patch_pagination()
        applied.append("pagination")
    return applied


def _patch_readiness() -> None:
    from remoteapp_server.core.containers import manager, readiness

    async def wait_until_ready(url, *, timeout, still_running, check_every=1.0):
        """readiness.wait_until_ready with the poll interval capped at READINESS_CAP."""
        deadline = time.monotonic() + timeout
        next_check = time.monotonic() + check_every
        delay = 0.02
        last_status = None
        while True:
            status = await readiness.http_status(url)
            if status is not None and 200 <= status < 300:
                return
            last_status = status if status is not None else last_status
            now = time.monotonic()
            if now >= next_check:
                next_check = now + check_every
                why = await still_running()
                if why:
                    raise readiness.StartFailed(why)
            if now >= deadline:
                answer = f"the last answer was HTTP {last_status}" if last_status else "no answer"
                raise readiness.StartFailed(
                    f"the application did not answer at {urlsplit(url).path} within "
                    f"{timeout:g} s ({answer})"
                )
            await asyncio.sleep(delay)
            delay = min(delay * 1.5, READINESS_CAP)

    manager.wait_until_ready = wait_until_ready


def _patch_pagination() -> None:
    from tornado import web

    from remoteapp_server.core.errors import BadRequest
    from remoteapp_server.core.images import image_from_labels
    from remoteapp_server.core.remoteapps import Page
    from remoteapp_server.handlers import api

    def page_arguments(handler) -> tuple[int, int | None]:
        offset, limit = handler.int_argument("offset", 0), handler.int_argument("limit", None)
        if offset < 0 or (limit is not None and limit < 1):
            raise BadRequest("offset must be ≥ 0 and limit ≥ 1")
        return offset, limit

    async def db(fn, *args, **kwargs):
        return await asyncio.to_thread(fn, *args, **kwargs)

    @web.authenticated
    async def users(self):
        offset, limit = page_arguments(self)
        accounting = self.remoteapps.accounting
        names = await db(accounting.list_users, offset=offset, limit=limit)
        counts, total = await asyncio.gather(
            db(accounting.count_grants_by_user, names), db(accounting.count_users)
        )
        items = [{"name": name, "grants": counts.get(name, 0)} for name in names]
        self.write_json(Page(items, total, offset, limit).to_dict())

    @web.authenticated
    async def applications(self):
        offset, limit = page_arguments(self)
        accounting = self.remoteapps.accounting
        names, total, images = await asyncio.gather(
            db(accounting.list_applications, offset=offset, limit=limit),
            db(accounting.count_applications),
            self.remoteapps.containers.list_images(),
        )
        available = {image.name: image for image in images}
        items = [
            {
                "image": name,
                "available": name in available,
                "info": (available.get(name) or image_from_labels(name, {})).to_dict(),
            }
            for name in names
        ]
        self.write_json(Page(items, total, offset, limit).to_dict())

    @web.authenticated
    async def grants(self):
        offset, limit = page_arguments(self)
        filters = {key: self.get_query_argument(key, None) for key in ("image", "user", "group")}
        accounting = self.remoteapps.accounting
        page, total = await asyncio.gather(
            db(accounting.list_grants, **filters, offset=offset, limit=limit),
            db(accounting.count_grants, **filters),
        )
        self.write_json(Page([g.to_dict() for g in page], total, offset, limit).to_dict())

    @web.authenticated
    async def stats(self):
        accounting = self.remoteapps.accounting
        users, apps, grants, containers = await asyncio.gather(
            db(accounting.count_users),
            db(accounting.count_applications),
            db(accounting.count_grants),
            self.remoteapps.containers.list(),
        )
        per_image: dict[str, int] = {}
        for container in containers:
            if container.status == "running":
                per_image[container.image] = per_image.get(container.image, 0) + 1
        self.write_json(
            {
                "users": users,
                "applications": apps,
                "grants": grants,
                "containers": {
                    "total": len(containers),
                    "running": sum(c.status == "running" for c in containers),
                    "users": len({c.user for c in containers}),
                    "per_image": per_image,
                },
            }
        )

    for names, method in (
        (("AdminUsersApi", "AdminUsersHandler"), users),
        (("AdminApplicationsApi", "AdminApplicationsHandler"), applications),
        (("AdminGrantsApi", "AdminGrantsHandler"), grants),
        (("AdminStatsApi", "AdminStatsHandler"), stats),
    ):
        found = [getattr(api, name) for name in names if hasattr(api, name)]
        if not found:
            raise RuntimeError(f"none of {names} in remoteapp_server.handlers.api")
        found[0].get = method
