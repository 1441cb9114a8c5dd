"""The API as JupyterHub users see it: identity, groups and the admin scope come from the
Hub's user model (simulated here by ``fake_hub``; the real Hub has its own tests)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from api_helpers import ROUTES, Api, spec, spec_path
from conftest import VNCAPP, WEBAPP, realm_containers, server_config
from fake_hub import ADMIN, FakeHubIdentityProvider


@pytest.fixture
def jp_server_config(tmp_path):
    return server_config(
        tmp_path / "remoteapp.sqlite", identity_provider_class=FakeHubIdentityProvider
    )


@pytest.fixture
def users(jp_serverapp, http_server_client, jp_base_url, docker_client):
    def as_user(token: str) -> Api:
        return Api(http_server_client, jp_base_url, {"Authorization": f"token {token}"})

    yield {name: as_user(f"{name}-token") for name in ("alice", "bob", "carol")}
    for container in realm_containers(docker_client):
        container.remove(force=True)


def concrete(route: str) -> str:
    return re.sub(r"\(\?P<\w+>[^)]*\)", "x", route)


async def test_identity_comes_from_the_hub(users):
    code, me = await users["alice"].get("me")
    assert code == 200
    assert (me["name"], me["admin"], me["groups"]) == ("alice", True, ["staff"])
    assert ADMIN in me["scopes"]
    code, me = await users["bob"].get("me")
    assert (me["name"], me["admin"], me["groups"]) == ("bob", False, ["physics"])
    code, answer = await users["bob"].get("me", headers={"Authorization": "token forged"})
    assert code == 403 and answer["status"] == 403


async def test_admin_endpoints_need_the_scope(users):
    """Every admin route and method, generated from the route table: 403 for bob."""
    checked = 0
    for route, _ in ROUTES:
        if not route.startswith("admin/"):
            continue
        for method in spec()["paths"][spec_path(route)]:
            if method == "parameters":
                continue
            body = {} if method == "post" else None
            code, answer = await users["bob"].call(method.upper(), concrete(route), body)
            assert (code, answer["status"]) == (403, 403), (method, route)
            assert ADMIN in answer["message"]
            checked += 1
    assert checked == 13
    code, _ = await users["alice"].get("admin/stats")
    assert code == 200


async def test_grants_to_users_and_groups(users, http_server_client):
    alice, bob, carol = users["alice"], users["bob"], users["carol"]
    for name in ("alice", "bob"):
        assert (await alice.post("admin/users", {"name": name}))[0] == 201
    for image in (WEBAPP, VNCAPP):
        assert (await alice.post("admin/applications", {"image": image}))[0] == 201
    code, bobs = await alice.post("admin/grants", {"image": WEBAPP, "user": "bob"})
    assert code == 201
    code, staffs = await alice.post("admin/grants", {"image": VNCAPP, "group": "staff"})
    assert code == 201

    assert [a["mapping_id"] for a in (await bob.get("applications"))[1]] == [bobs["mapping_id"]]
    assert [a["mapping_id"] for a in (await alice.get("applications"))[1]] == [staffs["mapping_id"]]
    assert (await carol.get("applications"))[1] == []
    # a grant of someone else is not startable
    code, answer = await carol.post("containers", {"mapping_id": bobs["mapping_id"]})
    assert code == 404

    code, container = await bob.post("containers", {"mapping_id": bobs["mapping_id"]})
    assert code == 201 and container["user"] == "bob"
    url_id = container["url_id"]

    # alice, admin or not, does not reach bob's container through the user API or the proxy
    assert (await alice.get(f"containers/{url_id}"))[0] == 404
    assert (await alice.get(f"containers/{url_id}/logs"))[0] == 404
    assert (await alice.delete(f"containers/{url_id}"))[0] == 404
    assert (await alice.get("containers"))[1] == []
    path = urlsplit(container["url"]).path  # the URL is on the apps origin
    for token in ("alice-token", "carol-token"):
        response = await http_server_client.fetch(
            path, headers={"Authorization": f"token {token}"}, raise_error=False
        )
        assert response.code == 404 and b"demo web app" not in response.body
    page = await http_server_client.fetch(path, headers={"Authorization": "token bob-token"})
    assert b"remoteapp demo web app" in page.body

    # revoking hides the entry from bob at once; his running container stays his
    assert (await alice.delete(f"admin/grants/{bobs['mapping_id']}"))[0] == 204
    assert (await bob.get("applications"))[1] == []
    assert [c["url_id"] for c in (await bob.get("containers"))[1]] == [url_id]
    # the admin sees and stops every container
    code, everything = await alice.get("admin/containers")
    assert [(c["url_id"], c["user"]) for c in everything["items"]] == [(url_id, "bob")]
    assert (await alice.delete(f"admin/containers/{url_id}"))[0] == 204
    assert (await bob.get("containers"))[1] == []
