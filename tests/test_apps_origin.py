"""Apps on an origin of their own, personal mode: a real Jupyter server with the extension,
real containers (the hostile test app, which shows what reached it), tickets and the
apps-session cookie over real HTTP.

The test client connects to 127.0.0.1 and says which name it reached with the Host
header: ``localhost:P`` and ``127.0.0.1:P`` are the two loopback names (each the apps
origin of the other), ``lab.localhost:P`` a name with no apps origin (the same-origin
fallback; Jupyter is told it is a local name). Users come from fake_hub's tokens: bob
owns the containers, carol is another user, alice an admin.
"""

from __future__ import annotations

import re
import uuid
from urllib.parse import urlsplit

import pytest
from api_helpers import Api
from conftest import realm_containers, server_config
from fake_hub import FakeHubIdentityProvider
from hostile_app import build_hostile_image
from tornado.httpclient import HTTPClientError, HTTPRequest
from tornado.websocket import websocket_connect

from remoteapp_server.proxy.appsession import SESSION_COOKIE

TOKENS = {"bob": "bob-token", "carol": "carol-token", "alice": "alice-token"}
FALLBACK_NAME = "lab.localhost"


@pytest.fixture
def fallback() -> bool:
    return True


@pytest.fixture
def jp_server_config(tmp_path, fallback):
    config = server_config(
        tmp_path / "remoteapp.sqlite",
        identity_provider_class=FakeHubIdentityProvider,
        start_timeout=30,
        apps_same_origin_fallback=fallback,
    )
    config.ServerApp.local_hostnames = ["localhost", FALLBACK_NAME]
    return config


class Caller:
    """One user's calls, as if made from a Lab on ``host`` (the Host header)."""

    def __init__(self, client, base_url: str, port: int, token: str | None):
        self.client, self.base_url, self.port = client, base_url, port
        self.token = token

    def api(self, host: str = "localhost") -> Api:
        headers = {"Host": f"{host}:{self.port}"}
        if self.token:
            headers["Authorization"] = f"token {self.token}"
        return Api(self.client, self.base_url, headers)

    async def get(self, url: str, host: str, headers=None, **kwargs):
        """GET ``url`` (absolute or a path) as the browser would on ``host``."""
        parts = urlsplit(url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        return await self.client.fetch(
            path,
            headers={"Host": f"{host}:{self.port}", **(headers or {})},
            raise_error=False,
            follow_redirects=False,
            **kwargs,
        )


@pytest.fixture
def world(jp_serverapp, http_server_client, jp_base_url, jp_http_port, docker_client):
    """``await world()``: the callers and bob's and carol's running hostile apps (made in
    the test, on the server's event loop)."""
    image = build_hostile_image(docker_client)

    async def make():
        callers = {
            name: Caller(http_server_client, jp_base_url, jp_http_port, token)
            for name, token in TOKENS.items()
        }
        admin = callers["alice"].api()
        for name in ("bob", "carol@example.org"):
            assert (await admin.post("admin/users", {"name": name}))[0] == 201
        assert (await admin.post("admin/applications", {"image": image}))[0] == 201
        containers = {}
        for name, user in (("bob", "bob"), ("carol", "carol@example.org")):
            code, grant = await admin.post("admin/grants", {"image": image, "user": user})
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


async def ticket(caller: Caller, url_id: str, host: str = "localhost") -> tuple[int, dict]:
    return await caller.api(host).post(f"containers/{url_id}/ticket")


async def open_app(caller: Caller, url_id: str, lab: str = "localhost", apps: str = "127.0.0.1"):
    """Ticket from the Lab on ``lab``, redeemed on ``apps``: (the 302, its cookie pair)."""
    code, answer = await ticket(caller, url_id, lab)
    assert code == 200, answer
    redirect = await caller.get(answer["url"], apps)
    assert redirect.code == 302, (redirect.code, redirect.body)
    cookie = redirect.headers["Set-Cookie"].split(";")[0]
    return redirect, cookie


async def test_me_and_container_urls_name_the_apps_origin(world, jp_http_port, jp_base_url):
    callers, containers = await world()
    bob = callers["bob"]
    url_id = containers["bob"]["url_id"]
    path = f"{jp_base_url}remoteapp/containers/{url_id}/"
    for lab, apps in (("localhost", "127.0.0.1"), ("127.0.0.1", "localhost")):
        code, me = await bob.api(lab).get("me")
        assert code == 200
        assert (me["apps_origin"], me["apps_isolated"]) == (f"http://{apps}:{jp_http_port}", True)
        code, container = await bob.api(lab).get(f"containers/{url_id}")
        assert container["url"] == f"http://{apps}:{jp_http_port}{path}"
        code, listed = await bob.api(lab).get("containers")
        assert [c["url"] for c in listed] == [container["url"]]
    # a Lab reached by another name has no apps origin: the path on its own
    code, me = await bob.api(FALLBACK_NAME).get("me")
    assert (me["apps_origin"], me["apps_isolated"]) == (None, False)
    assert (await bob.api(FALLBACK_NAME).get(f"containers/{url_id}"))[1]["url"] == path


async def test_the_ticket_flow(world, jp_http_port, jp_base_url):
    callers, containers = await world()
    bob = callers["bob"]
    url_id = containers["bob"]["url_id"]
    code, answer = await ticket(bob, url_id)
    assert code == 200 and answer["expires_in"] == 30
    apps = f"http://127.0.0.1:{jp_http_port}"
    assert re.fullmatch(
        re.escape(f"{apps}{jp_base_url}remoteapp/apps-session?ticket=") + r"[\w.-]+", answer["url"]
    ), answer
    redirect = await bob.get(answer["url"], "127.0.0.1")
    path = f"{jp_base_url}remoteapp/containers/{url_id}/"
    assert redirect.code == 302 and redirect.headers["Location"] == path
    assert redirect.headers["Cache-Control"] == "no-store"
    assert redirect.headers["Referrer-Policy"] == "no-referrer"
    # the cookie: HttpOnly, scoped to this container, third-party framable (partitioned)
    (set_cookie,) = redirect.headers.get_list("Set-Cookie")
    pair, *attributes = set_cookie.split("; ")
    assert pair.startswith(f"{SESSION_COOKIE}=")
    assert attributes == [
        f"Path={path}",
        "Max-Age=43200",
        "HttpOnly",
        "SameSite=None",
        "Secure",
        "Partitioned",
    ]
    # the app with that cookie, framable by the Lab's origin only
    page = await bob.get(path, "127.0.0.1", {"Cookie": pair})
    assert page.code == 200 and b"hostile test app" in page.body
    lab = f"http://localhost:{jp_http_port}"
    assert page.headers.get_list("Content-Security-Policy") == [f"frame-ancestors {lab}"]
    # neither the apps session nor any Jupyter credential reaches the app
    echo = await bob.get(
        f"{path}echo.cgi",
        "127.0.0.1",
        {"Cookie": f"{pair}; _xsrf=abc; app=1", "X-XSRFToken": "abc"},
    )
    assert echo.code == 200
    assert echo.body.decode().splitlines()[:3] == ["cookie=app=1", "authorization=", "x-xsrftoken="]


async def test_a_ticket_is_single_use_and_expires(world, jp_serverapp):
    callers, containers = await world()
    bob = callers["bob"]
    url_id = containers["bob"]["url_id"]
    code, answer = await ticket(bob, url_id)
    assert (await bob.get(answer["url"], "127.0.0.1")).code == 302
    again = await bob.get(answer["url"], "127.0.0.1")
    assert again.code == 403 and b"used already" in again.body
    assert "Set-Cookie" not in again.headers
    # 31 s later (the server's clock moved on): expired
    code, late = await ticket(bob, url_id)
    sessions = jp_serverapp.web_app.settings["remoteapp_apps_sessions"]
    clock = sessions.clock
    sessions.clock = lambda: clock() + 31
    try:
        expired = await bob.get(late["url"], "127.0.0.1")
    finally:
        sessions.clock = clock
    assert expired.code == 403 and b"expired" in expired.body
    for junk in ("", "x", late["url"].split("ticket=")[1][:-4] + "AAAA"):
        refused = await bob.get(late["url"].split("?")[0] + f"?ticket={junk}", "127.0.0.1")
        assert refused.code == 403 and "Set-Cookie" not in refused.headers


async def test_a_session_opens_its_own_container_only(world, jp_base_url):
    callers, containers = await world()
    bob, carol = callers["bob"], callers["carol"]
    bobs, carols = containers["bob"]["url_id"], containers["carol"]["url_id"]
    _, carol_cookie = await open_app(carol, carols)
    # carol's cookie on bob's container (the wrong url_id): not a session for it
    page = await carol.get(
        f"{jp_base_url}remoteapp/containers/{bobs}/", "127.0.0.1", {"Cookie": carol_cookie}
    )
    assert page.code == 403 and b"hostile test app" not in page.body
    # a ticket for another user's container: 404, exactly like one that does not exist
    code, refused = await ticket(carol, bobs)
    unknown = uuid.uuid4().hex
    code2, twin = await ticket(carol, unknown)
    assert (code, code2) == (404, 404)
    assert refused["message"].replace(bobs, "?") == twin["message"].replace(unknown, "?")
    # bob's own session works; nobody's ticket without a token
    _, bob_cookie = await open_app(bob, bobs)
    page = await bob.get(
        f"{jp_base_url}remoteapp/containers/{bobs}/", "127.0.0.1", {"Cookie": bob_cookie}
    )
    assert page.code == 200
    nobody = Caller(bob.client, bob.base_url, bob.port, None)
    assert (await ticket(nobody, bobs))[0] == 403


async def test_an_admin_ticket_opens_a_users_app(world, jp_base_url):
    callers, containers = await world()
    alice = callers["alice"]
    bobs = containers["bob"]["url_id"]
    path = f"{jp_base_url}remoteapp/containers/{bobs}/"
    # as a Jupyter user the admin does not reach bob's app...
    assert (await alice.get(path, "127.0.0.1", {"Authorization": "token alice-token"})).code == 404
    # ...through a ticket from the admin sidebar she does
    redirect, cookie = await open_app(alice, bobs)
    page = await alice.get(path, "127.0.0.1", {"Cookie": cookie})
    assert page.code == 200 and b"hostile test app" in page.body


async def test_jupyter_credentials_alone_open_no_app_where_apps_are_isolated(
    world, jp_base_url, jp_http_port
):
    callers, containers = await world()
    bob = callers["bob"]
    bobs = containers["bob"]["url_id"]
    path = f"{jp_base_url}remoteapp/containers/{bobs}/"
    for host in ("localhost", "127.0.0.1"):
        # no credentials: refused, never the login page (no Jupyter login on an apps origin)
        for method in ("GET", "POST"):
            body = b"x" if method == "POST" else None
            answer = await bob.get(path, host, method=method, body=body)
            assert answer.code == 403, (host, method, answer.code)
            assert b"Open this app from JupyterLab" in answer.body
        # ?token= in the URL (a browser could be sent there) is no credential here
        assert (await bob.get(f"{path}?token=bob-token", host)).code == 403
        # a script's token header is; its answers are not to be framed
        scripted = await bob.get(path, host, {"Authorization": "token bob-token"})
        assert scripted.code == 200
        assert scripted.headers["Content-Security-Policy"] == "frame-ancestors 'none'"
    # a session for the apps origin 127.0.0.1 (Lab on localhost), shown to the Lab's own
    # origin: refused there
    _, cookie = await open_app(bob, bobs, lab="localhost", apps="127.0.0.1")
    assert (await bob.get(path, "127.0.0.1", {"Cookie": cookie})).code == 200
    assert (await bob.get(path, "localhost", {"Cookie": cookie})).code == 403
    # the apps-session endpoint redeems a ticket only on the apps origin of its Lab
    code, answer = await ticket(bob, bobs, "localhost")
    wrong = await bob.get(answer["url"], "localhost")
    assert wrong.code == 403 and "Set-Cookie" not in wrong.headers


async def test_websockets_need_the_session_too(world, jp_base_url, jp_http_port):
    callers, containers = await world()
    bob = callers["bob"]
    bobs = containers["bob"]["url_id"]
    _, cookie = await open_app(bob, bobs)
    url = f"ws://127.0.0.1:{jp_http_port}{jp_base_url}remoteapp/containers/{bobs}/x"
    for headers, expected in (
        ({}, 403),
        ({"Cookie": "remoteapp-apps-session=forged"}, 403),
        ({"Cookie": cookie, "Origin": "http://evil.localhost"}, 403),  # hijacking
        ({"Cookie": cookie, "Origin": f"http://127.0.0.1:{jp_http_port}"}, 404),  # the app's
    ):
        request = HTTPRequest(url, headers={"Host": f"127.0.0.1:{jp_http_port}", **headers})
        with pytest.raises(HTTPClientError) as refused:
            await websocket_connect(request)
        # 404: admitted, busybox httpd has no such page (no WebSocket either)
        assert refused.value.code == expected, headers


async def test_the_same_origin_fallback(world, jp_base_url, jp_http_port):
    callers, containers = await world()
    bob = callers["bob"]
    bobs = containers["bob"]["url_id"]
    path = f"{jp_base_url}remoteapp/containers/{bobs}/"
    code, answer = await ticket(bob, bobs, FALLBACK_NAME)
    assert code == 200 and answer["url"].startswith(f"{jp_base_url}remoteapp/apps-session?")
    redirect = await bob.get(answer["url"], FALLBACK_NAME)
    assert redirect.code == 302
    cookie = redirect.headers["Set-Cookie"].split(";")[0]
    page = await bob.get(path, FALLBACK_NAME, {"Cookie": cookie})
    lab = f"http://{FALLBACK_NAME}:{jp_http_port}"
    assert page.code == 200 and page.headers["Content-Security-Policy"] == f"frame-ancestors {lab}"
    # Jupyter's credentials, as on any Jupyter page of this origin
    page = await bob.get(path, FALLBACK_NAME, {"Authorization": "token bob-token"})
    assert page.code == 200 and page.headers["Content-Security-Policy"] == "frame-ancestors 'self'"
    # nothing: Jupyter's login page, as for any page of this origin
    login = await bob.get(path, FALLBACK_NAME)
    assert login.code == 302 and "/login?" in login.headers["Location"]


@pytest.mark.parametrize("fallback", [False])
async def test_no_fallback_refuses_apps_on_the_labs_origin(world, jp_base_url):
    callers, containers = await world()
    bob = callers["bob"]
    bobs = containers["bob"]["url_id"]
    path = f"{jp_base_url}remoteapp/containers/{bobs}/"
    code, refused = await ticket(bob, bobs, FALLBACK_NAME)
    assert code == 403 and "apps_same_origin_fallback" in refused["message"]
    page = await bob.get(path, FALLBACK_NAME, {"Authorization": "token bob-token"})
    assert page.code == 403 and b"hostile" not in page.body
    # the isolated names still work
    _, cookie = await open_app(bob, bobs)
    assert (await bob.get(path, "127.0.0.1", {"Cookie": cookie})).code == 200
    code, me = await bob.api(FALLBACK_NAME).get("me")
    assert (me["apps_origin"], me["apps_isolated"]) == (None, False)
