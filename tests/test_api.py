"""REST API v1 and the container proxy in personal mode: a real Jupyter server with the
extension, a real SQLite accounting and real containers."""

from __future__ import annotations

import getpass
import json
import re
from urllib.parse import urlsplit

import pytest
from api_helpers import ROUTES, Api, spec, spec_path
from conftest import (
    REALM,
    VNCAPP,
    WEBAPP,
    realm_containers,
    rfb_server_init,
    server_config,
)
from tornado.web import RequestHandler
from traitlets.config import Config

ME = getpass.getuser()


@pytest.fixture
def jp_server_config(tmp_path):
    return server_config(tmp_path / "remoteapp.sqlite", start_timeout=30)


@pytest.fixture
def api(jp_serverapp, http_server_client, jp_auth_header, jp_base_url, docker_client):
    yield Api(http_server_client, jp_base_url, dict(jp_auth_header))
    for container in realm_containers(docker_client):
        container.remove(force=True)


async def grant(api: Api, image: str, user: str = ME, **policy) -> str:
    code, _ = await api.post("admin/users", {"name": user})
    assert code in (201, 409)
    code, _ = await api.post("admin/applications", {"image": image, "verify": True})
    assert code in (201, 409)
    code, body = await api.post("admin/grants", {"image": image, "user": user, "policy": policy})
    assert code == 201, body
    return body["mapping_id"]


def test_every_route_is_described_and_every_description_is_routed():
    described = spec()["paths"]
    routed = {spec_path(route): handler for route, handler in ROUTES}
    assert set(routed) == set(described)
    for path, handler in routed.items():
        implemented = {
            method
            for method in ("get", "post", "put", "patch", "delete")
            if getattr(handler, method) is not getattr(RequestHandler, method)
        }
        assert implemented == set(described[path]) - {"parameters"}, path


async def test_me_in_personal_mode(api, jp_http_port):
    code, me = await api.get("me")
    assert code == 200
    assert me == {
        "name": ME,
        "admin": True,
        "groups": [],
        "scopes": ["custom:remoteapp:admin"],
        "mode": "personal",
        # the test client reaches the server at 127.0.0.1: apps are on the other name
        "apps_origin": f"http://localhost:{jp_http_port}",
        "apps_isolated": True,
    }


async def test_unauthenticated_calls_are_refused(api, jp_serverapp):
    for path in ("me", "applications", "containers", "admin/users", "admin/stats"):
        code, body = await api.get(path, headers={"Authorization": ""})
        assert code == 403, path
        assert body["status"] == 403
    code, _ = await api.post("containers", {"mapping_id": "x"}, headers={"Authorization": ""})
    assert code == 403


async def test_start_use_and_stop_a_web_app(api, http_server_client, jp_base_url, jp_auth_header):
    mapping_id = await grant(api, WEBAPP)
    code, apps = await api.get("applications")
    assert code == 200
    assert [(a["mapping_id"], a["image"]["ui_name"], a["containers"]) for a in apps] == [
        (mapping_id, "Demo Web App", [])
    ]
    assert apps[0]["image"]["icon_128"]

    code, container = await api.post("containers", {"mapping_id": mapping_id})
    assert code == 201, container
    url_id = container["url_id"]
    path = f"{jp_base_url}remoteapp/containers/{url_id}/"
    assert container["url"] == f"http://localhost:{urlsplit(container['url']).port}{path}"
    assert container["status"] == "running" and container["user"] == ME

    # the app, through the authenticated proxy, at the URL the API gave
    page = await http_server_client.fetch(path, headers=jp_auth_header)
    assert page.code == 200 and b"remoteapp demo web app" in page.body
    refused = await http_server_client.fetch(path, raise_error=False, follow_redirects=False)
    assert refused.code in (302, 403) and b"remoteapp demo web app" not in refused.body

    assert (await api.get("containers"))[1] == [container]
    assert (await api.get(f"containers/{url_id}"))[1] == container
    assert (await api.get("applications"))[1][0]["containers"] == [url_id]
    code, logs = await api.get(f"containers/{url_id}/logs?tail=50")
    assert code == 200 and logs["url_id"] == url_id

    code, body = await api.post("containers", {"mapping_id": mapping_id})
    assert code == 409 and url_id in body["message"]

    assert (await api.delete(f"containers/{url_id}"))[0] == 204
    assert (await api.get(f"containers/{url_id}"))[0] == 404
    assert (await api.delete(f"containers/{url_id}"))[0] == 404
    assert (await api.get("containers"))[1] == []
    gone = await http_server_client.fetch(path, headers=jp_auth_header, raise_error=False)
    assert gone.code == 404


async def test_the_vnc_app_through_the_proxy_websocket(api, jp_http_port, jp_auth_header):
    from tornado.httpclient import HTTPRequest

    mapping_id = await grant(api, VNCAPP)
    code, container = await api.post(
        "containers", {"mapping_id": mapping_id, "configurables": {"resolution": "1024x768"}}
    )
    assert code == 201, container
    request = HTTPRequest(
        f"ws://127.0.0.1:{jp_http_port}{urlsplit(container['url']).path}websockify",
        headers=jp_auth_header,
    )
    version, width, height = await rfb_server_init(request)
    assert version == b"RFB 003.008\n"
    assert (width, height) == (1024, 768)


async def test_start_with_server_sent_events(api):
    mapping_id = await grant(api, WEBAPP)
    code, stream = await api.post(
        "containers", {"mapping_id": mapping_id}, headers={"Accept": "text/event-stream"}
    )
    assert code == 200
    events = [
        (
            block.split("\n")[0].removeprefix("event: "),
            json.loads(block.split("\n")[1].removeprefix("data: ")),
        )
        for block in stream.strip().split("\n\n")
    ]
    stages = [data["stage"] for name, data in events if name == "progress"]
    assert stages[:3] == ["image", "creating", "starting"] and "waiting" in stages
    assert events[-1][0] == "ready" and events[-1][1]["status"] == "running"
    # a failing start ends with an error event, not a broken stream
    code, stream = await api.post(
        "containers", {"mapping_id": mapping_id}, headers={"Accept": "text/event-stream"}
    )
    last = stream.strip().split("\n\n")[-1]
    assert last.startswith("event: error") and '"status": 409' in last


@pytest.mark.parametrize(
    "body, status, message",
    [
        ({}, 400, "missing field(s): mapping_id"),
        ({"mapping_id": "nope"}, 404, "no application with mapping id"),
        ({"mapping_id": "m", "colour": 1}, 400, "unknown field(s): colour"),
        ({"mapping_id": "m", "configurables": []}, 400, "configurables must be an object"),
        ([1, 2], 400, "must be a JSON object"),
    ],
)
async def test_bad_start_requests(api, body, status, message):
    code, answer = await api.post("containers", body)
    assert (code, answer["status"]) == (status, status)
    assert message in answer["message"]


async def test_bad_json_and_bad_configurables(api):
    code, answer = await api.post("containers", raw=b"{not json")
    assert code == 400 and "not valid JSON" in answer["message"]
    code, answer = await api.post("containers", raw=b"x" * 70_000)
    assert code == 413
    mapping_id = await grant(api, VNCAPP)
    code, answer = await api.post(
        "containers", {"mapping_id": mapping_id, "configurables": {"resolution": "9x9"}}
    )
    assert code == 400 and "out of range" in answer["message"]
    assert (await api.get("containers"))[1] == []


async def test_admin_endpoints(api):
    mapping_id = await grant(api, WEBAPP, allow_view=True)
    code, users = await api.get("admin/users")
    assert code == 200 and users["items"] == [{"name": ME, "grants": 1}]
    code, apps = await api.get("admin/applications")
    assert apps["items"][0]["image"] == WEBAPP and apps["items"][0]["available"]
    code, grants = await api.get(f"admin/grants?user={ME}")
    assert [g["mapping_id"] for g in grants["items"]] == [mapping_id]
    assert grants["items"][0]["policy"]["allow_view"] is True
    code, images = await api.get("admin/images")
    by_name = {i["name"]: i for i in images["items"]}
    assert by_name[WEBAPP]["registered"] and not by_name[VNCAPP]["registered"]

    code, container = await api.post("containers", {"mapping_id": mapping_id})
    code, containers = await api.get("admin/containers")
    assert [c["url_id"] for c in containers["items"]] == [container["url_id"]]
    code, stats = await api.get("admin/stats")
    assert stats["users"] == 1 and stats["grants"] == 1
    assert stats["containers"]["running"] == 1
    assert stats["containers"]["per_image"] == {WEBAPP: 1}
    assert (await api.delete(f"admin/containers/{container['url_id']}"))[0] == 204
    assert (await api.delete(f"admin/containers/{container['url_id']}"))[0] == 404

    # a group grant with a volume, pagination, revoking, removing
    code, group_grant = await api.post(
        "admin/grants",
        {"image": WEBAPP, "group": "physics", "policy": {"volume": "/tmp:/mnt/tmp:ro"}},
    )
    assert code == 201 and group_grant["policy"]["volume_target"] == "/mnt/tmp"
    code, page = await api.get("admin/grants?limit=1&offset=1")
    assert page["total"] == 2 and len(page["items"]) == 1
    assert (await api.delete(f"admin/grants/{group_grant['mapping_id']}"))[0] == 204
    assert (await api.delete(f"admin/grants/{group_grant['mapping_id']}"))[0] == 404
    image_path = WEBAPP.replace("/", "%2F")
    assert (await api.delete(f"admin/applications/{image_path}"))[0] == 204
    assert (await api.get("applications"))[1] == []
    assert (await api.delete(f"admin/users/{ME}"))[0] == 204
    assert (await api.get("admin/users"))[1]["items"] == []


async def test_admin_lists_are_paged_with_totals(api):
    users = [f"user{i}" for i in range(5)]
    for name in users:
        assert (await api.post("admin/users", {"name": name}))[0] == 201
    await grant(api, WEBAPP, user="user1")
    await grant(api, WEBAPP, user="user1", allow_view=True)
    await grant(api, WEBAPP, user="user2")

    code, page = await api.get("admin/users?offset=1&limit=2")
    assert code == 200
    assert page == {
        "items": [{"name": "user1", "grants": 2}, {"name": "user2", "grants": 1}],
        "total": 5,
        "offset": 1,
        "limit": 2,
    }
    code, page = await api.get("admin/users?offset=4")
    assert [u["name"] for u in page["items"]] == ["user4"] and page["limit"] is None
    code, page = await api.get("admin/grants?user=user1&limit=1")
    assert page["total"] == 2 and len(page["items"]) == 1
    code, rest = await api.get("admin/grants?user=user1&offset=1&limit=1")
    assert {page["items"][0]["mapping_id"], rest["items"][0]["mapping_id"]} == {
        g["mapping_id"] for g in (await api.get("admin/grants?user=user1"))[1]["items"]
    }
    code, page = await api.get("admin/applications?limit=1")
    assert page["total"] == 1 and page["items"][0]["image"] == WEBAPP
    code, stats = await api.get("admin/stats")
    assert (stats["users"], stats["applications"], stats["grants"]) == (5, 1, 3)
    for query in ("offset=-1", "limit=0", "offset=x", "limit=1.5"):
        for path in ("admin/users", "admin/grants", "admin/applications", "admin/containers"):
            code, error = await api.get(f"{path}?{query}")
            assert code == 400, (path, query, error)


@pytest.mark.parametrize(
    "path, body, status, message",
    [
        ("admin/users", {"name": ""}, 400, "invalid user name"),
        ("admin/users", {"name": "x", "admin": True}, 400, "unknown field(s): admin"),
        ("admin/applications", {"image": "Not An Image"}, 400, "invalid docker image"),
        (
            "admin/applications",
            {"image": "remoteapp-test/absent:1", "verify": True},
            404,
            "not available",
        ),
        ("admin/grants", {"image": WEBAPP, "user": "ghost"}, 404, "does not exist"),
        ("admin/grants", {"image": WEBAPP, "user": ME, "group": "g"}, 400, "exactly one"),
        (
            "admin/grants",
            {"image": WEBAPP, "user": ME, "policy": {"volume": "/a:/b"}},
            400,
            "invalid volume",
        ),
        (
            "admin/grants",
            {"image": WEBAPP, "user": ME, "policy": {"root": True}},
            400,
            "unknown policy field(s): root",
        ),
        (
            "admin/grants",
            {"image": WEBAPP, "user": ME, "policy": {"allow_home": "yes"}},
            400,
            "true or false",
        ),
    ],
)
async def test_bad_admin_requests_change_nothing(api, path, body, status, message):
    await grant(api, WEBAPP)
    before = [(await api.get(p))[1] for p in ("admin/users", "admin/applications", "admin/grants")]
    code, answer = await api.post(path, body)
    assert (code, answer["status"]) == (status, status), answer
    assert message in answer["message"]
    after = [(await api.get(p))[1] for p in ("admin/users", "admin/applications", "admin/grants")]
    assert after == before


async def test_paths_that_are_not_routes(api):
    for path in ("containers/..%2F..%2Fetc", "admin", "nothing"):
        response = await api.client.fetch(api.url(path), headers=api.headers, raise_error=False)
        assert response.code == 404, path
    assert re.fullmatch(r"[0-9a-f]{32}", "0" * 32)


class TestBrokenAccounting:
    """A database that cannot be opened: the server starts, the API says why (503)."""

    @pytest.fixture
    def jp_server_config(self, tmp_path):
        blocker = tmp_path / "not-a-directory"
        blocker.write_text("a file where the database directory should be")
        return Config(
            {
                "ServerApp": {"jpserver_extensions": {"remoteapp_server": True}},
                "RemoteApp": {"accounting_url": str(blocker / "remoteapp.sqlite"), "realm": REALM},
            }
        )

    async def test_the_api_answers_503_with_the_reason(self, api):
        code, answer = await api.get("applications")
        assert code == 503 and "accounting cannot be opened" in answer["message"]
        code, answer = await api.get("admin/users")
        assert code == 503
        code, me = await api.get("me")
        assert code == 200 and me["name"] == ME
