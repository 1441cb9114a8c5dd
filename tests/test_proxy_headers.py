"""What of a request reaches the container (remoteapp_server/proxy/headers.py) and the one
cache type (remoteapp_server/proxy/cache.py): unit tests, then the same rules through a real
Jupyter server's proxy route to a real upstream that reports what it received.
"""

from __future__ import annotations

import asyncio
import json
import time

import aiohttp
import pytest
from jupyter_server.auth.identity import IdentityProvider, User
from traitlets.config import Config
from yarl import URL

from remoteapp_server.core.errors import NotFound
from remoteapp_server.proxy import ProxyClient
from remoteapp_server.proxy.cache import TTLCache
from remoteapp_server.proxy.headers import (
    DEFAULT_CREDENTIAL_COOKIES,
    CookieRule,
    forwarded_headers,
    strip_credentials,
)
from remoteapp_server.proxy.personal import proxy_handlers

RULE = CookieRule((*DEFAULT_CREDENTIAL_COOKIES, "username-127-0-0-1-8888"))


def strip(target: str = "/", **headers: str) -> tuple[str, dict[str, str]]:
    target, kept = strip_credentials(target, list(headers.items()), RULE)
    return target, dict(kept)


# -- strip_credentials ---------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["token abc", "Token abc", "bearer abc", "  Bearer abc"])
def test_jupyter_and_hub_authorization_is_dropped(value):
    assert strip(Authorization=value)[1] == {}


def test_an_apps_own_authorization_passes():
    assert strip(Authorization="Basic YXBwOnB3")[1] == {"Authorization": "Basic YXBwOnB3"}


@pytest.mark.parametrize(
    "cookie",
    [
        "_xsrf=2|abc",
        "username-127-0-0-1-8888=secret",  # Jupyter's login cookie
        "username-localhost-9999=other",  # another server's, same prefix
        "jupyterhub-session-id=s1",
        "jupyterhub-hub-login=h",
        "jupyterhub-user-alice=u",
        "jupyterhub-services=svc",
        "remoteapp-session=apps",  # the apps origin's session
        "remoteapp-session-abc123=apps",
    ],
)
def test_credential_cookies_are_dropped(cookie):
    assert strip(Cookie=f"{cookie}; theme=dark; app=1")[1] == {"Cookie": "theme=dark; app=1"}
    assert strip(Cookie=cookie)[1] == {}  # nothing left: no Cookie header at all


def test_configured_cookie_names_and_prefixes():
    rule = CookieRule(("exact", "pre-*"))
    cookies = [("Cookie", "exact=1; exactly=2; pre-x=3; pre=4; other=5")]
    assert strip_credentials("/", cookies, rule)[1] == [("Cookie", "exactly=2; pre=4; other=5")]


def test_the_xsrf_header_is_dropped():
    _, kept = strip(**{"X-XSRFToken": "2|abc", "X-CSRFToken": "app-own"})
    assert kept == {"X-CSRFToken": "app-own"}  # Django's (the app's own) passes


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/a/b?token=t", "/a/b"),
        ("/a/b?keep=1&token=t&also=%2F", "/a/b?keep=1&also=%2F"),
        ("/a/b?tok%65n=t&x=1", "/a/b?x=1"),  # however the name is encoded
        ("/a/b?x=1&token", "/a/b?x=1"),
        ("/a/b?tokens=keep&mytoken=keep", "/a/b?tokens=keep&mytoken=keep"),
        ("/a/%2Fb/../c?q=a+b", "/a/%2Fb/../c?q=a+b"),  # byte for byte
    ],
)
def test_the_token_parameter_is_dropped(target, expected):
    assert strip(target)[0] == expected


@pytest.mark.parametrize(
    ("referer", "expected"),
    [
        ("http://h:1/lab?token=secret", "http://h:1/lab"),
        ("http://h:1/lab/tree?a=1&token=secret#frag", "http://h:1/lab/tree?a=1#frag"),
        ("http://h:1/user/alice/lab", "http://h:1/user/alice/lab"),
    ],
)
def test_a_token_in_the_referer_is_scrubbed(referer, expected):
    assert strip(Referer=referer)[1] == {"Referer": expected}


def test_forwarded_headers_drop_hop_by_hop_and_rebuild_x_forwarded():
    headers = [
        ("Connection", "keep-alive, X-Drop"),
        ("X-Drop", "1"),
        ("Keep-Alive", "timeout=5"),
        ("TE", "trailers"),
        ("Expect", "100-continue"),
        ("X-Forwarded-For", "10.0.0.1"),
        ("X-Keep", "yes"),
    ]
    forwarded = forwarded_headers(
        headers,
        remote_ip="127.0.0.1",
        protocol="http",
        host="h:1",
        connection=["keep-alive, X-Drop"],
    )
    assert forwarded == [
        ("X-Keep", "yes"),
        ("X-Forwarded-For", "10.0.0.1, 127.0.0.1"),
        ("X-Forwarded-Proto", "http"),
        ("X-Forwarded-Host", "h:1"),
    ]


# -- TTLCache ------------------------------------------------------------------------------------


def test_entries_expire_after_their_ttl(monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(time, "monotonic", lambda: now[0])
    cache: TTLCache[str, int] = TTLCache(5.0, 10)
    cache.put("a", 1)
    now[0] += 4.9
    assert cache.get("a") == 1
    now[0] += 0.1
    assert cache.get("a") is None and len(cache) == 0
    cache.put("b", 2)
    now[0] += 3
    cache.put("b", 3)  # a new put: a new lifetime
    now[0] += 3
    assert cache.get("b") == 3


def test_a_full_cache_drops_expired_then_the_oldest(monkeypatch):
    now = [0.0]
    monkeypatch.setattr(time, "monotonic", lambda: now[0])
    cache: TTLCache[int, int] = TTLCache(10.0, 3)
    for key in (1, 2, 3):
        cache.put(key, key)
        now[0] += 1
    cache.put(4, 4)  # none expired: the oldest (1) goes
    assert [cache.get(k) for k in (1, 2, 3, 4)] == [None, 2, 3, 4]
    cache.put(2, 20)  # put again: now the youngest
    cache.put(5, 5)  # 3 is the oldest now
    assert [cache.get(k) for k in (2, 3, 4, 5)] == [20, None, 4, 5]
    now[0] += 100  # all expired: a put makes room without dropping anything valid
    cache.put(6, 6)
    assert len(cache) == 1 and cache.get(6) == 6


def test_pop_and_discard_where():
    cache: TTLCache[tuple[str, str], str] = TTLCache(60.0)
    for token in ("t1", "t2"):
        for url_id in ("app1", "app2"):
            cache.put((token, url_id), f"{token}-{url_id}")
    cache.discard_where(lambda key: key[1] == "app1")
    assert len(cache) == 2 and cache.get(("t1", "app2")) == "t1-app2"
    assert cache.pop(("t1", "app2")) == "t1-app2" and cache.pop(("t1", "app2")) is None


def test_the_cache_never_grows_past_its_bound():
    cache: TTLCache[int, int] = TTLCache(60.0, 100)
    for n in range(10_000):
        cache.put(n, n)
    assert len(cache) == 100 and cache.get(9_999) == 9_999 and cache.get(9_899) is None


# -- through a real Jupyter server ------------------------------------------------------------


class OneToken(IdentityProvider):
    async def get_user_token(self, handler):
        return User("alice") if self.get_token(handler) == "alice-token" else None


@pytest.fixture
def jp_server_config():
    return Config(
        {
            "ServerApp": {
                "allow_unauthenticated_access": False,
                "jpserver_extensions": {"jupyter_server_terminals": False},
                "identity_provider_class": OneToken,
            },
            "IdentityProvider": {"token": "the-server-token"},
        }
    )


@pytest.fixture
def proxied(jp_serverapp, jp_base_url, http_server_client, jp_asyncio_loop):
    """(the proxy URL of the app, what the upstream received last, the server's port)"""
    seen: list[bytes] = []

    async def answer(reader, writer):
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                seen.append(head)
                body = json.dumps(head.decode("latin-1")).encode()
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    upstream = jp_asyncio_loop.run_until_complete(asyncio.start_server(answer, "127.0.0.1", 0))
    target = f"http://127.0.0.1:{upstream.sockets[0].getsockname()[1]}"

    class Alice:
        async def resolve(self, user, url_id):
            if url_id != "app":
                raise NotFound(url_id)
            return target

    client = ProxyClient()
    jp_serverapp.web_app.add_handlers(".*$", proxy_handlers(jp_base_url, Alice(), client))
    url = http_server_client.get_url(jp_base_url) + "remoteapp/containers/app/"
    yield url, seen
    jp_asyncio_loop.run_until_complete(client.close())
    upstream.close()


async def test_credentials_never_reach_the_container(proxied, jp_http_port):
    url, seen = proxied
    headers = {
        "Authorization": "token alice-token",
        "X-XSRFToken": "2|xsrf-secret",
        "Referer": f"http://127.0.0.1:{jp_http_port}/lab?token=referer-secret&x=1",
        "Cookie": (
            f"_xsrf=2|xsrf-secret; username-127-0-0-1-{jp_http_port}=login-secret; "
            "remoteapp-session=session-secret; jupyterhub-session-id=hub-secret; mine=kept"
        ),
    }
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as session:
        target = URL(url + "page?token=alice-token&q=1", encoded=True)
        async with session.get(target, headers=headers) as response:
            assert response.status == 200
    head = seen[-1].decode("latin-1")
    assert "secret" not in head and "alice-token" not in head
    assert head.startswith("GET ") and "/page?q=1 HTTP/1.1" in head.split("\r\n")[0]
    assert "Cookie: mine=kept\r\n" in head
    assert f"Referer: http://127.0.0.1:{jp_http_port}/lab?x=1\r\n" in head


async def test_websocket_origins_must_match_scheme_host_and_port(proxied, jp_http_port):
    """Cross-site WebSocket hijacking: a page of another origin may not open the app's
    WebSockets with the user's cookies; the scheme counts too."""
    url, seen = proxied
    ws_url = URL(url.replace("http://", "ws://") + "ws", encoded=True)
    auth = {"Authorization": "token alice-token"}
    async with aiohttp.ClientSession() as session:
        for origin in (
            f"https://127.0.0.1:{jp_http_port}",  # the same host and port, another scheme
            f"http://127.0.0.1:{jp_http_port + 1}",
            f"http://localhost:{jp_http_port}",
            "http://127.0.0.1",
            "null",
        ):
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await session.ws_connect(ws_url, headers=auth, origin=origin)
            assert refused.value.status == 403, origin
        assert seen == []  # none reached the container
        # the server's own origin passes (the scripted upstream answers 200, not 101)
        for origin in (f"http://127.0.0.1:{jp_http_port}", f"HTTP://127.0.0.1:{jp_http_port}"):
            with pytest.raises(aiohttp.WSServerHandshakeError) as relayed:
                await session.ws_connect(ws_url, headers=auth, origin=origin)
            assert relayed.value.status == 200
        assert len(seen) == 2
        # TLS ended by a reverse proxy in front: its X-Forwarded-Proto tells the scheme
        https = f"https://127.0.0.1:{jp_http_port}"
        with pytest.raises(aiohttp.WSServerHandshakeError) as relayed:
            headers = {**auth, "X-Forwarded-Proto": "https"}
            await session.ws_connect(ws_url, headers=headers, origin=https)
        assert relayed.value.status == 200
