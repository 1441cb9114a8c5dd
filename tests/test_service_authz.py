"""The JupyterHub service's container proxy, as an authorization matrix: nobody (no, a
forged, or a scope-less token), another user, the owner and an admin, for every method and
the WebSocket, against the service's real web app (``RemoteAppService.make_app``), real
containers and a stand-in for the Hub's REST API (``GET /hub/api/user`` for a token, the
activity API). tests/test_hub.py runs the same with a real JupyterHub.

The service's rule (unlike the extension's, where only the owner reaches an app): one URL
per app for its owner and the admins (``custom:remoteapp:admin``), 404 for everyone else
exactly as for a container that never existed, 403 without valid credentials, and an
unauthenticated browser navigation (GET) sent to the Hub's OAuth login.
"""

from __future__ import annotations

import asyncio
import json
import socket
import uuid

import pytest
import pytest_asyncio
from conftest import REALM, VNCAPP, WEBAPP, realm_containers, rfb_server_init
from tornado import httpserver, web
from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest

from remoteapp_server.core.accounting import Policy, open_accounting
from remoteapp_server.hub.service import RemoteAppService

pytestmark = [pytest.mark.docker]

ACCESS = "access:services!service=remoteapp"
ADMIN = "custom:remoteapp:admin"
PREFIX = "/services/remoteapp/"
HUB_USERS = {
    "bob-token": {"kind": "user", "name": "bob", "groups": [], "scopes": [ACCESS]},
    "carol-token": {"kind": "user", "name": "carol", "groups": [], "scopes": [ACCESS]},
    "alice-token": {"kind": "user", "name": "alice", "groups": [], "scopes": [ACCESS, ADMIN]},
    # a valid token without the service's access scope
    "dave-token": {"kind": "user", "name": "dave", "groups": [], "scopes": ["read:users"]},
}
TOKENS = {"other": "carol-token", "owner": "bob-token", "admin": "alice-token"}
NOBODY = ({}, {"Authorization": "token forged"}, {"Authorization": "token dave-token"})
ROLES = ("unauth", "other", "owner", "admin")
METHODS = ("POST", "PUT", "PATCH", "DELETE", "OPTIONS")

#: the demo web app (busybox httpd) answers 501 to methods other than GET itself
EXPECTED: dict[str, dict[str, int]] = {
    "GET": {"unauth": 302, "other": 404, "owner": 200, "admin": 200},
    **{m: {"unauth": 403, "other": 404, "owner": 501, "admin": 501} for m in METHODS},
    "WEBSOCKET": {"unauth": 403, "other": 404, "owner": 101, "admin": 101},
}


class FakeHubUser(web.RequestHandler):
    """``GET /hub/api/user``: the model of the token in the Authorization header."""

    def get(self) -> None:
        token = self.request.headers.get("Authorization", "").partition(" ")[2]
        model = HUB_USERS.get(token)
        if model is None:
            raise web.HTTPError(403)
        self.write(model)


class FakeActivity(web.RequestHandler):
    def post(self, name: str) -> None:
        token = self.request.headers.get("Authorization", "").partition(" ")[2]
        assert token == "the-service-token"  # the service's own token, never a user's
        self.settings["activity"].append((name, json.loads(self.request.body)))
        self.set_status(200)


def _listen(app: web.Application) -> tuple[httpserver.HTTPServer, int]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    sock.setblocking(False)
    server = httpserver.HTTPServer(app)
    server.add_socket(sock)
    return server, sock.getsockname()[1]


@pytest_asyncio.fixture
async def service(tmp_path, monkeypatch, docker_client):
    activity: list = []
    hub_app = web.Application(
        [("/hub/api/user", FakeHubUser), ("/hub/api/users/([^/]+)/activity", FakeActivity)],
        activity=activity,
    )
    hub_server, hub_port = _listen(hub_app)
    accounting_url = str(tmp_path / "remoteapp.sqlite")
    accounting = open_accounting(accounting_url)
    grants = {}
    for image in (WEBAPP, VNCAPP):
        accounting.create_application(image)
    for name in ("bob", "carol"):
        accounting.create_user(name)
        grants[name] = {
            image: accounting.grant(image, Policy(), user=name).mapping_id
            for image in (WEBAPP, VNCAPP)
        }
    accounting.close()
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", "the-service-token")
    monkeypatch.setenv("JUPYTERHUB_API_URL", f"http://127.0.0.1:{hub_port}/hub/api")
    monkeypatch.setenv("JUPYTERHUB_CLIENT_ID", "service-remoteapp")
    monkeypatch.setenv("JUPYTERHUB_SERVICE_PREFIX", PREFIX)
    app = RemoteAppService()
    app.initialize(
        [
            f"--RemoteApp.accounting_url={accounting_url}",
            f"--RemoteApp.realm={REALM}",
            "--RemoteApp.stop_timeout=1",
            "--RemoteAppService.activity_interval=0",
        ]
    )
    server, port = _listen(app.make_app())
    app.url = f"http://127.0.0.1:{port}"
    app.port = port
    app.grants = grants
    app.hub_activity = activity
    yield app
    server.stop()
    hub_server.stop()
    await app.proxy_client.close()
    await app.activity.close()
    app.remoteapps.close()
    for container in realm_containers(docker_client):
        container.remove(force=True)


async def call(service, method: str, path: str, token: str | None = None, body=None, **kw):
    headers = dict(kw.pop("headers", {}))
    if token:
        headers["Authorization"] = f"token {token}"
    response = await AsyncHTTPClient().fetch(
        path if path.startswith("http") else service.url + path,
        method=method,
        headers=headers,
        body=body,
        raise_error=False,
        follow_redirects=False,
        allow_nonstandard_methods=True,
        request_timeout=90,
        **kw,
    )
    return response


async def start(service, user: str, image: str) -> dict:
    answer = await call(
        service,
        "POST",
        f"{PREFIX}api/containers",
        f"{user}-token",
        json.dumps({"mapping_id": service.grants[user][image]}),
    )
    assert answer.code == 201, answer.body
    return json.loads(answer.body)


async def websocket(url: str, headers: dict[str, str]) -> tuple[int, bytes]:
    request = HTTPRequest(url.replace("http://", "ws://") + "websockify", headers=headers)
    try:
        version, _, _ = await rfb_server_init(request)
    except HTTPClientError as refused:
        return refused.code, refused.response.body if refused.response else b""
    return 101, version


@pytest.mark.asyncio
async def test_the_service_proxy_matrix(service):
    web_app = await start(service, "bob", WEBAPP)
    vnc_app = await start(service, "bob", VNCAPP)
    # one URL per app, served by the service (no apps origin here: a path)
    assert web_app["url"] == f"{PREFIX}containers/{web_app['url_id']}/"
    web_url, vnc_url = service.url + web_app["url"], service.url + vnc_app["url"]
    unknown = uuid.uuid4().hex
    for method, expected in EXPECTED.items():
        for role in ROLES:
            for nobody in NOBODY if role == "unauth" else ({},):
                headers = dict(nobody)
                if role != "unauth":
                    headers["Authorization"] = f"token {TOKENS[role]}"
                what = (method, role, nobody)
                if method == "WEBSOCKET":
                    code, body = await websocket(vnc_url, headers)
                    url_id, url = vnc_app["url_id"], vnc_url
                else:
                    payload = b'{"x": 1}' if method in ("POST", "PUT", "PATCH") else None
                    answer = await call(service, method, web_url, body=payload, headers=headers)
                    code, body = answer.code, answer.body or b""
                    url_id, url = web_app["url_id"], web_url
                if nobody == {"Authorization": "token dave-token"}:
                    # valid, but without the service's scope: refused, never redirected
                    assert code == 403, what
                    assert b"lacks the scope" in body, (what, body)
                    continue
                assert code == expected[role], (what, code, body[:300])
                if code == 302:  # the Hub's OAuth login, coming back to this URL
                    location = answer.headers["Location"]
                    assert "/hub/api/oauth2/authorize?" in location, location
                    assert "state=" in location and "code_challenge=" in location
                elif code in (200, 501):
                    assert b"demo web app" in body or b"501 Not Implemented" in body
                elif code == 101:
                    assert body == b"RFB 003.008\n"
                else:  # the proxy's own JSON refusal, never the app
                    assert json.loads(body)["status"] == code
                    assert b"demo web app" not in body
                if code == 404:  # exactly what a container that never existed answers
                    twin_url = url.replace(url_id, unknown)
                    if method == "WEBSOCKET":
                        twin = await websocket(twin_url, headers)
                    else:
                        response = await call(service, method, twin_url, headers=headers)
                        twin = (response.code, response.body)
                    assert twin == (404, body.replace(url_id.encode(), unknown.encode()))


@pytest.mark.asyncio
async def test_traffic_is_posted_as_the_owners_activity(service):
    app = await start(service, "bob", WEBAPP)
    url = service.url + app["url"]
    assert (await call(service, "GET", url, "bob-token")).code == 200
    assert (await call(service, "GET", url, "alice-token")).code == 200  # an admin
    assert (await call(service, "GET", url, "carol-token")).code == 404
    for _ in range(50):
        if len(service.hub_activity) >= 2:
            break
        await asyncio.sleep(0.1)
    names = [name for name, _ in service.hub_activity]
    assert names and set(names) == {"bob"}, service.hub_activity  # the owner's, always
    name, body = service.hub_activity[0]
    assert set(body) == {"last_activity", "servers"}
    assert set(body["servers"]) == {""}


@pytest.mark.asyncio
async def test_the_service_serves_only_routes_known_here(service):
    """API routes are in test_authz_matrix's table; the rest is listed here."""
    from remoteapp_server.handlers.api import API_ROUTES

    web_app = service.make_app()
    patterns = {rule.matcher.regex.pattern for rule in web_app.default_router.rules[0].target.rules}
    api = {f"{PREFIX}api/{path}/?$" for path, _ in API_ROUTES}
    others = {
        f"{PREFIX}$",
        f"{PREFIX}oauth_callback$",
        f"{PREFIX}apps-session$",
        f"{PREFIX}containers/(?P<url_id>[^/]+)(?P<path>/.*)?$",
    }
    assert patterns == api | others, patterns ^ (api | others)
