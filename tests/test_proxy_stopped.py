"""A container that stops behind the proxy's back (the app exits, the CLI or another server
stops it) while its address is cached: the next request answers 404 like any missing
container, not 502. A real Jupyter server with the extension and a real container."""

from __future__ import annotations

import getpass
from urllib.parse import urlsplit

import pytest
from api_helpers import Api
from conftest import WEBAPP, realm_containers, server_config
from tornado.httpclient import HTTPClientError, HTTPRequest
from tornado.websocket import websocket_connect

ME = getpass.getuser()


@pytest.fixture
def jp_server_config(tmp_path):
    return server_config(tmp_path / "remoteapp.sqlite", start_timeout=30)


@pytest.fixture
def api(jp_serverapp, http_server_client, jp_auth_header, jp_base_url, docker_client):
    yield Api(http_server_client, jp_base_url, dict(jp_auth_header))
    for container in realm_containers(docker_client):
        container.remove(force=True)


async def started_web_app(api: Api) -> dict:
    await api.post("admin/users", {"name": ME})
    await api.post("admin/applications", {"image": WEBAPP, "verify": True})
    code, grant = await api.post("admin/grants", {"image": WEBAPP, "user": ME, "policy": {}})
    assert code == 201, grant
    code, container = await api.post("containers", {"mapping_id": grant["mapping_id"]})
    assert code == 201, container
    return container


@pytest.mark.parametrize("kind", ["http", "websocket"])
async def test_a_just_stopped_container_is_404(
    api, http_server_client, jp_auth_header, jp_http_port, docker_client, kind
):
    container = await started_web_app(api)
    # the path, asked on the server's own address with the token header (a script's way;
    # the answer's url is absolute on the apps origin)
    url = urlsplit(container["url"]).path
    page = await http_server_client.fetch(url, headers=jp_auth_header)
    assert page.code == 200  # the proxy now knows where it listens
    (docker_container,) = realm_containers(docker_client)
    docker_container.kill()  # not through the API: nothing tells the proxy

    if kind == "http":
        gone = await http_server_client.fetch(url, headers=jp_auth_header, raise_error=False)
        assert gone.code == 404, gone.body
        assert b"No container" in gone.body
    else:
        request = HTTPRequest(f"ws://127.0.0.1:{jp_http_port}{url}ws", headers=jp_auth_header)
        with pytest.raises(HTTPClientError) as refused:
            await websocket_connect(request)
        assert refused.value.code == 404
