"""The container proxy against a real Jupyter server and real upstream servers on 127.0.0.1.

Two users authenticate with their own tokens through a real IdentityProvider; the resolver
gives each of them their own url ids, all pointing to one aiohttp "app" upstream that echoes
what it received, counts streamed uploads, streams big downloads and echoes WebSockets.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import json
import socket
import threading
from contextlib import closing

import aiohttp
import pytest
from aiohttp import web
from jupyter_server.auth.identity import IdentityProvider, User
from traitlets.config import Config
from yarl import URL

from remoteapp_server.core.errors import NotFound
from remoteapp_server.proxy import ProxyClient
from remoteapp_server.proxy import handler as proxy_module
from remoteapp_server.proxy.personal import close_proxy, proxy_handlers

TOKENS = {"alice-token": "alice", "bob-token": "bob"}
ALICE = {"Authorization": "token alice-token"}
MiB = 1024 * 1024


class TokenPerUser(IdentityProvider):
    """One token per user, as JupyterHub gives them (the default provider has one anonymous
    user per request, which cannot own anything)."""

    async def get_user_token(self, handler):
        user = TOKENS.get(self.get_token(handler) or "")
        if user is None:
            return None
        handler._token_authenticated = True
        return User(user)


@pytest.fixture
def jp_server_config():
    return Config(
        {
            "ServerApp": {
                "allow_unauthenticated_access": False,
                "jpserver_extensions": {"jupyter_server_terminals": False},
                "identity_provider_class": TokenPerUser,
                # what a JupyterHub single-user server sends on its own pages
                "tornado_settings": {
                    "headers": {
                        "Content-Security-Policy": "frame-ancestors 'none'",
                        "X-Frame-Options": "DENY",
                    }
                },
            },
            "IdentityProvider": {"token": "the-server-token"},
        }
    )


# -- the upstream "app" ------------------------------------------------------------------------


class Upstream:
    def __init__(self):
        self.hits = 0
        self.url = ""
        self.aborted_downloads = 0
        self.broken_uploads = 0
        self.client_ports: set[int] = set()  # one per upstream connection the proxy opened

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.hits += 1
        self.client_ports.add(request.transport.get_extra_info("peername")[1])
        kind = request.path.rstrip("/").rsplit("/", 1)[-1]
        if kind == "ws":
            return await self.websocket(request)
        if kind == "upload":
            received, digest = 0, hashlib.sha256()
            try:
                async for chunk in request.content.iter_any():
                    received += len(chunk)
                    digest.update(chunk)
            except Exception:
                self.broken_uploads += 1
                raise
            return web.json_response({"received": received, "sha256": digest.hexdigest()})
        if kind == "reject":  # answers before reading the body, as a size limit would
            return web.Response(status=413, text="too big")
        if kind == "download":
            return await self.download(request, int(request.query["size"]))
        if kind == "cookies":
            response = web.Response(text="two cookies")
            response.headers.add("Set-Cookie", "a=1; Path=/")
            response.headers.add("Set-Cookie", "b=2; Path=/; HttpOnly")
            return response
        if kind == "csp":
            return web.Response(text="own csp", headers={"Content-Security-Policy": "img-src *"})
        if kind == "custom-status":
            return web.Response(status=599, reason="Custom Thing", text="odd")
        if kind == "gzipped":
            body = gzip.compress(b"compressed once, by the app" * 100)
            return web.Response(body=body, headers={"Content-Encoding": "gzip"})
        if kind == "not-modified":
            return web.Response(status=304, headers={"ETag": '"v1"'})
        body = await request.read()
        return web.json_response(
            {
                "method": request.method,
                "raw_path": request.raw_path,
                "headers": list(request.headers.items()),
                "body_sha256": hashlib.sha256(body).hexdigest(),
            }
        )

    async def download(self, request: web.Request, size: int) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/octet-stream"})
        if "chunked" in request.query:
            response.enable_chunked_encoding()
        else:
            response.content_length = size
        await response.prepare(request)
        if request.method == "HEAD":
            return response
        block = bytes(range(256)) * 4096  # 1 MiB
        sent = 0
        try:
            while sent < size:
                piece = block[: min(MiB, size - sent)]
                await response.write(piece)
                sent += len(piece)
        finally:
            self.aborted_downloads += sent < size
        await response.write_eof()
        return response

    async def websocket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(protocols=("binary",))
        await ws.prepare(request)
        async for message in ws:  # aiohttp answers pings and close frames itself
            if message.type == aiohttp.WSMsgType.BINARY:
                await ws.send_bytes(message.data)
            elif message.type == aiohttp.WSMsgType.TEXT:
                await ws.send_str(message.data)
        return ws


def free_port() -> int:
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def upstream(jp_asyncio_loop):
    app_state = Upstream()
    app = web.Application(client_max_size=0)
    app.router.add_route("*", "/{tail:.*}", app_state.handle)
    runner = web.AppRunner(app, access_log=None)
    port = free_port()

    async def start():
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()

    jp_asyncio_loop.run_until_complete(start())
    app_state.url = f"http://127.0.0.1:{port}"
    yield app_state
    jp_asyncio_loop.run_until_complete(runner.cleanup())


class DictResolver:
    def __init__(self, targets: dict[str, tuple[str, str]]):
        self.targets = targets
        self.forgotten: list[str] = []

    async def resolve(self, user: User, url_id: str) -> str:
        owner, target = self.targets.get(url_id, ("", ""))
        if owner != user.username:
            raise NotFound(f"no container {url_id} for {user.username}")
        return target

    def forget(self, url_id: str) -> None:
        self.forgotten.append(url_id)


@pytest.fixture
def unresponsive_port():
    """A port whose listen queue is full: connecting to it hangs (a real connect timeout)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    for _ in range(4):
        filler = socket.socket()
        filler.setblocking(False)
        filler.connect_ex(("127.0.0.1", port))
        fillers.append(filler)
    yield port
    for sock in [*fillers, listener]:
        sock.close()


@pytest.fixture
def proxy(jp_serverapp, jp_base_url, upstream, unresponsive_port, jp_asyncio_loop):
    resolver = DictResolver(
        {
            "alice-app": ("alice", upstream.url),
            "alice-down": ("alice", f"http://127.0.0.1:{free_port()}"),
            "alice-hangs": ("alice", f"http://127.0.0.1:{unresponsive_port}"),
            "bob-app": ("bob", upstream.url),
        }
    )
    client = ProxyClient(connect_timeout=1.0)
    jp_serverapp.web_app.add_handlers(".*$", proxy_handlers(jp_base_url, resolver, client))
    yield resolver
    jp_asyncio_loop.run_until_complete(client.close())


@pytest.fixture
def server_url(http_server_client, jp_base_url, proxy):
    """The URL of the containers' proxy route, e.g. http://127.0.0.1:PORT/a%40b/remoteapp/containers"""
    return http_server_client.get_url(jp_base_url) + "remoteapp/containers"


@pytest.fixture
def session(jp_asyncio_loop):
    # no cookie jar: every test says exactly which cookies it sends
    async def start():
        return aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar(), auto_decompress=False)

    session = jp_asyncio_loop.run_until_complete(start())
    yield session
    jp_asyncio_loop.run_until_complete(session.close())


def raw(url: str) -> URL:
    """A URL sent as written: no re-quoting, no '..' resolution."""
    return URL(url, encoded=True)


async def echo(session, url, **kwargs) -> dict:
    kwargs.setdefault("headers", ALICE)
    async with session.get(raw(url), **kwargs) as response:
        assert response.status == 200, await response.text()
        return await response.json()


class PeakRSS:
    """Samples this process's resident memory every 50 ms in a thread."""

    def __enter__(self):
        self.start = self.peak = self._rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    @property
    def growth(self) -> int:
        return self.peak - self.start

    def _sample(self):
        while not self._stop.wait(0.05):
            self.peak = max(self.peak, self._rss())

    @staticmethod
    def _rss() -> int:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        raise RuntimeError("no VmRSS")


# -- authentication and authorization ----------------------------------------------------------


async def test_unauthenticated_requests_never_reach_the_container(server_url, session, upstream):
    url = f"{server_url}/alice-app/echo"
    async with session.get(raw(url), allow_redirects=False) as response:
        assert response.status == 302
        assert "/login" in response.headers["Location"]
    for method in ("POST", "PUT", "DELETE"):
        async with session.request(method, raw(url), data=b"x") as response:
            assert response.status == 403
    async with session.get(
        raw(url), headers={"Authorization": "token wrong"}, allow_redirects=False
    ) as response:
        assert response.status in (302, 403)
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await session.ws_connect(raw(f"{server_url}/alice-app/ws"))
    assert refused.value.status == 403
    assert upstream.hits == 0


@pytest.mark.parametrize("url_id", ["bob-app", "nobody-app"])
async def test_other_users_and_unknown_containers_are_404(server_url, session, upstream, url_id):
    async with session.get(raw(f"{server_url}/{url_id}/echo"), headers=ALICE) as response:
        assert response.status == 404
        assert await response.json() == {"status": 404, "message": f"No container {url_id}."}
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await session.ws_connect(raw(f"{server_url}/{url_id}/ws"), headers=ALICE)
    assert refused.value.status == 404
    assert upstream.hits == 0


async def test_the_owner_reaches_their_container(server_url, session):
    bob = await echo(
        session, f"{server_url}/bob-app/echo", headers={"Authorization": "token bob-token"}
    )
    assert bob["method"] == "GET"


# -- paths -------------------------------------------------------------------------------------


async def test_the_raw_path_and_query_reach_the_container_unchanged(
    server_url, session, jp_base_url
):
    tail = "/alice-app/some%2Fencoded/%40user/file%20name.txt;v=1?q=a%2Fb&x=1&x=2&e=%40+%2B"
    seen = await echo(session, server_url + tail)
    assert seen["raw_path"] == f"{jp_base_url}remoteapp/containers{tail}"


@pytest.mark.parametrize(
    "tail", ["/alice-app/../bob-app/echo", "/alice-app/a/%2e%2E/echo", "/alice-app/a%2F..%2Fb"]
)
async def test_dot_dot_segments_are_refused(server_url, session, upstream, tail):
    async with session.get(raw(server_url + tail), headers=ALICE) as response:
        assert response.status == 400
        assert (await response.json())["status"] == 400
    assert upstream.hits == 0


async def test_the_container_root_without_slash_redirects(server_url, session, jp_base_url):
    async with session.get(
        raw(f"{server_url}/alice-app?x=1"), headers=ALICE, allow_redirects=False
    ) as response:
        assert response.status == 302
        assert response.headers["Location"] == f"{jp_base_url}remoteapp/containers/alice-app/?x=1"


# -- HTTP --------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
async def test_every_method_round_trips_with_its_body(server_url, session, method):
    body = b"payload-" * 1000 if method not in ("GET", "OPTIONS") else b""
    url = raw(f"{server_url}/alice-app/echo")
    async with session.request(method, url, data=body or None, headers=ALICE) as response:
        assert response.status == 200
        seen = await response.json()
    assert seen["method"] == method
    assert seen["body_sha256"] == hashlib.sha256(body).hexdigest()


async def test_head_has_the_headers_and_no_body(server_url, session):
    async with session.head(
        raw(f"{server_url}/alice-app/download?size=12345"), headers=ALICE
    ) as response:
        assert response.status == 200
        assert response.headers["Content-Length"] == "12345"
        assert await response.read() == b""


async def test_status_and_reason_pass_through(server_url, session):
    async with session.get(raw(f"{server_url}/alice-app/custom-status"), headers=ALICE) as response:
        assert (response.status, response.reason) == (599, "Custom Thing")
        assert await response.text() == "odd"
    async with session.get(raw(f"{server_url}/alice-app/not-modified"), headers=ALICE) as response:
        assert response.status == 304
        assert response.headers["ETag"] == '"v1"'
        assert await response.read() == b""


async def test_credentials_are_not_forwarded(server_url, session, jp_http_port):
    login_cookie = f"username-127-0-0-1-{jp_http_port}"
    cookies = (
        f"_xsrf=2|abc; {login_cookie}=secret; jupyterhub-session-id=s1; "
        "jupyterhub-user-alice=c2; app_session=keep-me; theme=dark"
    )
    seen = await echo(
        session,
        f"{server_url}/alice-app/echo?keep=1&token=alice-token&also=2",
        headers={"Authorization": "Basic YXBwOnB3", "Cookie": cookies},
    )
    headers = dict((name.lower(), value) for name, value in seen["headers"])
    assert seen["raw_path"].endswith("/alice-app/echo?keep=1&also=2")
    assert headers["authorization"] == "Basic YXBwOnB3"  # the app's own credentials pass
    assert headers["cookie"] == "app_session=keep-me; theme=dark"
    seen = await echo(session, f"{server_url}/alice-app/echo", headers={**ALICE, "Cookie": cookies})
    names = [name.lower() for name, _ in seen["headers"]]
    assert "authorization" not in names
    assert "alice-token" not in json.dumps(seen)


async def test_host_is_kept_and_forwarded_headers_added(server_url, session, jp_http_port):
    seen = await echo(
        session,
        f"{server_url}/alice-app/echo",
        headers={**ALICE, "Connection": "keep-alive, X-Drop-Me", "X-Drop-Me": "1"},
    )
    headers = dict(seen["headers"])
    assert headers["Host"] == f"127.0.0.1:{jp_http_port}"
    assert headers["X-Forwarded-For"] == "127.0.0.1"
    assert headers["X-Forwarded-Proto"] == "http"
    assert headers["X-Forwarded-Host"] == f"127.0.0.1:{jp_http_port}"
    assert "X-Drop-Me" not in headers  # named in Connection: hop-by-hop


async def test_responses_are_frameable_by_lab(server_url, session):
    async with session.get(raw(f"{server_url}/alice-app/echo"), headers=ALICE) as response:
        assert response.headers.getall("Content-Security-Policy") == ["frame-ancestors 'self'"]
        assert "X-Frame-Options" not in response.headers
    async with session.get(raw(f"{server_url}/alice-app/csp"), headers=ALICE) as response:
        policies = response.headers.getall("Content-Security-Policy")
        assert sorted(policies) == ["frame-ancestors 'self'", "img-src *"]
    async with session.get(raw(f"{server_url}/nobody/x"), headers=ALICE) as response:
        assert response.headers.getall("Content-Security-Policy") == ["frame-ancestors 'self'"]


async def test_all_set_cookie_headers_pass(server_url, session):
    async with session.get(raw(f"{server_url}/alice-app/cookies"), headers=ALICE) as response:
        set_cookies = response.headers.getall("Set-Cookie")
    assert "a=1; Path=/" in set_cookies
    assert "b=2; Path=/; HttpOnly" in set_cookies


async def test_a_200_mb_download_streams(server_url, session):
    size = 200 * MiB
    for query in ("", "&chunked=1"):
        received = 0
        with PeakRSS() as rss:
            async with session.get(
                raw(f"{server_url}/alice-app/download?size={size}{query}"), headers=ALICE
            ) as response:
                assert response.status == 200
                async for chunk in response.content.iter_any():
                    received += len(chunk)
        assert received == size
        assert rss.growth < 60 * MiB, f"RSS grew by {rss.growth / MiB:.0f} MiB"


@pytest.mark.parametrize(
    ("size", "with_length"),
    # 150 MiB with a Content-Length: above tornado's default limit of 100 MiB
    [(50 * MiB, False), (50 * MiB, True), (150 * MiB, True)],
)
async def test_a_big_upload_streams(server_url, session, size, with_length):
    block = b"u" * MiB

    async def produce():
        for _ in range(size // MiB):
            yield block

    headers = {**ALICE, "Content-Length": str(size)} if with_length else ALICE
    with PeakRSS() as rss:
        async with session.put(
            raw(f"{server_url}/alice-app/upload"), data=produce(), headers=headers
        ) as response:
            assert response.status == 200
            result = await response.json()
    assert result == {"received": size, "sha256": hashlib.sha256(block * (size // MiB)).hexdigest()}
    assert rss.growth < 40 * MiB, f"RSS grew by {rss.growth / MiB:.0f} MiB"


async def test_a_client_leaving_mid_download_closes_the_upstream(server_url, session, upstream):
    for _ in range(3):
        url = raw(f"{server_url}/alice-app/download?size={200 * MiB}")
        async with session.get(url, headers=ALICE) as response:
            await response.content.readexactly(MiB)
            response.close()
    for _ in range(50):
        if upstream.aborted_downloads == 3:
            break
        await asyncio.sleep(0.1)
    assert upstream.aborted_downloads == 3
    assert (await echo(session, f"{server_url}/alice-app/echo"))["method"] == "GET"


async def test_a_client_leaving_mid_upload_fails_the_upstream_upload(server_url, session, upstream):
    async def produce():
        for _ in range(10):
            yield b"u" * MiB
        raise RuntimeError("the client gives up")

    with pytest.raises(aiohttp.ClientError):
        await session.put(raw(f"{server_url}/alice-app/upload"), data=produce(), headers=ALICE)
    for _ in range(50):
        if upstream.broken_uploads:
            break
        await asyncio.sleep(0.1)
    assert upstream.broken_uploads == 1  # not taken as a complete, shorter upload


async def test_an_upload_refused_early_gets_its_answer(server_url, session):
    async def produce():
        for _ in range(64):
            yield b"u" * MiB

    url = raw(f"{server_url}/alice-app/reject")
    async with session.post(url, data=produce(), headers=ALICE) as response:
        assert response.status == 413
        assert await response.text() == "too big"
    assert (await echo(session, f"{server_url}/alice-app/echo"))["method"] == "GET"


async def test_unreachable_container_is_502(server_url, session, proxy):
    async with session.get(raw(f"{server_url}/alice-down/echo"), headers=ALICE) as response:
        assert response.status == 502
        reply = await response.json()
    assert reply["status"] == 502
    assert "alice-down" in reply["message"] and "Traceback" not in reply["message"]
    assert proxy.forgotten == ["alice-down"]


async def test_a_connect_timeout_is_504(server_url, session):
    async with session.get(raw(f"{server_url}/alice-hangs/echo"), headers=ALICE) as response:
        assert response.status == 504
        assert (await response.json())["status"] == 504


async def test_proxied_requests_record_activity(server_url, session, jp_serverapp):
    settings = jp_serverapp.web_app.settings
    before = settings.get("api_last_activity")
    await asyncio.sleep(0.01)
    await echo(session, f"{server_url}/alice-app/echo")
    assert settings["api_last_activity"] != before
    assert before is None or settings["api_last_activity"] > before


# -- WebSocket ---------------------------------------------------------------------------------


async def test_websocket_echo(server_url, session, jp_serverapp):
    before = jp_serverapp.web_app.settings.get("api_last_activity")
    ws = await session.ws_connect(
        raw(f"{server_url}/alice-app/ws?x=1"), headers=ALICE, protocols=("binary",), autoping=False
    )
    assert ws.protocol == "binary"
    for size in (1024, 64 * 1024, 3 * MiB):
        payload = bytes(range(256)) * (size // 256)
        await ws.send_bytes(payload)
        message = await ws.receive(timeout=10)
        assert message.type == aiohttp.WSMsgType.BINARY and message.data == payload
    await ws.send_str("hello ✓")
    assert (await ws.receive(timeout=10)).data == "hello ✓"
    await ws.ping(b"are you there")
    pong = await ws.receive(timeout=10)
    assert (pong.type, pong.data) == (aiohttp.WSMsgType.PONG, b"are you there")
    assert await ws.close()
    assert ws.close_code == 1000
    assert jp_serverapp.web_app.settings["api_last_activity"] != before


async def test_websocket_credentials_are_not_forwarded(server_url, session, upstream):
    ws = await session.ws_connect(
        raw(f"{server_url}/alice-app/ws?token=alice-token"),
        headers={"Cookie": "jupyterhub-session-id=s; keep=1"},
    )
    await ws.close()
    # the echo route sees what the upgrade request carried
    seen = await echo(
        session,
        f"{server_url}/alice-app/echo?token=alice-token",
        headers={"Cookie": "jupyterhub-x=1; keep=1"},
    )
    headers = dict(seen["headers"])
    assert headers["Cookie"] == "keep=1"
    assert "token" not in seen["raw_path"]


async def test_websocket_traffic_records_activity(server_url, session, jp_serverapp, monkeypatch):
    monkeypatch.setattr(proxy_module, "ACTIVITY_INTERVAL", 0.0)  # 60 s in real life
    settings = jp_serverapp.web_app.settings
    ws = await session.ws_connect(raw(f"{server_url}/alice-app/ws"), headers=ALICE)
    opened = settings["api_last_activity"]
    await asyncio.sleep(0.01)
    await ws.send_bytes(b"still here")
    await ws.receive(timeout=10)
    assert settings["api_last_activity"] > opened
    await ws.close()


async def test_cross_origin_websocket_is_refused(server_url, session, upstream, jp_http_port):
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await session.ws_connect(
            raw(f"{server_url}/alice-app/ws"), headers=ALICE, origin="http://evil.example"
        )
    assert refused.value.status == 403
    assert upstream.hits == 0
    ws = await session.ws_connect(
        raw(f"{server_url}/alice-app/ws"), headers=ALICE, origin=f"http://127.0.0.1:{jp_http_port}"
    )
    await ws.close()


async def test_a_refused_upgrade_is_relayed(server_url, session):
    # the echo route is no WebSocket endpoint: aiohttp answers the upgrade with 200 + JSON
    headers = {
        **ALICE,
        "Upgrade": "websocket",
        "Connection": "Upgrade",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Version": "13",
    }
    async with session.get(raw(f"{server_url}/alice-app/echo"), headers=headers) as response:
        assert response.status == 200
        assert (await response.json())["method"] == "GET"
        assert response.headers.getall("Content-Security-Policy") == ["frame-ancestors 'self'"]


async def test_websocket_to_an_unreachable_container_is_502(server_url, session):
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await session.ws_connect(raw(f"{server_url}/alice-down/ws"), headers=ALICE)
    assert refused.value.status == 502


async def test_upstream_connections_are_pooled(server_url, session, upstream):
    for n in range(50):
        await echo(session, f"{server_url}/alice-app/echo?n={n}")
    assert len(upstream.client_ports) == 1  # keep-alive: one connection for 50 requests
    results = await asyncio.gather(
        *(echo(session, f"{server_url}/alice-app/echo?n={n}") for n in range(300))
    )
    assert [r["raw_path"].rsplit("=", 1)[1] for r in results] == [str(n) for n in range(300)]
    assert len(upstream.client_ports) <= 101  # at most 100 per container, reused


async def test_compressed_bodies_pass_untouched(server_url, session):
    headers = {**ALICE, "Accept-Encoding": "gzip"}
    async with session.get(raw(f"{server_url}/alice-app/gzipped"), headers=headers) as response:
        assert response.headers["Content-Encoding"] == "gzip"
        body = await response.read()
    assert gzip.decompress(body) == b"compressed once, by the app" * 100
    seen = await echo(session, f"{server_url}/alice-app/echo", headers=headers)
    assert dict(seen["headers"])["Accept-Encoding"] == "gzip"  # the client's, not aiohttp's


async def test_the_shared_client_of_the_settings(
    jp_serverapp, jp_base_url, http_server_client, session, upstream
):
    """What the extension does: no explicit client; close_proxy() at shutdown."""
    resolver = DictResolver({"alice-app": ("alice", upstream.url)})
    base = f"{jp_base_url}shared/"
    jp_serverapp.web_app.add_handlers(".*$", proxy_handlers(base, resolver))
    url = http_server_client.get_url(base) + "remoteapp/containers/alice-app/echo"
    assert (await echo(session, url))["method"] == "GET"
    settings = jp_serverapp.web_app.settings
    shared = settings["remoteapp_proxy_client"]
    await close_proxy(settings)
    assert shared._upstream is None and "remoteapp_proxy_client" not in settings
    assert (await echo(session, url))["method"] == "GET"  # a new client after a restart
    await close_proxy(settings)
