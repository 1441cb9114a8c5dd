"""The Python client and the REST commands of the CLI against a live server."""

from __future__ import annotations

import asyncio
import os
import stat
import sys

import pytest
from conftest import VNCAPP, WEBAPP, realm_containers
from test_api import ME, grant
from test_api import jp_server_config as jp_server_config  # noqa: F401  (same server setup)

from remoteapp_server.client import (
    RemoteAppClient,
    RemoteAppClientError,
    discover,
    login_file,
    save_login,
)


@pytest.fixture
def server(
    jp_serverapp, http_server_client, jp_base_url, jp_auth_header, jp_http_port, docker_client
):
    from api_helpers import Api

    token = jp_auth_header["Authorization"].split()[1]
    url = f"http://127.0.0.1:{jp_http_port}{jp_base_url}"
    yield url, token, Api(http_server_client, jp_base_url, dict(jp_auth_header))
    for container in realm_containers(docker_client):
        container.remove(force=True)


async def test_the_client_from_a_notebook(server, monkeypatch):
    url, token, api = server
    mapping_id = await grant(api, VNCAPP)
    # inside a JupyterHub kernel the client needs no arguments
    monkeypatch.delenv("REMOTEAPP_URL", raising=False)
    monkeypatch.setenv("JUPYTERHUB_SERVICE_URL", url)
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", token)

    def notebook():
        client = RemoteAppClient()
        assert client.me()["name"] == ME
        [entry] = client.applications()
        assert entry["mapping_id"] == mapping_id
        stages = []
        container = client.start(mapping_id, resolution="800x600", progress=stages.append)
        assert "waiting" in [s["stage"] for s in stages]
        assert client.url(container) == (
            url.split("/a%40b/")[0].replace("127.0.0.1", "localhost")
            + f"/a%40b/remoteapp/containers/{container['url_id']}/"
        )
        assert client.wait_ready(container["url_id"], timeout=30)["status"] == "running"
        assert [c["url_id"] for c in client.containers()] == [container["url_id"]]
        assert isinstance(client.logs(container["url_id"], tail=5), str)
        with pytest.raises(RemoteAppClientError) as info:
            client.start(mapping_id)
        assert info.value.status == 409
        client.stop(container["url_id"])
        assert client.containers() == []
        with pytest.raises(RemoteAppClientError) as info:
            client.stop(container["url_id"])
        assert info.value.status == 404 and "no container" in info.value.message
        return container

    container = await asyncio.to_thread(notebook)
    # the server was reached at 127.0.0.1: the apps origin is localhost, same port
    assert container["url"].startswith(f"http://localhost:{url.split(':')[2].split('/')[0]}/")
    assert container["url"].split("/", 3)[3].startswith("a%40b/remoteapp/containers/")


async def test_the_client_url_is_absolute(server):
    url, token, api = server
    mapping_id = await grant(api, WEBAPP)

    def run():
        client = RemoteAppClient(url, token)
        container = client.start(mapping_id)
        return client.url(container), container

    absolute, container = await asyncio.to_thread(run)
    port = url.split(":")[2].split("/")[0]
    assert absolute == container["url"]
    assert absolute == f"http://localhost:{port}/a%40b/remoteapp/containers/{container['url_id']}/"


def test_discovery_and_the_login_file(tmp_path, monkeypatch):
    monkeypatch.setenv("JUPYTER_CONFIG_DIR", str(tmp_path))
    for name in ("REMOTEAPP_URL", "REMOTEAPP_TOKEN", "JUPYTERHUB_SERVICE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "runtime"))
    with pytest.raises(RemoteAppClientError, match="no remoteapp server found"):
        discover()
    path = save_login("http://127.0.0.1:1/", "secret")
    assert path == login_file()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert discover() == ("http://127.0.0.1:1/", "secret")
    monkeypatch.setenv("REMOTEAPP_URL", "http://elsewhere/")
    monkeypatch.setenv("REMOTEAPP_TOKEN", "t")
    assert discover() == ("http://elsewhere/", "t")
    monkeypatch.delenv("REMOTEAPP_URL")
    monkeypatch.delenv("REMOTEAPP_TOKEN")
    os.chmod(path, 0o644)
    with pytest.raises(RemoteAppClientError, match="readable by others"):
        discover()


async def run_cli(*args: str, env: dict[str, str]) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "remoteapp_server.cli",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, **env},
    )
    out, err = await asyncio.wait_for(process.communicate(), 120)
    return process.returncode, out.decode(), err.decode()


async def test_cli_rest_commands(server, tmp_path):
    url, token, api = server
    mapping_id = await grant(api, VNCAPP)
    env = {"REMOTEAPP_URL": url, "REMOTEAPP_TOKEN": token, "JUPYTER_CONFIG_DIR": str(tmp_path)}

    code, out, err = await run_cli("available", env=env)
    assert code == 0, err
    assert out.split()[:2] == [mapping_id, VNCAPP]

    code, out, err = await run_cli("start", mapping_id, "--resolution", "800x600", env=env)
    assert code == 0, err
    assert "waiting:" in err  # progress on stderr
    container_url = out.strip()
    apps = url.rstrip("/").replace("127.0.0.1", "localhost")  # the apps origin
    assert container_url.startswith(f"{apps}/remoteapp/containers/")
    url_id = container_url.rstrip("/").rsplit("/", 1)[1]

    code, out, _ = await run_cli("running", env=env)
    assert code == 0 and out.split()[:2] == [url_id, "running"]
    code, out, _ = await run_cli("logs", url_id, env=env)
    assert code == 0 and "Xvnc" in out
    code, out, _ = await run_cli("stop", url_id, env=env)
    assert code == 0 and out.strip() == f"stopped {url_id}"
    code, _, err = await run_cli("stop", url_id, env=env)
    assert code == 1
    assert err.strip().splitlines() == [f"jupyter remoteapp: error: 404: no container '{url_id}'"]
    code, _, err = await run_cli("start", "nope", env=env)
    assert code == 1 and "404" in err

    # a wrong token is a clear error; login refuses to save what does not work
    code, _, err = await run_cli("available", env={**env, "REMOTEAPP_TOKEN": "wrong"})
    assert code == 1 and "403" in err
    code, out, err = await run_cli("login", "--url", url, env=env)
    assert code == 0, err
    saved = tmp_path / "remoteapp" / "login.json"
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    code, out, _ = await run_cli(
        "available",
        env={"JUPYTER_CONFIG_DIR": str(tmp_path), "REMOTEAPP_URL": "", "REMOTEAPP_TOKEN": ""},
    )
    assert code == 0 and mapping_id in out
