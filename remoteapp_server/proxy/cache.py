"""The one cache type of the proxy and the server: bounded, entries expire after a TTL.

Used for who sent a request (:func:`identity_key`), the containers' targets
(``RemoteApps.resolve_target``), the addresses of :class:`~.upstream.ProxyClient` and the
hub-mode service resolver. Eviction is the same everywhere: an entry lives ``ttl`` seconds
from its last ``put``; a ``put`` into a full cache first drops expired entries, then the
oldest ones (least recently put).

Why an identity cache: Jupyter's identity provider works on every request (the default one
checks the token, makes an anonymous user and signs a fresh login cookie for each
token-authenticated request, ~80 µs, a fifth of what a small proxied request costs);
JupyterHub's checks the token with the Hub. A browser loading an app sends dozens of requests
with the same credentials in a second: the proxy asks the identity provider once and reuses
its answer for the same request credentials for ``ttl`` seconds. The key is everything an
identity provider could look at: the client's address, the whole query string and every
request header except those that only describe the wanted representation (Accept, Range,
If-None-Match, Referer, ...). Only authenticated answers are kept, never "nobody". Within
``ttl`` a revoked token keeps working through the proxy (not elsewhere), as with
JupyterHub's own token cache.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING, Generic, TypeVar

if TYPE_CHECKING:  # no tornado at run time: the core uses TTLCache
    from tornado import httputil

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class TTLCache(Generic[K, V]):
    """At most ``max_entries`` entries, each valid ``ttl`` seconds after it was put."""

    def __init__(self, ttl: float, max_entries: int = 4096) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries: dict[K, tuple[float, V]] = {}  # in the order of their last put

    def get(self, key: K) -> V | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[0] <= time.monotonic():
            del self._entries[key]
            return None
        return entry[1]

    def put(self, key: K, value: V) -> None:
        entries = self._entries
        now = time.monotonic()
        entries.pop(key, None)
        if len(entries) >= self.max_entries:
            # the oldest first: expired ones, then as many as it takes to make room
            for old in list(entries):
                if len(entries) < self.max_entries and entries[old][0] > now:
                    break
                del entries[old]
        entries[key] = (now + self.ttl, value)

    def pop(self, key: K) -> V | None:
        entry = self._entries.pop(key, None)
        return None if entry is None else entry[1]

    def discard_where(self, matches: Callable[[K], bool]) -> None:
        """Drop every entry whose key ``matches``."""
        for key in [key for key in self._entries if matches(key)]:
            del self._entries[key]

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


#: request headers about the wanted representation, never about who asks
_NOT_CREDENTIALS = frozenset(
    (
        "accept",
        "accept-encoding",
        "accept-language",
        "cache-control",
        "content-length",
        "content-type",
        "expect",
        "if-match",
        "if-modified-since",
        "if-none-match",
        "if-range",
        "if-unmodified-since",
        "pragma",
        "priority",
        "purpose",
        "range",
        "referer",
        "sec-fetch-dest",
        "sec-fetch-mode",
        "sec-fetch-site",
        "sec-fetch-user",
        "sec-purpose",
        "upgrade-insecure-requests",
    )
)


def identity_key(request: httputil.HTTPServerRequest) -> bytes:
    """What identifies the caller of ``request``, hashed: the key of an identity cache."""
    parts = [request.remote_ip or "", request.query]
    for name, value in request.headers.get_all():
        if name.lower() not in _NOT_CREDENTIALS:
            parts.append(f"{name}:{value}")
    # header values and query strings hold no newline: the joint text is unambiguous
    return hashlib.sha256("\n".join(parts).encode("utf-8", "surrogatepass")).digest()
