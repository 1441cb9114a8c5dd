"""The one async seam to the docker engine.

docker-py's low-level ``APIClient`` is blocking; every call runs on a thread pool with
several workers (and a matching HTTP connection pool), so one slow call — a pull, a
stop with a grace period — never blocks the event loop or queues the others behind it.
docker errors become the domain errors of :mod:`remoteapp_server.core.errors` here and
nowhere else.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import docker
import docker.errors
import requests.exceptions

from ..errors import BadRequest, Exists, NotFound, RemoteAppError, Unavailable

log = logging.getLogger(__name__)


class DockerEngineError(RemoteAppError):
    """The docker engine refused an operation for a reason that is not the caller's."""

    status = 500


def _translate(exc: Exception) -> Exception:
    """Map a docker-py / requests exception to a domain error (or return it unchanged)."""
    if isinstance(exc, docker.errors.NotFound):
        return NotFound(_explain(exc))
    if isinstance(exc, docker.errors.APIError):
        code = exc.status_code or 500
        if code == 409:
            return Exists(_explain(exc))
        if 400 <= code < 500:
            return BadRequest(f"the docker engine refused the request: {_explain(exc)}")
        return DockerEngineError(f"the docker engine failed: {_explain(exc)}")
    if isinstance(exc, (requests.exceptions.ConnectionError, docker.errors.DockerException)):
        return Unavailable(
            f"the docker engine is not reachable ({_reason(exc)}); "
            "is the docker daemon running? Try again when it is back"
        )
    if isinstance(exc, requests.exceptions.Timeout):
        return Unavailable(f"the docker engine did not answer in time ({_reason(exc)})")
    return exc


def _reason(exc: BaseException) -> str:
    """The root cause in a few words: ``Connection refused`` rather than the nested
    ``('Connection aborted.', ConnectionRefusedError(111, ...))`` requests reports."""
    seen: set[int] = set()
    todo: list[object] = [exc]
    while todo:
        current = todo.pop(0)
        if not isinstance(current, BaseException) or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, OSError) and current.strerror:
            return current.strerror
        todo.extend(current.args)
        todo.extend((getattr(current, "reason", None), current.__cause__, current.__context__))
    return str(exc)[:200]


def _explain(exc: docker.errors.APIError) -> str:
    explanation = exc.explanation
    if isinstance(explanation, bytes):
        explanation = explanation.decode("utf-8", "replace")
    return str(explanation or exc)


class AsyncDocker:
    """Async access to one docker engine.

    The client is created lazily and re-created after the engine was unreachable, so
    a server keeps working once docker is back, without a restart.
    """

    def __init__(
        self,
        base_url: str | None = None,
        *,
        max_workers: int = 8,
        timeout: float = 60,
        client_kwargs: dict[str, Any] | None = None,
    ):
        self._base_url = base_url
        self._timeout = timeout
        self._client_kwargs = dict(client_kwargs or {})
        self._max_workers = max_workers
        self._executor = ThreadPoolExecutor(max_workers, thread_name_prefix="remoteapp-docker")
        self._client: docker.APIClient | None = None
        self._client_lock = threading.Lock()

    def _make_client(self) -> docker.APIClient:
        kwargs = docker.utils.kwargs_from_env() if self._base_url is None else {}
        if self._base_url is not None:
            kwargs["base_url"] = self._base_url
        kwargs.update(self._client_kwargs)
        kwargs.setdefault("version", "auto")
        kwargs.setdefault("timeout", self._timeout)
        kwargs.setdefault("max_pool_size", self._max_workers)
        return docker.APIClient(**kwargs)

    @property
    def client(self) -> docker.APIClient:
        """The blocking client; only use it from inside :meth:`call`/``run``."""
        with self._client_lock:
            if self._client is None:
                self._client = self._make_client()
            return self._client

    def _invoke(self, fn: Callable[[docker.APIClient], Any]) -> Any:
        try:
            return fn(self.client)
        except (requests.exceptions.ConnectionError, docker.errors.DockerException) as exc:
            if isinstance(exc, docker.errors.APIError):
                raise _translate(exc) from exc
            # the engine went away: forget the client so the next call reconnects
            with self._client_lock:
                self._client = None
            raise _translate(exc) from exc
        except requests.exceptions.Timeout as exc:
            raise _translate(exc) from exc

    async def run(self, fn: Callable[[docker.APIClient], Any]) -> Any:
        """Run ``fn(client)`` on the pool; docker errors arrive as domain errors."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(self._invoke, fn))

    async def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """``await docker.call("inspect_container", cid)`` → ``client.inspect_container(cid)``."""
        return await self.run(lambda client: getattr(client, method)(*args, **kwargs))

    async def ping(self) -> bool:
        return bool(await self.call("ping"))

    def close(self) -> None:
        """Close the HTTP connections; running containers are not touched."""
        with self._client_lock:
            if self._client is not None:
                self._client.close()
                self._client = None
        self._executor.shutdown(wait=False, cancel_futures=True)
