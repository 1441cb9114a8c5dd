"""The proxy's seam (remoteapp_server/proxy/handler.py) on a plain tornado application, no
Jupyter and no Hub: what the JupyterHub service's handler builds on. A subclass decides in
``admit()``; the base relays HTTP and WebSockets, records activity, forgets stale targets.
"""

from __future__ import annotations

import socket

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web as aioweb
from tornado import httpserver, web

from remoteapp_server.proxy import (
    Admission,
    ContainerProxyHandler,
    ProxyClient,
    Redirect,
    no_container,
    proxy_route,
)
from remoteapp_server.proxy import handler as proxy_module


class State:
    def __init__(self) -> None:
        self.targets: dict[str, str] = {}  # url_id -> target
        self.activity: list[tuple[str, str]] = []
        self.forgotten: list[str] = []


class TokenProxy(ContainerProxyHandler):
    """Admits ``X-Token: <user>`` for containers named ``<user>-...``."""

    def initialize(self, state: State, **options) -> None:
        self.state = state
        super().initialize(**options)

    async def admit(self, url_id: str, *, websocket: bool) -> Admission:
        user = self.request.headers.get("X-Token")
        if user is None:
            raise Redirect("/login?next=x")
        target = self.state.targets.get(url_id)
        if target is None or not url_id.startswith(f"{user}-"):
            raise no_container(url_id)
        return Admission(target, url_id, owner=url_id.split("-")[0], user=user)

    def forget(self, url_id: str) -> None:
        self.state.forgotten.append(url_id)

    def on_activity(self, admission: Admission) -> None:
        self.state.activity.append((admission.owner, admission.url_id))

    def credential_cookies(self):
        return (*super().credential_cookies(), "my-service-cookie")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest_asyncio.fixture
async def world():
    async def echo(request: aioweb.Request) -> aioweb.StreamResponse:
        if request.path.endswith("/ws"):
            ws = aioweb.WebSocketResponse()
            await ws.prepare(request)
            async for message in ws:
                await ws.send_str(message.data)
            return ws
        return aioweb.json_response(
            {"path": request.raw_path, "cookie": request.headers.get("Cookie")}
        )

    app = aioweb.Application()
    app.router.add_route("*", "/{tail:.*}", echo)
    runner = aioweb.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await aioweb.TCPSite(runner, "127.0.0.1", port).start()
    state = State()
    state.targets = {
        "alice-app": f"http://127.0.0.1:{port}",
        "alice-down": f"http://127.0.0.1:{free_port()}",
    }
    client = ProxyClient(connect_timeout=1.0)
    application = web.Application(
        [
            proxy_route(
                "/services/remoteapp/",
                TokenProxy,
                state=state,
                client=client,
                frame_ancestors="https://lab.example",
            )
        ]
    )
    server = httpserver.HTTPServer(application)
    proxy_port = free_port()
    server.listen(proxy_port, "127.0.0.1")
    async with aiohttp.ClientSession() as session:
        yield f"http://127.0.0.1:{proxy_port}/services/remoteapp/containers/", state, session
    server.stop()
    await client.close()
    await runner.cleanup()


@pytest.mark.asyncio
async def test_http_through_a_plain_tornado_app(world, monkeypatch):
    base, state, session = world
    alice = {"X-Token": "alice", "Cookie": "my-service-cookie=s; _xsrf=x; kept=1"}
    async with session.get(base + "alice-app/page?token=t&q=1", headers=alice) as response:
        assert response.status == 200
        assert response.headers["Content-Security-Policy"] == "frame-ancestors https://lab.example"
        assert await response.json() == {
            "path": "/services/remoteapp/containers/alice-app/page?q=1",
            "cookie": "kept=1",
        }
    assert state.activity == [("alice", "alice-app")]
    async with session.get(base + "alice-app/x", headers={"X-Token": "bob"}) as response:
        assert response.status == 404
        assert await response.json() == {"status": 404, "message": "No container alice-app."}
    async with session.get(base + "alice-app/x", allow_redirects=False) as response:
        assert (response.status, response.headers["Location"]) == (302, "/login?next=x")
    async with session.get(base + "alice-app", headers=alice, allow_redirects=False) as response:
        assert response.headers["Location"] == "/services/remoteapp/containers/alice-app/"


@pytest.mark.asyncio
async def test_websocket_through_a_plain_tornado_app(world, monkeypatch):
    base, state, session = world
    monkeypatch.setattr(proxy_module, "ACTIVITY_INTERVAL", 0.0)
    url = base.replace("http://", "ws://") + "alice-app/ws"
    async with session.ws_connect(url, headers={"X-Token": "alice"}) as ws:
        await ws.send_str("hello")
        assert (await ws.receive(timeout=5)).data == "hello"
    assert len(state.activity) >= 2  # the upgrade, then the traffic
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await session.ws_connect(url)  # a Redirect is a 403 for a WebSocket
    assert refused.value.status == 403
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await session.ws_connect(url, headers={"X-Token": "alice"}, origin="https://evil.example")
    assert refused.value.status == 403


@pytest.mark.asyncio
async def test_an_unreachable_target_is_forgotten_and_502_or_404_once_gone(world):
    base, state, session = world
    alice = {"X-Token": "alice"}
    async with session.get(base + "alice-down/x", headers=alice) as response:
        assert response.status == 502
    assert state.forgotten == ["alice-down"]
    # gone by the time the proxy asks again (admit() says 404): the answer is that 404

    class Vanishing(dict):
        def get(self, key, default=None):
            value = super().get(key, default)
            if key == "alice-down":  # stopped right after the first look
                self.pop(key, None)
            return value

    state.targets = Vanishing(state.targets)
    async with session.get(base + "alice-down/x", headers=alice) as response:
        assert response.status == 404
