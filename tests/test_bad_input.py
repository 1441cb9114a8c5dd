"""Bad input against a real Jupyter server, real SQLite accounting and real containers.

Whatever a client sends — broken JSON, oversized or endless bodies, unknown fields, wrong
types, invalid volumes and resolutions, traversing or encoded ids and proxy paths, odd
user names, hostile image labels — the answer is a clear 4xx ``{"status", "message"}``
(or, for odd but valid text, the text kept as data) and nothing changes: the admin's view
of users, applications, grants and containers is compared before and after.
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest
from api_helpers import ROUTES, Api, admin_state, assert_conforms, spec_path
from conftest import NAMESPACE, VNCAPP, WEBAPP, realm_containers, server_config
from fake_hub import HUB_USERS, FakeHubIdentityProvider
from tornado.web import RequestHandler

from remoteapp_server.core.accounting import open_accounting
from remoteapp_server.handlers.base import MAX_JSON_BODY

REPO = Path(__file__).resolve().parent.parent
MALLORY = HUB_USERS["mallory-token"]["name"]


@pytest.fixture
def jp_server_config(tmp_path):
    return server_config(
        tmp_path / "remoteapp.sqlite",
        identity_provider_class=FakeHubIdentityProvider,
        start_timeout=30,
    )


@pytest.fixture
def users(jp_serverapp, http_server_client, jp_base_url, docker_client):
    def as_user(token: str) -> Api:
        return Api(http_server_client, jp_base_url, {"Authorization": f"token {token}"})

    yield {name: as_user(f"{name}-token") for name in ("alice", "bob", "carol", "mallory")}
    for container in realm_containers(docker_client):
        container.remove(force=True)


async def grant(admin: Api, image: str, user: str, **policy) -> str:
    for path, body in (("admin/users", {"name": user}), ("admin/applications", {"image": image})):
        code, answer = await admin.post(path, body)
        assert code in (201, 409), answer
    body = {"image": image, "user": user, "policy": policy}
    code, answer = await admin.post("admin/grants", body)
    assert code == 201, answer
    return answer["mapping_id"]


def assert_error(code: int, answer, status: int, fragment: str, what="") -> None:
    assert (code, answer["status"]) == (status, status), (what, answer)
    assert fragment in answer["message"], (what, fragment, answer["message"])


# -- bodies -----------------------------------------------------------------------------------

#: a valid body of every POST route (the test adds the user, image and grant they name)
VALID_BODIES = {
    "/containers": lambda world: {"mapping_id": world["web"]},
    "/admin/users": lambda world: {"name": "newbie"},
    "/admin/applications": lambda world: {"image": "remoteapp-test/bad-input-new:1"},
    "/admin/grants": lambda world: {"image": WEBAPP, "user": "bob", "policy": {"allow_view": True}},
}

#: (raw body, or a function of the valid body) → (status, part of the message)
MALFORMED = [
    (b"{not json", 400, "not valid JSON"),
    (b"[1, 2]", 400, "must be a JSON object"),
    (b'"text"', 400, "must be a JSON object"),
    (b"null", 400, "must be a JSON object"),
    (b"", 400, "must be a JSON object"),
    (b"\xff\xfe\x00{", 400, "not valid JSON"),
    (b"[" * 20_000 + b"]" * 20_000, 400, "nested too deeply"),
    (lambda valid: json.dumps(valid).encode() + b" trailing", 400, "not valid JSON"),
    (lambda valid: json.dumps({**valid, "unexpected": 1}).encode(), 400, "unknown field(s)"),
    (lambda valid: b" " * MAX_JSON_BODY + json.dumps(valid).encode(), 413, "larger than"),
]


#: POST routes that take no body
BODYLESS = {"/containers/{url_id}/ticket"}


def test_every_post_route_has_a_valid_body_here():
    posts = {spec_path(r) for r, handler in ROUTES if handler.post is not RequestHandler.post}
    assert posts - BODYLESS == set(VALID_BODIES), "add the valid body of the new POST route"


async def test_a_bodyless_post_refuses_any_body(users):
    alice, bob = users["alice"], users["bob"]
    code, container = await bob.post(
        "containers", {"mapping_id": await grant(alice, WEBAPP, "bob")}
    )
    path = f"containers/{container['url_id']}/ticket"
    # the body is optional, and only {"purpose": "frame" | "websocket"}
    for raw, fragment in (
        (b"x", "not valid JSON"),
        (b"null", "must be a JSON object"),
        (b'{"purpose": "other"}', "purpose must be"),
        (b'{"url_id": "x"}', "unknown field"),
    ):
        assert_error(*await bob.post(path, raw=raw), 400, fragment, raw)
    assert_error(*await bob.post(path, raw=b" " * (MAX_JSON_BODY + 1)), 413, "larger than")
    code, ticket = await bob.post(path)
    assert code == 200 and ticket["expires_in"] == 30


async def test_malformed_bodies_on_every_post_route(users):
    alice, bob = users["alice"], users["bob"]
    world = {"web": await grant(alice, WEBAPP, "bob")}
    before = await admin_state(alice)
    for route, valid_body in VALID_BODIES.items():
        api = bob if route == "/containers" else alice
        path, valid = route.lstrip("/"), valid_body(world)
        for raw, status, fragment in MALFORMED:
            raw = raw(valid) if callable(raw) else raw
            code, answer = await api.post(path, raw=raw)
            assert_error(code, answer, status, fragment, (path, raw[:40]))
            assert await admin_state(alice) == before, (path, raw[:40])

        # the same size without a Content-Length (chunked): refused as well
        async def endless(write, valid=valid):
            for _ in range(MAX_JSON_BODY // 1024 + 1):
                await write(b" " * 1024)
            await write(json.dumps(valid).encode())

        response = await api.client.fetch(
            api.url(path),
            method="POST",
            body_producer=endless,
            headers=api.headers,
            raise_error=False,
        )
        assert "Content-Length" not in response.request.headers
        code, answer = response.code, assert_conforms("POST", path, response)
        assert_error(code, answer, 413, "larger than", path)
        assert await admin_state(alice) == before
        # and the valid body is accepted: only the flaw made the difference
        code, answer = await api.post(path, valid)
        assert code == 201, answer
        before = await admin_state(alice)


# -- fields -----------------------------------------------------------------------------------

BAD_USER_NAMES = [5, None, [], {}, True, "", "   ", "a\nb", "a\x00b", "\x1b[31mred", "x" * 256]
BAD_IMAGES = [5, None, "", "Not An Image", "../../etc/passwd", "a;rm -rf /", "$(id)", "<b>x</b>"]
BAD_VOLUMES = [
    ("/a:/b", "invalid volume"),
    ("a:/b:ro", "absolute"),
    ("/a:b:ro", "absolute"),
    ("/a:/b:rx", "'ro' or 'rw'"),
    ("/a:/b:RO", "'ro' or 'rw'"),
    ("/a:/b:ro:x", "invalid volume"),
    (":::", "invalid volume"),
    ("/a\x00:/b:ro", "absolute"),
    ("/a:/b/../c:ro", "'..'"),
    ("/tmp/../etc:/mnt:ro", "'..'"),
    ("/tmp:/:ro", "not allowed"),
    ("/tmp://:ro", "not allowed"),
    ("/tmp:/proc/x:ro", "not allowed"),
    ("/tmp:/dev:rw", "not allowed"),
    (5, "must be text"),
]


async def test_wrong_types_and_values_change_nothing(users):
    alice, bob = users["alice"], users["bob"]
    web = await grant(alice, WEBAPP, "bob")
    cases: list[tuple[Api, str, object, int, str]] = []
    cases += [(alice, "admin/users", {"name": n}, 400, "name") for n in BAD_USER_NAMES]
    cases += [(alice, "admin/users", {"name": "\ud800"}, 400, "invalid")]
    cases += [(alice, "admin/applications", {"image": i}, 400, "image") for i in BAD_IMAGES]
    cases += [
        (alice, "admin/applications", {"image": "x" * 600}, 400, "invalid docker image"),
        (alice, "admin/applications", {"image": WEBAPP, "verify": "yes"}, 400, "true or false"),
    ]
    grants = [
        ({"image": WEBAPP}, 400, "exactly one"),
        ({"image": WEBAPP, "user": "bob", "group": "g"}, 400, "exactly one"),
        ({"image": WEBAPP, "user": 5}, 400, "user"),
        ({"image": WEBAPP, "group": ""}, 400, "invalid group name"),
        ({"image": 5, "user": "bob"}, 400, "invalid docker image"),
        ({"image": "remoteapp-test/not-registered:1", "user": "bob"}, 404, "does not exist"),
        ({"image": WEBAPP, "user": "ghost"}, 404, "does not exist"),
        ({"image": WEBAPP, "user": "bob", "policy": []}, 400, "must be an object"),
        ({"image": WEBAPP, "user": "bob", "policy": {"allow_home": "yes"}}, 400, "true or false"),
        ({"image": WEBAPP, "user": "bob", "policy": {"allow_home": 1}}, 400, "true or false"),
        ({"image": WEBAPP, "user": "bob", "policy": {"root": True}}, 400, "unknown policy"),
        ({"image": WEBAPP, "user": "bob", "policy": {"app_license": 5}}, 400, "must be text"),
        (
            {"image": WEBAPP, "user": "bob", "policy": {"app_license": "x" * 1025}},
            400,
            "longer than",
        ),
        (
            {"image": WEBAPP, "user": "bob", "policy": {"volume_source": "/tmp"}},
            400,
            "needs a source, a target and a mode",
        ),
        (  # the volume twice, in both forms
            {
                "image": WEBAPP,
                "user": "bob",
                "policy": {"volume": "/tmp:/mnt:ro", "volume_mode": "rw"},
            },
            400,
            "volume_mode",
        ),
        (
            {
                "image": WEBAPP,
                "user": "bob",
                "policy": {"volume_source": "/tmp", "volume_target": "/", "volume_mode": "ro"},
            },
            400,
            "not allowed",
        ),
    ]
    grants += [
        ({"image": WEBAPP, "user": "bob", "policy": {"volume": v}}, 400, m) for v, m in BAD_VOLUMES
    ]
    cases += [(alice, "admin/grants", body, status, m) for body, status, m in grants]
    cases += [
        (bob, "containers", {"mapping_id": m}, 400, "mapping_id") for m in (5, None, [], {}, "")
    ]
    cases += [
        (bob, "containers", {"mapping_id": "../x"}, 404, "no application"),
        (bob, "containers", {"mapping_id": web, "configurables": []}, 400, "must be an object"),
        (bob, "containers", {"mapping_id": web, "configurables": "x"}, 400, "must be an object"),
        (bob, "containers", {"mapping_id": web, "configurables": {"x": 1}}, 400, "unknown config"),
    ]
    before = await admin_state(alice)
    for api, path, body, status, fragment in cases:
        code, answer = await api.post(path, body)
        assert_error(code, answer, status, fragment, (path, body))
        assert await admin_state(alice) == before, (path, body)


async def test_bad_configurables_start_nothing(users, docker_client, derived_image):
    alice, bob = users["alice"], users["bob"]
    vnc = await grant(alice, VNCAPP, "bob")
    with_data = derived_image(f'LABEL {NAMESPACE}env.startupdata=""')
    no_data = await grant(alice, with_data, "bob")
    data = await grant(alice, with_data, "bob", allow_startup_data=True)
    cases = [
        (vnc, {"resolution": "9x9"}, "out of range"),
        (vnc, {"resolution": "100000x100000"}, "invalid resolution"),
        (vnc, {"resolution": "8000x8000"}, "out of range"),
        (vnc, {"resolution": "0x0"}, "out of range"),
        (vnc, {"resolution": "-1x-1"}, "invalid resolution"),
        (vnc, {"resolution": "1280x800x8"}, "colour depth"),
        (vnc, {"resolution": "abc"}, "invalid resolution"),
        (vnc, {"resolution": 1280}, "invalid resolution"),
        (vnc, {"resolution": None}, "invalid resolution"),
        (vnc, {"resolution": ["1280", "800"]}, "invalid resolution"),
        (vnc, {"resolution": "1280x800; rm -rf /"}, "invalid resolution"),
        (vnc, {"resolution": "1280x800\x00"}, "invalid resolution"),
        (vnc, {"startupdata": "a.txt"}, "unknown configurable"),
        (no_data, {"startupdata": "a.txt"}, "not allowed by the policy"),
        (data, {"startupdata": "../../etc/passwd"}, "without '..'"),
        (data, {"startupdata": "/etc/passwd"}, "without '..'"),
        (data, {"startupdata": "a\x00b"}, "control characters"),
        (data, {"startupdata": "x" * 5000}, "at most 4096"),
        (data, {"startupdata": 5}, "at most 4096"),
    ]
    before = await admin_state(alice)
    for mapping_id, configurables, fragment in cases:
        body = {"mapping_id": mapping_id, "configurables": configurables}
        code, answer = await bob.post("containers", body)
        assert_error(code, answer, 400, fragment, configurables)
    # the streamed start says the same in its error event
    code, stream = await bob.post(
        "containers",
        {"mapping_id": vnc, "configurables": {"resolution": "9x9"}},
        headers={"Accept": "text/event-stream"},
    )
    last = stream.strip().split("\n\n")[-1]
    assert last.startswith("event: error") and '"status": 400' in last and "out of range" in last
    assert await admin_state(alice) == before
    assert realm_containers(docker_client) == []


async def test_a_missing_volume_source_is_a_clear_error_at_start(users, docker_client):
    alice, bob = users["alice"], users["bob"]
    missing = "/nonexistent-remoteapp-bad-input"
    mapping_id = await grant(alice, WEBAPP, "bob", volume=f"{missing}:/mnt/data:ro")
    before = await admin_state(alice)
    code, answer = await bob.post("containers", {"mapping_id": mapping_id})
    assert_error(code, answer, 400, "does not exist on the docker host")
    assert missing in answer["message"]
    assert not os.path.exists(missing)  # never created as root
    assert await admin_state(alice) == before and realm_containers(docker_client) == []


# -- ids and paths ----------------------------------------------------------------------------


def odd_ids(own: str, other: str) -> list[str]:
    """url ids / names as an attacker writes them: encoded slashes and dots, NUL, unicode..."""
    return [
        "%2e%2e",
        "..%2F..%2Fetc%2Fpasswd",
        "%2F",
        "%00",
        f"{own}%00",
        "%C3%A9",
        "%EF%BC%A1",  # a fullwidth A: alphanumeric for Python, not an id
        own.upper(),
        f"{own}%2F..%2F{other}",
        f"..%2F{other}",
        f"{other}%20",
        "a" * 3000,
        "%ff",
    ]


async def test_encoded_and_traversing_ids_in_the_api(users, docker_client):
    alice, bob, carol = users["alice"], users["bob"], users["carol"]
    bobs = await bob.post("containers", {"mapping_id": await grant(alice, WEBAPP, "bob")})
    carols = await carol.post(
        "containers", {"mapping_id": await grant(alice, WEBAPP, "carol@example.org")}
    )
    own, other = bobs[1]["url_id"], carols[1]["url_id"]
    before = await admin_state(alice)
    checked = 0
    for odd in odd_ids(own, other):
        calls = [
            (bob, "GET", f"containers/{odd}"),
            (bob, "GET", f"containers/{odd}/logs"),
            (bob, "DELETE", f"containers/{odd}"),
            (alice, "DELETE", f"admin/containers/{odd}"),
            (alice, "DELETE", f"admin/users/{odd}"),
            (alice, "DELETE", f"admin/grants/{odd}"),
            (alice, "DELETE", f"admin/applications/{odd}"),
        ]
        for api, method, path in calls:
            response = await api.client.fetch(
                api.url(path), method=method, headers=api.headers, raise_error=False
            )
            # 400: not even text (%ff); 404: no such thing (tornado's own 404 for a path
            # that no route matches is JSON too)
            assert response.code in (400, 404), (method, path, response.code, response.body)
            answer = json.loads(response.body)
            assert answer["status"] == response.code and answer["message"]
            if re.fullmatch(r"[^/]+(/logs)?", path.removeprefix("containers/")):
                assert_conforms(method, path, response)
            assert b"carol" not in response.body and b"Demo Web App" not in response.body
            checked += 1
    assert await admin_state(alice) == before
    assert checked == 7 * len(odd_ids(own, other))


async def test_traversal_in_proxy_paths_never_reaches_another_container(
    users, http_server_client, jp_base_url
):
    alice, bob, carol = users["alice"], users["bob"], users["carol"]
    code, bobs = await bob.post("containers", {"mapping_id": await grant(alice, WEBAPP, "bob")})
    code, carols = await carol.post(
        "containers", {"mapping_id": await grant(alice, WEBAPP, "carol@example.org")}
    )
    own, other = bobs["url_id"], carols["url_id"]
    base = f"{jp_base_url}remoteapp/containers/"
    refused = [  # '..' segments, however written: 400 before anything is resolved
        f"{base}{own}/../{other}/",
        f"{base}{own}/%2e%2e/{other}/",
        f"{base}{own}/%2E%2E%2F{other}/",
        f"{base}{own}/x/..%2F..%2F{other}/",
        f"{base}{own}/..%5C{other}/",
        f"{base}{own}%2F..%2F{other}/",
        f"{base}%2e%2e/{other}/",
        f"{base}{other}/%2e%2e/{own}/",
    ]
    unknown = [  # not an id of bob's: 404 like any unknown id
        f"{base}{own.upper()}/",
        f"{base}{own}%00/",
        f"{base}{own}%20/",
        f"{base}{other}/",
        f"{base}%EF%BC%A1/",
    ]
    for url, expected in [(u, 400) for u in refused] + [(u, 404) for u in unknown]:
        response = await http_server_client.fetch(
            url, headers=bob.headers, raise_error=False, follow_redirects=False
        )
        assert response.code == expected, (url, response.code, response.body[:200])
        assert json.loads(response.body)["status"] == expected
        assert b"carol" not in response.body and b"demo web app" not in response.body
    # double encoding is not decoded twice: it stays inside bob's own container
    for tail in ("%252e%252e/", f"%252e%252e/{other}/", "%2e%2e%2f".replace("%", "%25")):
        response = await http_server_client.fetch(
            f"{base}{own}/{tail}", headers=bob.headers, raise_error=False
        )
        assert b"carol" not in response.body, tail
    # and bob's own page is still his
    page = await http_server_client.fetch(urlsplit(bobs["url"]).path, headers=bob.headers)
    assert b'<strong id="user">bob</strong>' in page.body


# -- names ------------------------------------------------------------------------------------

ODD_NAMES = [
    "a@b.example",
    "Ünïcødé 名前",
    "$(touch /tmp/remoteapp-pwned)",
    "`touch /tmp/remoteapp-pwned`; rm -rf / #",
    "<script>alert(1)</script>",
    "x' OR '1'='1",
    "a/b",
    "..",
    "-rf",
    "%2e%2e",
    "a b+c",
]


async def test_odd_user_names_are_data(users):
    alice = users["alice"]
    assert (await alice.post("admin/applications", {"image": WEBAPP}))[0] == 201
    for name in ODD_NAMES:
        code, answer = await alice.post("admin/users", {"name": name})
        assert (code, answer) == (201, {"name": name, "grants": 0})
        code, answer = await alice.post("admin/grants", {"image": WEBAPP, "user": name})
        assert code == 201 and answer["user"] == name
        code, answer = await alice.get(f"admin/grants?user={quote(name, safe='')}")
        assert [g["user"] for g in answer["items"]] == [name]
    code, listing = await alice.get("admin/users")
    assert sorted(u["name"] for u in listing["items"]) == sorted(ODD_NAMES)
    assert all(u["grants"] == 1 for u in listing["items"])
    for name in ODD_NAMES:
        assert (await alice.delete(f"admin/users/{quote(name, safe='')}"))[0] == 204
    assert (await alice.get("admin/users"))[1]["items"] == []
    assert (await alice.get("admin/grants"))[1]["items"] == []  # removed with their users
    assert not os.path.exists("/tmp/remoteapp-pwned")


async def test_a_user_with_an_odd_name_runs_an_app(users, docker_client, http_server_client):
    alice, mallory, bob = users["alice"], users["mallory"], users["bob"]
    mapping_id = await grant(alice, WEBAPP, MALLORY)
    code, container = await mallory.post("containers", {"mapping_id": mapping_id})
    assert code == 201 and container["user"] == MALLORY
    (docker_container,) = realm_containers(docker_client)
    assert re.fullmatch(r"[a-z0-9-]+", docker_container.name), docker_container.name
    assert docker_container.labels[f"{NAMESPACE}runinfo.user"] == MALLORY
    env = dict(e.split("=", 1) for e in docker_container.attrs["Config"]["Env"])
    assert env["JPY_USER"] == MALLORY and env["USER"] == MALLORY
    # the app shows the name as text (the demo app escapes it), through the proxy
    page = await http_server_client.fetch(urlsplit(container["url"]).path, headers=mallory.headers)
    assert b"&lt;b&gt;$(id)&lt;/b&gt;" in page.body and b"<b>$(id)" not in page.body
    assert (await mallory.get("containers"))[1] == [container]
    assert (await bob.get("containers"))[1] == []
    assert (await mallory.delete(f"containers/{container['url_id']}"))[0] == 204


def test_cli_odd_user_names(tmp_path, docker_client):
    """``jupyter remoteapp user create`` takes any name as one argument, never as shell."""
    canary = tmp_path / "pwned"
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(tmp_path / "c"), JUPYTER_DATA_DIR=str(tmp_path))
    db = str(tmp_path / "accounting.sqlite")

    def cli(*args: str) -> tuple[int, str, str]:
        argv = [sys.executable, "-m", "remoteapp_server.cli", *args, "--db", db]
        done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=60)
        return done.returncode, done.stdout, done.stderr

    names = ["a@b.example", "Ünïcødé 名前", f"$(touch {canary}); `touch {canary}` <b>"]
    for name in names:
        code, out, err = cli("user", "create", name)
        assert code == 0, err
        assert repr(name) in out
    code, out, _ = cli("user", "list")
    assert sorted(out.splitlines()) == sorted(names)
    code, _, err = cli("user", "create", "a\nb")
    assert code == 1 and err.startswith("jupyter remoteapp: error: ") and "control char" in err
    assert cli("app", "create", WEBAPP)[0] == 0
    code, _, err = cli("grant", WEBAPP, names[0], "--volume", "/tmp:/:ro")
    assert code == 1 and "not allowed" in err
    accounting = open_accounting(db)
    try:
        assert sorted(accounting.list_users()) == sorted(names)  # "a\nb" was not made
        assert accounting.list_grants() == []
    finally:
        accounting.close()
    assert not canary.exists()


#: policies the CLI can express, wrong: (CLI options, the same as a REST ``policy``)
BAD_POLICIES = [
    (["--volume", volume], {"volume": volume})
    for volume in ("/a:/b", "a:/b:ro", "/a:/b:rx", "/a:/b/../c:ro", "/tmp:/:ro", "/a:/b:ro:x")
] + [(["--app-license", "x" * 1025], {"app_license": "x" * 1025})]


async def test_the_cli_and_the_api_refuse_a_bad_policy_in_the_same_words(users, tmp_path):
    """One parser of policies (``Policy.from_dict``) behind ``POST admin/grants`` and
    ``jupyter remoteapp grant``: the same mistake, the same message."""
    alice = users["alice"]
    await grant(alice, WEBAPP, "bob")  # bob and the app exist on the server's side
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(tmp_path / "c"), JUPYTER_DATA_DIR=str(tmp_path))
    db = str(tmp_path / "cli.sqlite")
    before = await admin_state(alice)
    for options, policy in BAD_POLICIES:
        code, answer = await alice.post(
            "admin/grants", {"image": WEBAPP, "user": "bob", "policy": policy}
        )
        assert code == 400, (policy, answer)
        argv = [sys.executable, "-m", "remoteapp_server.cli", "grant", WEBAPP, "bob", *options]
        done = subprocess.run(
            [*argv, "--db", db], capture_output=True, text=True, env=env, timeout=60
        )
        assert done.returncode == 1, done.stderr
        assert done.stderr.strip() == f"jupyter remoteapp: error: {answer['message']}"
    assert await admin_state(alice) == before


# -- labels and icons -------------------------------------------------------------------------

SCRIPT_NAME = "<script>alert('name')</script>"
SCRIPT_DESCRIPTION = '<img src=x onerror="alert(1)"> & <b>bold</b>'
SVG_ICON = base64.b64encode(b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>')
GIF_ICON = base64.b64encode(b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!")


def label_lines(**labels: str) -> str:
    return "LABEL " + " ".join(f"{NAMESPACE}{k}={json.dumps(v)}" for k, v in labels.items())


async def test_hostile_labels_are_data_and_bad_icons_never_break_the_list(
    users, derived_image, http_server_client
):
    alice, bob = users["alice"], users["bob"]
    scripted = derived_image(
        label_lines(ui_name=SCRIPT_NAME, description=SCRIPT_DESCRIPTION, icon_128=SVG_ICON.decode())
    )
    broken = derived_image(label_lines(icon_128="not base64 at all!", type="<b>webapp</b>"))
    gif = derived_image(label_lines(icon_128=GIF_ICON.decode(), ui_name="GIF icon"))
    for image in (WEBAPP, scripted, broken, gif):
        await grant(alice, image, "bob")

    response = await http_server_client.fetch(bob.url("applications"), headers=bob.headers)
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    listed = json.loads(response.body)
    entries = {e["image"]["name"]: e["image"] for e in listed}
    mappings = {e["image"]["name"]: e["mapping_id"] for e in listed}
    assert set(entries) == {WEBAPP, scripted, broken, gif}  # nothing dropped the list
    assert entries[scripted]["ui_name"] == SCRIPT_NAME  # returned as data, untouched
    assert entries[scripted]["description"] == SCRIPT_DESCRIPTION
    for image in (scripted, broken, gif):
        assert entries[image]["icon_128"] == "", image  # never passed on as "a PNG"
    assert entries[broken]["type"] == "vncapp"
    assert base64.b64decode(entries[WEBAPP]["icon_128"]).startswith(b"\x89PNG\r\n\x1a\n")

    code, images = await alice.get("admin/images")
    problems = {i["name"]: i["problems"] for i in images["items"]}
    for image in (scripted, broken, gif):
        assert any("icon_128 is not a base64 PNG" in p for p in problems[image]), image
    assert any("unknown type" in p for p in problems[broken])

    # the hostile name stays data on the containers too
    code, container = await bob.post("containers", {"mapping_id": mappings[scripted]})
    assert code == 201 and container["ui_name"] == SCRIPT_NAME
    assert (await bob.get("containers"))[1][0]["ui_name"] == SCRIPT_NAME


# -- the frontend -----------------------------------------------------------------------------

#: ways to turn text into markup in the browser; labels, names and logs must never reach one
HTML_SINKS = re.compile(
    r"\.innerHTML\b|\.outerHTML\b|insertAdjacentHTML|dangerouslySetInnerHTML|document\.write"
    r"|\beval\(|new Function\(|\.srcdoc\b|createContextualFragment"
)


def test_the_frontend_renders_labels_as_text():
    sources = [
        p
        for p in (REPO / "src").rglob("*.ts*")
        if "__tests__" not in p.parts and p.suffix in (".ts", ".tsx")
    ]
    assert len(sources) > 5
    for source in sources:
        for number, line in enumerate(source.read_text().splitlines(), 1):
            if line.strip().startswith(("*", "/*", "//")):
                continue  # a comment may name what the code does not do
            assert not HTML_SINKS.search(line), f"{source.relative_to(REPO)}:{number}: {line}"
    # the one place that builds markup (an SVG around the icon) lets only base64 in
    icons = (REPO / "src" / "icons.ts").read_text()
    assert "return value && isBase64(value) ? `data:image/png;base64,${value}` : '';" in icons
    assert "/^[A-Za-z0-9+/]+={0,2}$/" in icons
