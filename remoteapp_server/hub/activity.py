"""Container traffic counts as its owner's activity at the Hub.

A user who works only in a desktop makes no requests to their Jupyter server, so
JupyterHub (and jupyterhub-idle-culler, which reads ``last_activity``) would take them
for idle and cull their server — and with it, in many deployments, their session. The
service therefore posts ``POST /hub/api/users/<owner>/activity`` for the owner and their
default server, with the service's own token (scope ``users:activity``, granted by the
``remoteapp-service`` role of ``hub/config.py``), at most once per ``interval`` seconds per
user and worker process; a failure is logged, never the caller's problem.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from datetime import datetime, timezone
from urllib.parse import quote

from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest

log = logging.getLogger("remoteapp.activity")


def _now_iso() -> str:
    return datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")


class ActivityReporter:
    """Throttled activity posts to the Hub's REST API."""

    def __init__(self, api_url: str, api_token: str, interval: float = 60.0):
        self.api_url = api_url.rstrip("/") + "/"
        self.api_token = api_token
        self.interval = interval
        #: user → monotonic time of the last post (or of the last attempt)
        self._last: dict[str, float] = {}
        self._tasks: set[asyncio.Task[bool]] = set()

    def record(self, user: str) -> None:
        """``user``'s container was used now: post it unless posted in the last interval."""
        now = time.monotonic()
        last = self._last.get(user)
        if last is not None and now - last < self.interval:
            return
        if len(self._last) > 10_000:  # many users over a long time: keep the recent ones
            horizon = now - self.interval
            self._last = {name: t for name, t in self._last.items() if t > horizon}
        self._last[user] = now
        task = asyncio.get_running_loop().create_task(self.post(user))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def post(self, user: str) -> bool:
        """One activity post for ``user`` (and their default server when they have one)."""
        stamp = _now_iso()
        body: dict[str, object] = {
            "last_activity": stamp,
            "servers": {"": {"last_activity": stamp}},
        }
        try:
            await self._send(user, body)
        except HTTPClientError as exc:
            if exc.code == 400:  # "No such server": never started one; the user's only
                body.pop("servers")
                try:
                    await self._send(user, body)
                    return True
                except Exception as again:  # noqa: BLE001 (logged, never raised)
                    exc = again  # type: ignore[assignment]
            log.warning("remoteapp: activity of %s not recorded at the Hub: %s", user, exc)
            return False
        except Exception as exc:  # noqa: BLE001 (the Hub away: logged, never raised)
            log.warning("remoteapp: activity of %s not recorded at the Hub: %s", user, exc)
            return False
        log.debug("remoteapp: activity of %s recorded at the Hub", user)
        return True

    async def _send(self, user: str, body: dict[str, object]) -> None:
        request = HTTPRequest(
            f"{self.api_url}users/{quote(user, safe='')}/activity",
            method="POST",
            headers={
                "Authorization": f"token {self.api_token}",
                "Content-Type": "application/json",
            },
            body=json.dumps(body),
            request_timeout=20,
        )
        await AsyncHTTPClient().fetch(request)

    async def close(self) -> None:
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=5)
