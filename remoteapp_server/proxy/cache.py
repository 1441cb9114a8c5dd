"""Who sent a proxied request, remembered for a few seconds per exact set of credentials.

Jupyter's identity provider works on every request: the default one checks the token,
makes an anonymous user and signs a fresh login cookie for each token-authenticated request
(~80 µs, a fifth of what a small proxied request costs); JupyterHub's checks the token with
the Hub (HubAuth caches that for minutes). A browser loading an app sends dozens of requests
with the same credentials in a second: the proxy asks the identity provider once and reuses
its answer for the same request credentials for ``ttl`` seconds.

The key is everything an identity provider could look at: the client's address, the whole
query string and every request header except those that only describe the wanted
representation (Accept, Range, If-None-Match, Referer, ...). Only authenticated answers are
kept, never "nobody". Within ``ttl`` a revoked token keeps working through the proxy (not
elsewhere), as with JupyterHub's own token cache.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

from tornado import httputil

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


class IdentityCache:
    """Request credentials (hashed) → (user, token-authenticated), for ``ttl`` seconds."""

    def __init__(self, ttl: float = 5.0, size: int = 1024) -> None:
        self.ttl = ttl
        self.size = size
        self._entries: dict[bytes, tuple[float, Any, bool]] = {}

    @staticmethod
    def key(request: httputil.HTTPServerRequest) -> bytes:
        parts = [request.remote_ip or "", request.query]
        for name, value in request.headers.get_all():
            if name.lower() not in _NOT_CREDENTIALS:
                parts.append(f"{name}:{value}")
        # header values and query strings hold no newline: the joint text is unambiguous
        return hashlib.sha256("\n".join(parts).encode("utf-8", "surrogatepass")).digest()

    def get(self, key: bytes) -> tuple[Any, bool] | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[0] <= time.monotonic():
            del self._entries[key]
            return None
        return entry[1], entry[2]

    def put(self, key: bytes, user: Any, token_authenticated: bool) -> None:
        now = time.monotonic()
        entries = self._entries
        if len(entries) >= self.size:
            for old in [k for k, entry in entries.items() if entry[0] <= now]:
                del entries[old]
            if len(entries) >= self.size:
                entries.clear()
        entries[key] = (now + self.ttl, user, token_authenticated)
