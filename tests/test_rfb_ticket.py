"""The Lab's own RFB client (noVNC in the Lab's page), personal mode: its WebSocket goes to
the apps origin with a one-time ticket (``POST containers/<url_id>/ticket`` with
``{"purpose": "websocket"}``), accepted on the upgrade only, from the Lab's origin only,
once. A real Jupyter server with the extension, the demo VNC container, RFB over real
WebSockets (the test client connects to 127.0.0.1 and names the loopback name it reached
in the Host header, as in test_apps_origin.py).
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from conftest import VNCAPP, realm_containers, rfb_server_init
from test_apps_origin import TOKENS, Caller, jp_server_config  # noqa: F401 (fixtures)
from tornado.httpclient import HTTPClientError, HTTPRequest

from remoteapp_server.proxy.headers import without_token_param


@pytest.fixture
def fallback() -> bool:
    return True


@pytest.fixture
def desktops(jp_serverapp, http_server_client, jp_base_url, jp_http_port, docker_client):
    """``await desktops()``: the callers, bob's and carol's running demo desktops."""

    async def make():
        callers = {
            name: Caller(http_server_client, jp_base_url, jp_http_port, token)
            for name, token in TOKENS.items()
        }
        admin = callers["alice"].api()
        for name in ("bob", "carol@example.org"):
            assert (await admin.post("admin/users", {"name": name}))[0] == 201
        assert (await admin.post("admin/applications", {"image": VNCAPP}))[0] == 201
        containers = {}
        for name, user in (("bob", "bob"), ("carol", "carol@example.org")):
            code, grant = await admin.post("admin/grants", {"image": VNCAPP, "user": user})
            assert code == 201, grant
            code, container = (
                await callers[name].api().post("containers", {"mapping_id": grant["mapping_id"]})
            )
            assert code == 201, container
            containers[name] = container
        return callers, containers

    yield make
    for container in realm_containers(docker_client):
        container.remove(force=True)


async def ws_ticket(caller: Caller, url_id: str, lab: str = "localhost") -> str:
    code, answer = await caller.api(lab).post(
        f"containers/{url_id}/ticket", {"purpose": "websocket"}
    )
    assert code == 200, answer
    assert set(answer) == {"websocket_url", "expires_in"} and answer["expires_in"] == 30
    return answer["websocket_url"]


def upgrade(url: str, origin: str | None) -> HTTPRequest:
    """The browser's upgrade request to ``url`` from a page of ``origin``."""
    parts = urlsplit(url)
    headers = {"Host": parts.netloc}
    if origin is not None:
        headers["Origin"] = origin
    port = parts.port
    target = f"ws://127.0.0.1:{port}{parts.path}" + (f"?{parts.query}" if parts.query else "")
    return HTTPRequest(target, headers=headers)


async def refused(request: HTTPRequest) -> int:
    with pytest.raises(HTTPClientError) as error:
        await rfb_server_init(request)
    return error.value.code


async def test_the_labs_rfb_client_connects_with_a_ticket(desktops, jp_http_port, jp_base_url):
    callers, containers = await desktops()
    bob = callers["bob"]
    url_id = containers["bob"]["url_id"]
    lab = f"http://localhost:{jp_http_port}"
    url = await ws_ticket(bob, url_id)
    # on the apps origin, under the app's path
    path = f"{jp_base_url}remoteapp/containers/{url_id}/websockify"
    assert re.fullmatch(
        re.escape(f"ws://127.0.0.1:{jp_http_port}{path}?remoteapp-ticket=") + r"[\w.-]+", url
    ), url
    version, width, height = await rfb_server_init(upgrade(url, lab))
    assert version == b"RFB 003.008\n" and width > 0 and height > 0
    # single use
    assert await refused(upgrade(url, lab)) == 403
    # the other direction: a Lab on 127.0.0.1 has its apps on localhost
    url = await ws_ticket(bob, url_id, lab="127.0.0.1")
    assert url.startswith(f"ws://localhost:{jp_http_port}{path}?")
    version, _, _ = await rfb_server_init(upgrade(url, f"http://127.0.0.1:{jp_http_port}"))
    assert version == b"RFB 003.008\n"


async def test_websocket_tickets_are_refused_otherwise(desktops, jp_http_port, jp_base_url):
    callers, containers = await desktops()
    bob, carol = callers["bob"], callers["carol"]
    bobs, carols = containers["bob"]["url_id"], containers["carol"]["url_id"]
    lab = f"http://localhost:{jp_http_port}"
    apps = f"http://127.0.0.1:{jp_http_port}"
    plain = f"ws://127.0.0.1:{jp_http_port}{jp_base_url}remoteapp/containers/{bobs}/websockify"
    # without a ticket (and no cookie, no token): nothing
    assert await refused(upgrade(plain, lab)) == 403
    # a forged ticket
    assert await refused(upgrade(f"{plain}?remoteapp-ticket=forged.x", lab)) == 403
    # from a foreign page, from the apps origin's own pages (an app's script), without an
    # Origin: refused, and the ticket is spent by that attempt
    for origin in ("http://evil.localhost", apps, None):
        url = await ws_ticket(bob, bobs)
        assert await refused(upgrade(url, origin)) == 403, origin
        assert await refused(upgrade(url, lab)) == 403, origin
    # on the Lab's own origin (not where its apps are served)
    url = await ws_ticket(bob, bobs)
    on_lab = url.replace("ws://127.0.0.1:", "ws://localhost:")
    assert await refused(upgrade(on_lab, lab)) == 403
    # bound to the container: bob's ticket does not open carol's desktop
    url = await ws_ticket(bob, bobs)
    assert await refused(upgrade(url.replace(bobs, carols), lab)) == 403
    # and carol gets no ticket for bob's desktop (the 404 of a missing container)
    code, _ = await carol.api().post(f"containers/{bobs}/ticket", {"purpose": "websocket"})
    assert code == 404
    # a frame ticket opens no WebSocket, a WebSocket ticket no frame session
    code, frame = await bob.api().post(f"containers/{bobs}/ticket")
    assert code == 200 and "websocket_url" not in frame
    frame_ticket = frame["url"].split("ticket=", 1)[1]
    assert await refused(upgrade(f"{plain}?remoteapp-ticket={frame_ticket}", lab)) == 403
    url = await ws_ticket(bob, bobs)
    ws_ticket_value = url.split("remoteapp-ticket=", 1)[1]
    session_url = f"{jp_base_url}remoteapp/apps-session?ticket={ws_ticket_value}"
    answer = await bob.get(session_url, "127.0.0.1")
    assert answer.code == 403 and "Set-Cookie" not in answer.headers
    # plain HTTP is not admitted by a WebSocket ticket
    url = await ws_ticket(bob, bobs)
    page = await bob.get(url.replace("ws://", "http://"), "127.0.0.1", {"Origin": lab})
    assert page.code == 403
    # an unknown purpose
    code, answer = await bob.api().post(f"containers/{bobs}/ticket", {"purpose": "other"})
    assert code == 400


def test_the_ticket_parameter_never_reaches_the_container():
    assert without_token_param("/c/x/websockify?remoteapp-ticket=T") == "/c/x/websockify"
    assert without_token_param("/w?a=1&remoteapp-ticket=T&b=2") == "/w?a=1&b=2"
    assert without_token_param("/w?remoteapp%2Dticket=T&b=2") == "/w?b=2"
