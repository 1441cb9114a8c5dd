"""Who may do what: every REST route and method, and the container proxy (HTTP and
WebSocket), for four callers — nobody (no or a forged token), another user, the owner and
an admin — against a real Jupyter server with real containers.

The cases are generated from the route table (``handlers/api.py`` ROUTES) and from the
handlers the extension really registers, so a new route or method without an expectation
here fails the suite. Every answer is checked against the OpenAPI description, every body
for other users' data (names, url ids, mapping ids, container names and ids), and every
refused change for "nothing changed".

Who is who (tokens of ``fake_hub``): the *owner* is bob, who owns the containers and
grants in the paths; *other* is carol@example.org, who has a container of her own; the
*admin* is alice (``custom:remoteapp:admin``), who owns nothing. As SECURITY.md and
DESIGN.md say: another user's container answers 404 exactly like a missing one, on the
API and on the proxy, for admins too (they list and stop containers through
``admin/containers``, they do not use them); admin routes answer 403 to non-admins;
unauthenticated API calls answer 403, never a redirect.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from urllib.parse import quote

import pytest
from api_helpers import ROUTES, Api, admin_state, assert_conforms, spec_path
from conftest import (
    NAMESPACE,
    VNCAPP,
    WEBAPP,
    realm_containers,
    rfb_server_init,
    server_config,
)
from fake_hub import FakeHubIdentityProvider
from tornado.httpclient import HTTPClientError, HTTPRequest
from tornado.web import RequestHandler

from remoteapp_server.proxy.personal import JupyterProxyHandler as ContainerProxyHandler

ROLES = ("unauth", "other", "owner", "admin")
TOKENS = {"other": "carol-token", "owner": "bob-token", "admin": "alice-token"}
#: the ways of being nobody: no credentials, a forged token, a forged ?token=
NOBODY = ({}, {"Authorization": "token forged-token"}, {"Authorization": "Bearer alice"})

VICTIM_IMAGE = "remoteapp-test/authz-victim:1"  # registered, never pulled, deleted by the admin
NEW_IMAGE = "remoteapp-test/authz-new:1"


def everyone(ok: int) -> dict[str, int]:
    return {"unauth": 403, "other": ok, "owner": ok, "admin": ok}


def owner_only(ok: int) -> dict[str, int]:
    return {"unauth": 403, "other": 404, "owner": ok, "admin": 404}


def admin_only(ok: int) -> dict[str, int]:
    return {"unauth": 403, "other": 403, "owner": 403, "admin": ok}


#: (OpenAPI path, method) → the status each caller gets. Add a line for every new route.
EXPECTED: dict[tuple[str, str], dict[str, int]] = {
    ("/me", "GET"): everyone(200),
    ("/applications", "GET"): everyone(200),
    ("/containers", "GET"): everyone(200),
    # the body names the owner's second grant: only the owner may start it
    ("/containers", "POST"): owner_only(201),
    ("/containers/{url_id}", "GET"): owner_only(200),
    ("/containers/{url_id}", "DELETE"): owner_only(204),
    ("/containers/{url_id}/logs", "GET"): owner_only(200),
    ("/admin/users", "GET"): admin_only(200),
    ("/admin/users", "POST"): admin_only(201),
    ("/admin/users/{name}", "DELETE"): admin_only(204),
    ("/admin/applications", "GET"): admin_only(200),
    ("/admin/applications", "POST"): admin_only(201),
    ("/admin/applications/{image}", "DELETE"): admin_only(204),
    ("/admin/grants", "GET"): admin_only(200),
    ("/admin/grants", "POST"): admin_only(201),
    ("/admin/grants/{mapping_id}", "DELETE"): admin_only(204),
    ("/admin/containers", "GET"): admin_only(200),
    ("/admin/containers/{url_id}", "DELETE"): admin_only(204),
    ("/admin/images", "GET"): admin_only(200),
    ("/admin/stats", "GET"): admin_only(200),
}

#: the container proxy: the owner reaches the app, nobody else learns that it exists.
#: Unauthenticated browser navigation (GET) goes to the login page, like Jupyter's pages.
#: The demo web app (busybox httpd) serves GET and answers 501 to other methods itself.
PROXY_EXPECTED: dict[str, dict[str, int]] = {
    "GET": {"unauth": 302, "other": 404, "owner": 200, "admin": 404},
    **{
        method: {"unauth": 403, "other": 404, "owner": 501, "admin": 404}
        for method in ("POST", "PUT", "PATCH", "DELETE", "OPTIONS")
    },
    "WEBSOCKET": {"unauth": 403, "other": 404, "owner": 101, "admin": 404},
}

#: methods a route does not implement: refused for everyone, authenticated or not
UNIMPLEMENTED = ("GET", "POST", "PUT", "PATCH", "DELETE")


def implemented(handler: type[RequestHandler]) -> list[str]:
    return [
        m.upper()
        for m in ("get", "post", "put", "patch", "delete")
        if getattr(handler, m) is not getattr(RequestHandler, m)
    ]


def route_methods() -> set[tuple[str, str]]:
    return {(spec_path(route), m) for route, handler in ROUTES for m in implemented(handler)}


def test_every_route_and_method_has_an_expectation():
    generated = route_methods()
    missing = sorted(generated - set(EXPECTED))
    assert not missing, f"routes without an authorization expectation: {missing}"
    stale = sorted(set(EXPECTED) - generated)
    assert not stale, f"expectations for routes that do not exist: {stale}"
    for expected in [*EXPECTED.values(), *PROXY_EXPECTED.values()]:
        assert set(expected) == set(ROLES)
        assert expected["unauth"] in (302, 403)  # never answered, never a success


@pytest.fixture
def jp_server_config(tmp_path):
    return server_config(
        tmp_path / "remoteapp.sqlite",
        identity_provider_class=FakeHubIdentityProvider,
        start_timeout=30,
    )


@pytest.fixture
def callers(jp_serverapp, http_server_client, jp_base_url, docker_client):
    def as_role(role: str) -> Api:
        headers = {"Authorization": f"token {TOKENS[role]}"} if role in TOKENS else {}
        return Api(http_server_client, jp_base_url, headers)

    yield {role: as_role(role) for role in ROLES}
    for container in realm_containers(docker_client):
        container.remove(force=True)


def test_the_extension_registers_only_routes_with_expectations(jp_serverapp):
    """Not only the API: whatever the extension serves is in the matrix (API or proxy)."""
    (extension,) = jp_serverapp.extension_manager.extension_apps["remoteapp_server"]
    api_classes = {handler for _, handler in ROUTES}
    served = [(rule[0], rule[1]) for rule in extension.handlers]
    assert served, "the extension registered no handlers"
    for pattern, handler in served:
        assert handler in api_classes or handler is ContainerProxyHandler, (
            f"{pattern} ({handler.__name__}) has no authorization expectation"
        )
    assert ContainerProxyHandler in {h for _, h in served}


# -- the world: real users, grants and containers ---------------------------------------------


@dataclass
class World:
    bob_web: dict  # bob's running web app (HTTP through the proxy)
    bob_vnc: dict  # bob's running VNC desktop (WebSocket through the proxy)
    carol_web: dict  # carol's running web app
    mappings: dict[str, str]  # name → mapping id
    secrets: dict[str, set[str]] = field(default_factory=dict)  # owner → what only they see

    def hidden_from(self, role: str, admin_route: bool = False) -> set[str]:
        """What the caller must never read (unless they sent it themselves): the admin
        reads everything on admin routes, and no one's containers or grants elsewhere."""
        if role == "admin":
            return set() if admin_route else self.secrets["bob"] | self.secrets["carol"]
        own = {"owner": "bob", "other": "carol", "unauth": None}[role]
        return set().union(*(s for who, s in self.secrets.items() if who != own))


async def build_world(callers: dict[str, Api], docker_client) -> World:
    admin, bob, carol = callers["admin"], callers["owner"], callers["other"]
    for name in ("bob", "carol@example.org", "dave", "erin"):
        assert (await admin.post("admin/users", {"name": name}))[0] == 201
    for image in (WEBAPP, VNCAPP, VICTIM_IMAGE):
        assert (await admin.post("admin/applications", {"image": image}))[0] == 201
    mappings = {}
    for key, image, user, policy in (
        ("bob_web", WEBAPP, "bob", {}),
        ("bob_vnc", VNCAPP, "bob", {}),
        ("bob_second", WEBAPP, "bob", {"allow_view": True}),  # started by the POST case
        ("carol_web", WEBAPP, "carol@example.org", {}),
        ("dave_web", WEBAPP, "dave", {}),  # revoked by the admin's DELETE case
    ):
        code, grant = await admin.post(
            "admin/grants", {"image": image, "user": user, "policy": policy}
        )
        assert code == 201, grant
        mappings[key] = grant["mapping_id"]
    started = {}
    for key, api in (("bob_web", bob), ("bob_vnc", bob), ("carol_web", carol)):
        code, container = await api.post("containers", {"mapping_id": mappings[key]})
        assert code == 201, container
        started[key] = container
    world = World(started["bob_web"], started["bob_vnc"], started["carol_web"], mappings)
    refresh_secrets(world, docker_client)
    return world


def refresh_secrets(world: World, docker_client) -> None:
    """Everything that identifies a user's containers and grants, as it may appear in text."""
    secrets: dict[str, set[str]] = {
        "bob": {'"bob"', "'bob'"},
        "carol": {"carol@example.org", "carol%40example.org"},
        "admin-only": {'"dave"', "'dave'", '"erin"', "'erin'", "authz-victim", "authz-new"},
    }
    for key, mapping_id in world.mappings.items():
        secrets["admin-only" if key.startswith("dave") else key.split("_")[0]].add(mapping_id)
    for container in realm_containers(docker_client):
        owner = container.labels[f"{NAMESPACE}runinfo.user"].split("@")[0]
        secrets[owner] |= {
            container.labels[f"{NAMESPACE}runinfo.url_id"],
            container.name,
            container.id,
            container.short_id,
        }
    world.secrets = secrets


snapshot = admin_state


def assert_no_leak(role: str, world: World, sent: str, body: bytes, what: str) -> None:
    text = body.decode("utf-8", "replace")
    hidden = world.hidden_from(role, admin_route="admin/" in what)
    leaked = sorted(s for s in hidden if s in text and s not in sent)
    assert not leaked, f"{what} as {role} shows another user's data {leaked}: {text[:300]}"


async def fetch(api: Api, method: str, path: str, body, headers=None):
    raw = None if body is None else json.dumps(body).encode()
    if raw is None and method in ("POST", "PUT", "PATCH"):
        raw = b""
    response = await api.client.fetch(
        api.url(path),
        method=method,
        body=raw,
        headers={**api.headers, **(headers or {})},
        raise_error=False,
        follow_redirects=False,
        allow_nonstandard_methods=True,
        request_timeout=60,
    )
    return response


# -- the REST API -----------------------------------------------------------------------------


def case_request(route: str, method: str, world: World) -> tuple[str, object]:
    """The concrete path and body of a (route, method) case in this world."""
    params = {
        "url_id": world.bob_web["url_id"],
        "name": "erin",
        "image": quote(VICTIM_IMAGE, safe=""),
        "mapping_id": world.mappings["dave_web"],
    }
    if route == "/admin/containers/{url_id}":
        params["url_id"] = world.carol_web["url_id"]  # the admin stops someone's container
    path = re.sub(r"\{(\w+)\}", lambda m: params[m[1]], route).lstrip("/")
    bodies = {
        ("/containers", "POST"): {"mapping_id": world.mappings["bob_second"]},
        ("/admin/users", "POST"): {"name": "frank"},
        ("/admin/applications", "POST"): {"image": NEW_IMAGE},
        ("/admin/grants", "POST"): {"image": VNCAPP, "user": "dave", "policy": {}},
    }
    return path, bodies.get((route, method))


def ordered_cases() -> list[tuple[str, str, str]]:
    """Refusals first (so they meet the objects they must not touch), successful deletions
    last (each removes its own object)."""
    cases = [(route, method, role) for (route, method) in EXPECTED for role in ROLES]

    def key(case):
        route, method, role = case
        ok = EXPECTED[route, method][role] < 300
        return (method == "DELETE" and ok, ok)

    return sorted(cases, key=key)


async def test_the_api_matrix(callers, docker_client):
    world = await build_world(callers, docker_client)
    admin = callers["admin"]
    before = await snapshot(admin)
    checked = 0
    for route, method, role in ordered_cases():
        expected = EXPECTED[route, method][role]
        path, body = case_request(route, method, world)
        sent = path + json.dumps(body)
        for extra in NOBODY if role == "unauth" else ({},):
            response = await fetch(callers[role], method, path, body, extra)
            what = f"{method} {path} {extra or ''}"
            assert response.code == expected, (what, role, response.code, response.body[:300])
            answer = assert_conforms(method, path, response)
            if response.code >= 400:
                assert answer["status"] == response.code and answer["message"], answer
            assert_no_leak(role, world, sent, response.body, what)
            checked += 1

        if expected == 404 and "{url_id}" in route:
            # another user's container answers exactly like one that never existed
            url_id, unknown = world.bob_web["url_id"], uuid.uuid4().hex
            twin = await fetch(callers[role], method, path.replace(url_id, unknown), body)
            assert twin.code == 404
            assert twin.body.replace(unknown.encode(), b"?") == response.body.replace(
                url_id.encode(), b"?"
            )

        after = await snapshot(admin)
        if expected >= 300 or method == "GET":
            assert after == before, f"{method} {path} as {role} changed the state"
        else:  # the change is there, and is all the admin sees changed from now on
            assert after != before, f"{method} {path} as {role} changed nothing"
            before = after
            refresh_secrets(world, docker_client)
    assert checked == sum(len(ROLES) + len(NOBODY) - 1 for _ in EXPECTED)


async def test_unimplemented_methods_are_refused_to_everyone(callers):
    """PUT on ``me``, GET on ``admin/users/<name>``...: never a success, never a leak."""
    checked = 0
    for route, handler in ROUTES:
        path = re.sub(r"\(\?P<(\w+)>[^)]*\)", r"\1", route)
        for method in set(UNIMPLEMENTED) - set(implemented(handler)):
            for role in ROLES:
                response = await fetch(callers[role], method, path, {} if method != "GET" else None)
                body = json.loads(response.body)
                assert body["status"] == response.code, (method, path, role)
                if role == "admin" or (role != "unauth" and not route.startswith("admin/")):
                    assert response.code == 405, (method, path, role, body)
                else:  # the permission is checked first (admin routes), or the login
                    assert response.code in (403, 405), (method, path, role, body)
                checked += 1
    assert checked > 4 * len(ROUTES)


# -- the container proxy --------------------------------------------------------------------


async def test_the_proxy_matrix(callers, docker_client, http_server_client, jp_http_port):
    world = await build_world(callers, docker_client)
    before = await snapshot(callers["admin"])
    web_url, vnc_url = world.bob_web["url"], world.bob_vnc["url"]
    unknown_url = web_url.replace(world.bob_web["url_id"], uuid.uuid4().hex)
    for method, expected in PROXY_EXPECTED.items():
        for role in ROLES:
            for extra in NOBODY if role == "unauth" else ({},):
                headers = {**callers[role].headers, **extra}
                what = f"proxy {method} {extra or ''}"
                if method == "WEBSOCKET":
                    code, body = await websocket(jp_http_port, vnc_url, headers)
                    sent = vnc_url
                else:
                    code, body, response = await proxied(
                        http_server_client, method, web_url, headers
                    )
                    sent = web_url
                assert code == expected[role], (what, role, code, body[:300])
                assert_no_leak(role, world, sent, body, what)
                if code == 302:  # to the login page, which comes back here after the login
                    location = response.headers["Location"]
                    assert location.split("?")[0].endswith("/login"), location
                    assert quote(web_url, safe="") in location and not body
                elif role == "owner" and method != "WEBSOCKET":
                    assert b"remoteapp demo web app" in body or b"501 Not Implemented" in body
                elif role == "owner":
                    assert body == b"RFB 003.008\n"
                else:  # the proxy's own JSON refusal, never the app
                    assert json.loads(body) == {"status": code, "message": ANY_TEXT}
                    assert b"demo web app" not in body
                if code == 404:  # exactly what a container that never existed answers
                    if method == "WEBSOCKET":
                        twin = await websocket(jp_http_port, unknown_url, headers)
                    else:
                        twin = (await proxied(http_server_client, method, unknown_url, headers))[:2]
                    url_id = (vnc_url if method == "WEBSOCKET" else web_url).split("/")[-2]
                    unknown = unknown_url.split("/")[-2]
                    assert twin == (404, body.replace(url_id.encode(), unknown.encode()))
    # nothing the others did reached bob's containers
    assert await snapshot(callers["admin"]) == before


class _AnyText:
    def __eq__(self, other):
        return isinstance(other, str) and bool(other)


ANY_TEXT = _AnyText()


async def proxied(client, method: str, url: str, headers: dict[str, str]):
    response = await client.fetch(
        url,
        method=method,
        headers=headers,
        body=b'{"x": 1}' if method in ("POST", "PUT", "PATCH") else None,
        raise_error=False,
        follow_redirects=False,
        allow_nonstandard_methods=True,
    )
    return response.code, response.body or b"", response


async def websocket(port: int, url: str, headers: dict[str, str]) -> tuple[int, bytes]:
    """(101, the RFB version line) when the desktop answered, or (status, body) of a refusal."""
    request = HTTPRequest(f"ws://127.0.0.1:{port}{url}websockify", headers=headers)
    try:
        version, _, _ = await rfb_server_init(request)
    except HTTPClientError as refused:
        return refused.code, refused.response.body if refused.response else b""
    return 101, version
