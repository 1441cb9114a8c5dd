"""What of a request reaches the container, and what of its answer reaches the client.

A container runs an arbitrary image: with the user's Jupyter token, the Hub's cookies or the
apps session it could act as the user on the Jupyter server (run code in kernels) and on the
Hub. :func:`strip_credentials` is the one place that removes them from a request.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from urllib.parse import unquote_plus

from .appsession import SESSION_COOKIE

#: headers about one connection, not the message (RFC 9110 §7.6.1): never forwarded
HOP_BY_HOP = frozenset(
    ("connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "proxy-connection")
    + ("te", "trailer", "trailers", "transfer-encoding", "upgrade")
)
#: tornado answers ``Expect: 100-continue`` itself; the X-Forwarded-* headers are rebuilt
_REBUILT = frozenset({"expect", "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host"})
_NOT_FORWARDED = HOP_BY_HOP | _REBUILT
#: ``Authorization`` schemes of Jupyter and JupyterHub tokens (an app's own Basic passes)
_TOKEN_AUTHORIZATION = re.compile(r"\s*(token|bearer)\s", re.IGNORECASE)
#: request headers that only ever carry a Jupyter credential (tornado's XSRF header)
_CREDENTIAL_HEADERS = frozenset({"x-xsrftoken"})
#: query parameters that carry a Jupyter/JupyterHub token
_TOKEN_PARAMETERS = frozenset({"token"})

#: cookies that are credentials wherever the proxy runs: Jupyter's XSRF cookie, Jupyter's
#: login cookies (``username-<host>-<port>``), JupyterHub's (``jupyterhub-session-id``,
#: ``jupyterhub-hub-login``, ``jupyterhub-user-<name>``, ``jupyterhub-services``...), the
#: apps-origin session; a trailing ``*`` makes a prefix
DEFAULT_CREDENTIAL_COOKIES = (
    *("_xsrf", "username-*", "jupyterhub-*", "remoteapp-session*"),
    SESSION_COOKIE,
)


class CookieRule:
    """Cookie names (exact) and prefixes (written with a trailing ``*``)."""

    def __init__(self, patterns: Iterable[str]) -> None:
        patterns = tuple(patterns)
        self.names = frozenset(p for p in patterns if not p.endswith("*"))
        self.prefixes = tuple(p[:-1] for p in patterns if p.endswith("*"))

    def __call__(self, name: str) -> bool:
        return name in self.names or name.startswith(self.prefixes)


@functools.lru_cache(maxsize=64)
def cookie_rule(patterns: tuple[str, ...]) -> CookieRule:
    """The CookieRule of ``patterns``, made once (a handler asks for it per request)."""
    return CookieRule(patterns)


def connection_tokens(values: Iterable[str]) -> frozenset[str]:
    """Header names listed in Connection headers: hop-by-hop as well."""
    return frozenset(token.strip().lower() for value in values for token in value.split(","))


def strip_credentials(
    target: str, headers: Iterable[tuple[str, str]], credential_cookie: CookieRule
) -> tuple[str, list[tuple[str, str]]]:
    """The request target and headers without the user's Jupyter/JupyterHub credentials.

    Removes ``Authorization: token|bearer ...``, the cookies ``credential_cookie`` matches,
    ``X-XSRFToken``, ``token=`` in the query and in the ``Referer``'s query. Everything else
    stays byte for byte (the raw target is not re-encoded), in its order.
    """
    kept = []
    for name, value in headers:
        key = name.lower()
        if key in _CREDENTIAL_HEADERS:
            continue
        if key == "authorization" and _TOKEN_AUTHORIZATION.match(value):
            continue
        if key == "cookie":
            value = without_cookies(value, credential_cookie)
            if not value:
                continue
        elif key == "referer":
            value = without_token_param(value)
        kept.append((name, value))
    return without_token_param(target), kept


def forwarded_headers(
    headers: Iterable[tuple[str, str]],
    *,
    remote_ip: str,
    protocol: str,
    host: str,
    connection: Iterable[str] = (),
) -> list[tuple[str, str]]:
    """The client's headers minus hop-by-hop ones (also those named in ``connection``, the
    values of its Connection headers), plus X-Forwarded-For/Proto/Host."""
    drop = _NOT_FORWARDED | connection_tokens(connection) if connection else _NOT_FORWARDED
    forwarded = []
    prior = proto = forwarded_host = None
    for name, value in headers:
        key = name.lower()
        if key in drop:
            if key == "x-forwarded-for":
                prior = f"{prior}, {value}" if prior else value
            elif key == "x-forwarded-proto":
                proto = proto or value
            elif key == "x-forwarded-host":
                forwarded_host = forwarded_host or value
            continue
        forwarded.append((name, value))
    forwarded += [
        ("X-Forwarded-For", f"{prior}, {remote_ip}" if prior else remote_ip),
        ("X-Forwarded-Proto", proto or protocol),
        ("X-Forwarded-Host", forwarded_host or host),
    ]
    return forwarded


def without_cookies(header: str, credential_cookie: CookieRule) -> str:
    """A Cookie header without the cookies ``credential_cookie`` matches."""
    kept = []
    for pair in header.split(";"):
        pair = pair.strip()
        if pair and not credential_cookie(pair.split("=", 1)[0].strip()):
            kept.append(pair)
    return "; ".join(kept)


def without_token_param(uri: str) -> str:
    """A URI (request target or absolute URL) without ``token=`` in its query; the rest
    stays byte for byte."""
    path, question, query = uri.partition("?")
    if "token" not in query and "%" not in query:  # (a name may be percent-encoded)
        return uri
    query, hash_, fragment = query.partition("#")
    kept = [
        p for p in query.split("&") if unquote_plus(p.split("=", 1)[0]) not in _TOKEN_PARAMETERS
    ]
    return (f"{path}?{'&'.join(kept)}" if kept else path) + hash_ + fragment
