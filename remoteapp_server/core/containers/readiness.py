"""Wait until an application answers HTTP 2xx at its url path."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from ...proxy.http1 import ParseError, ResponseParser
from ..errors import RemoteAppError


class StartFailed(RemoteAppError):
    """The container started but the application did not come up."""

    status = 502


async def http_status(url: str, timeout: float = 2.0) -> int | None:
    """The status code of ``GET url`` (HTTP/1.1, no body read), or None if no answer.

    Plain asyncio streams: this is the hot loop of every start, so no client object,
    no pool, no redirects; the answer's head is read by the proxy's parser (llhttp).
    docker-proxy accepts connections before the app listens and closes them at once; that
    reads as "no answer".
    """
    parts = urlsplit(url)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(parts.hostname, parts.port or 80), timeout
        )
    except (OSError, asyncio.TimeoutError):
        return None
    try:
        writer.write(
            f"GET {path} HTTP/1.1\r\nHost: {parts.netloc}\r\nConnection: close\r\n"
            "User-Agent: remoteapp-readiness\r\n\r\n".encode("latin-1")
        )
        await writer.drain()
        return await asyncio.wait_for(_status(reader), timeout)
    except (OSError, asyncio.TimeoutError, ParseError):
        return None
    finally:
        writer.close()


async def _status(reader: asyncio.StreamReader) -> int | None:
    parser = ResponseParser("GET")
    while not parser.head:
        data = await reader.read(65536)
        if not data:
            return None
        parser.feed(data)
    return parser.status


#: Poll interval while an app is expected to come up: a connection attempt to a local
#: port costs ~0.1 ms, and every ms between "listening" and "noticed" is start latency.
FAST_POLL = 0.025
#: After FAST_PHASE seconds the app is a slow one; poll it gently.
FAST_PHASE = 10.0
SLOW_POLL = 0.25


async def wait_until_ready(
    url: str,
    *,
    timeout: float,
    still_running: Callable[[], Awaitable[str | None]],
    check_every: float = 1.0,
) -> None:
    """Poll ``url`` until it answers 2xx.

    Raises StartFailed when ``timeout`` passes or when ``still_running()`` reports that
    the container stopped (its message says why). Polls every FAST_POLL seconds for the
    first FAST_PHASE seconds (most apps come up within a few seconds), then every
    SLOW_POLL seconds.
    """
    started = time.monotonic()
    deadline = started + timeout
    next_check = started + check_every
    last_status = None
    while True:
        status = await http_status(url)
        if status is not None and 200 <= status < 300:
            return
        last_status = status if status is not None else last_status
        now = time.monotonic()
        if now >= next_check:
            next_check = now + check_every
            why = await still_running()
            if why:
                raise StartFailed(why)
        if now >= deadline:
            answer = f"the last answer was HTTP {last_status}" if last_status else "no answer"
            raise StartFailed(
                f"the application did not answer at {urlsplit(url).path} within "
                f"{timeout:g} s ({answer})"
            )
        await asyncio.sleep(FAST_POLL if now - started < FAST_PHASE else SLOW_POLL)
