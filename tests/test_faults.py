"""Faults, produced for real: the docker daemon stops and comes back, the server is
SIGKILLed in the middle of a start, containers exit behind the server's back, the
accounting database cannot be written.

Each test checks what a user of the API notices: a clear ``{status, message}`` answer
instead of a hang or a traceback, and a server that works again once the fault is gone,
without a restart.
"""

from __future__ import annotations

import asyncio
import getpass
import os
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urljoin, urlsplit

import pytest
import requests
from api_helpers import Api
from conftest import NAMESPACE, REALM, VNCAPP, WEBAPP, realm_containers, server_config
from fault_helpers import (
    DockerCallGate,
    PrivateDockerd,
    ServerProcess,
    bind_mount_missing,
    immutable,
    immutable_missing,
    private_dockerd_missing,
    read_only_bind,
)

from remoteapp_server.core.accounting import Policy, open_accounting

ME = getpass.getuser()
WEBAPP_TEXT = b"remoteapp demo web app"

#: a fault must be answered at once, not after a client's patience ran out
PROMPT = 5.0


async def timed(call):
    began = time.monotonic()
    result = await call
    return result, time.monotonic() - began


async def grant(api: Api, image: str, user: str = ME, **policy) -> str:
    code, _ = await api.post("admin/users", {"name": user})
    assert code in (201, 409)
    code, _ = await api.post("admin/applications", {"image": image, "verify": True})
    assert code in (201, 409)
    code, body = await api.post("admin/grants", {"image": image, "user": user, "policy": policy})
    assert code == 201, body
    return body["mapping_id"]


# ------------------------------------------------------------------ a. docker stops


@pytest.fixture(scope="module")
def private_docker(docker_client):
    """A docker daemon of this module's own (start ≈ 0.1-0.5 s, image load ≈ 0.3 s)."""
    reason = private_dockerd_missing()
    if reason is not None:
        pytest.skip(reason)
    daemon = PrivateDockerd()
    try:
        daemon.start()
        daemon.load_image(WEBAPP)
        yield daemon
    finally:
        daemon.close()


class TestDockerDaemonStops:
    @pytest.fixture
    def daemon(self, private_docker):
        if not private_docker.answers():
            private_docker.start()
        yield private_docker
        if not private_docker.answers():
            private_docker.start()
        with private_docker.client() as client:
            for container in client.containers(
                all=True, filters={"label": f"{NAMESPACE}runinfo.realm={REALM}"}
            ):
                client.remove_container(container["Id"], force=True)

    @pytest.fixture
    def jp_server_config(self, tmp_path, daemon):
        return server_config(
            tmp_path / "remoteapp.sqlite", docker_host=daemon.url, start_timeout=30
        )

    @pytest.fixture
    def api(self, jp_serverapp, http_server_client, jp_auth_header, jp_base_url):
        return Api(http_server_client, jp_base_url, dict(jp_auth_header))

    async def fetch_app(self, api: Api, url: str):
        began = time.monotonic()
        response = await api.client.fetch(
            urlsplit(url).path, headers=api.headers, raise_error=False, request_timeout=30
        )
        return response, time.monotonic() - began

    async def test_503_naming_docker_while_it_is_down_and_back_to_work_after(
        self, api: Api, daemon: PrivateDockerd, caplog
    ):
        mapping_id = await grant(api, WEBAPP)
        code, container = await api.post("containers", {"mapping_id": mapping_id})
        assert code == 201, container
        # published on 127.0.0.1, reached through docker-proxy (this daemon has no iptables)
        with daemon.client() as client:
            (found,) = client.containers(filters={"label": f"{NAMESPACE}runinfo.realm={REALM}"})
        assert {p["IP"] for p in found["Ports"] if p.get("PublicPort")} == {"127.0.0.1"}
        page, _ = await self.fetch_app(api, container["url"])
        assert page.code == 200 and WEBAPP_TEXT in page.body

        daemon.stop()
        caplog.clear()

        for method, path, body in [
            ("GET", "containers", None),
            ("GET", "applications", None),
            ("POST", "containers", {"mapping_id": mapping_id}),
            ("GET", f"containers/{container['url_id']}", None),
            ("GET", f"containers/{container['url_id']}/logs", None),
            ("DELETE", f"containers/{container['url_id']}", None),
            ("GET", "admin/containers", None),
            ("GET", "admin/images", None),
            ("GET", "admin/stats", None),
            ("POST", "admin/applications", {"image": "some/app:1", "verify": True}),
        ]:
            (code, answer), seconds = await timed(api.call(method, path, body))
            assert code == 503, (method, path, answer)
            assert answer["status"] == 503
            assert answer["message"].startswith(
                "the docker engine is not reachable (No such file or directory); "
                "is the docker daemon running?"
            ), (method, path, answer)
            assert seconds < PROMPT, (method, path, seconds)
        # the server log says so once per request, without a traceback each time
        assert [r.getMessage() for r in caplog.records if r.exc_info] == []
        assert sum("docker engine is not reachable" in r.getMessage() for r in caplog.records) >= 10
        # what does not need docker keeps working
        assert (await api.get("me"))[0] == 200
        code, users = await api.get("admin/users")
        assert code == 200 and [u["name"] for u in users["items"]] == [ME]
        assert (await api.get("admin/grants"))[1]["total"] == 1
        # the app's URL: a clear error at once, never a hang
        for _ in range(2):  # the first may still use the address it knew
            page, seconds = await self.fetch_app(api, container["url"])
            assert page.code in (502, 503) and seconds < PROMPT, (page.code, page.body)
            assert page.headers["Content-Type"] == "application/json"
        assert page.code == 503 and b"docker" in page.body

        daemon.start()  # no server restart

        code, containers = await api.get("containers")
        assert code == 200
        # the daemon stopped the container when it went down; noticed, it is removed
        assert containers == []
        with daemon.client() as client:
            assert client.containers(all=True) == []
        code, container = await api.post("containers", {"mapping_id": mapping_id})
        assert code == 201, container
        page, _ = await self.fetch_app(api, container["url"])
        assert page.code == 200 and WEBAPP_TEXT in page.body
        assert (await api.get("containers"))[1] == [container]
        assert (await api.delete(f"containers/{container['url_id']}"))[0] == 204
        assert (await api.get("containers"))[1] == []

    async def test_a_docker_restart_between_two_requests_goes_unnoticed(
        self, api: Api, daemon: PrivateDockerd
    ):
        mapping_id = await grant(api, WEBAPP)
        assert (await api.get("containers"))[0] == 200  # the server holds a connection now
        daemon.stop()
        daemon.start()
        code, container = await api.post("containers", {"mapping_id": mapping_id})
        assert code == 201, container
        daemon.stop()
        daemon.start()
        code, containers = await api.get("containers")
        assert code == 200, containers


# ------------------------------------------------------------------ c. containers that exit


@pytest.fixture
def api(jp_serverapp, http_server_client, jp_auth_header, jp_base_url, docker_client):
    yield Api(http_server_client, jp_base_url, dict(jp_auth_header))
    for container in realm_containers(docker_client):
        container.remove(force=True)


async def fetch(api: Api, url: str):
    """The app at ``url`` (on the apps origin), with the caller's token."""
    began = time.monotonic()
    response = await api.client.fetch(
        urlsplit(url).path,
        headers=api.headers,
        raise_error=False,
        request_timeout=30,
        follow_redirects=False,
    )
    return response, time.monotonic() - began


EXITS = {
    # docker kill behind the server's back
    "killed": lambda container: container.kill(),
    # docker stop behind the server's back
    "stopped": lambda container: container.stop(timeout=1),
    # the application itself ends (its process exits; the container exits with it)
    "app exits": lambda container: container.exec_run(["killall", "httpd"]),
}


class TestContainerExitsOnItsOwn:
    @pytest.fixture(params=[True, False], ids=["remove", "keep"])
    def remove(self, request):
        return request.param

    @pytest.fixture
    def jp_server_config(self, tmp_path, remove):
        return server_config(tmp_path / "remoteapp.sqlite", start_timeout=30, remove=remove)

    @pytest.mark.parametrize("how", EXITS)
    async def test_reported_and_cleaned(self, api, docker_client, remove, how):
        mapping_id = await grant(api, WEBAPP)
        code, container = await api.post("containers", {"mapping_id": mapping_id})
        assert code == 201, container
        url_id = container["url_id"]
        page, _ = await fetch(api, container["url"])
        assert page.code == 200

        (behind_the_back,) = realm_containers(docker_client)
        EXITS[how](behind_the_back)
        deadline = time.monotonic() + 10
        while behind_the_back.status == "running" and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
            behind_the_back.reload()
        assert behind_the_back.status == "exited"

        # the app's URL answers at once with a clear error, whether the proxy still knew
        # the address (502) or asks docker again (404)
        for _ in range(2):
            page, seconds = await fetch(api, container["url"])
            assert page.code in (404, 502) and seconds < PROMPT, (page.code, page.body)
            assert page.headers["Content-Type"] == "application/json"
            assert url_id in page.body.decode()

        code, containers = await api.get("containers")
        assert code == 200
        assert [c for c in containers if c["status"] == "running"] == []
        code, apps = await api.get("applications")
        if remove:
            # gone: docker's container too, as with a stop through the API
            assert containers == []
            assert apps[0]["containers"] == []
            assert realm_containers(docker_client) == []
            assert (await api.get(f"containers/{url_id}"))[0] == 404
            assert (await api.get("admin/containers"))[1]["items"] == []
        else:
            # kept for inspection: shown as stopped, its logs readable, then removable
            assert [(c["url_id"], c["status"]) for c in containers] == [(url_id, "stopped")]
            code, logs = await api.get(f"containers/{url_id}/logs")
            assert code == 200 and "serving at" in logs["logs"]
            page, _ = await fetch(api, container["url"])
            assert page.code == 404
            assert (await api.delete(f"containers/{url_id}"))[0] == 204
            assert realm_containers(docker_client) == []

        # and the application starts again
        code, again = await api.post("containers", {"mapping_id": mapping_id})
        assert code == 201, again
        page, _ = await fetch(api, again["url"])
        assert page.code == 200 and WEBAPP_TEXT in page.body


# ------------------------------------------------------------------ b. server SIGKILLed


@pytest.fixture
def server(tmp_path, docker_client):
    """A server process of its own; bob has both demo apps, alice is admin (fake_hub).

    Its docker calls pass a gate that holds the first ``start`` of a container."""
    accounting_url = str(tmp_path / "remoteapp.sqlite")
    accounting = open_accounting(accounting_url)
    for image in (WEBAPP, VNCAPP):
        accounting.create_application(image)
    for name in ("alice", "bob"):
        accounting.create_user(name)
    mapping_ids = {
        image: accounting.grant(image, Policy(), user="bob").mapping_id
        for image in (WEBAPP, VNCAPP)
    }
    accounting.close()
    docker_host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    if not docker_host.startswith("unix://"):
        pytest.skip(f"the docker call gate needs docker on a unix socket, not {docker_host}")
    gate = DockerCallGate(
        tmp_path,
        rb"POST /v[0-9.]+/containers/[0-9a-f]+/start ",
        upstream=docker_host.removeprefix("unix://"),
    )
    process = ServerProcess(
        tmp_path,
        {
            "accounting_url": accounting_url,
            "realm": REALM,
            "docker_host": gate.url,
            "start_timeout": 60,
            "stop_timeout": 1,
        },
    )
    process.mapping_ids = mapping_ids
    process.gate = gate
    try:
        process.start()
        yield process
    finally:
        process.stop()
        gate.close()
        for container in realm_containers(docker_client):
            container.remove(force=True)


def starting_stage(server: ServerProcess, mapping_id: str) -> str | None:
    for entry in server.call("GET", "applications", "bob", timeout=10).json():
        if entry["mapping_id"] == mapping_id and entry["starting"]:
            return entry["starting"]["stage"]
    return None


def kill_during_start(server: ServerProcess, mapping_id: str, moment) -> None:
    """Start ``mapping_id`` as bob; SIGKILL the server as soon as ``moment()``."""
    with ThreadPoolExecutor(1) as pool:
        start = pool.submit(server.call, "POST", "containers", "bob", {"mapping_id": mapping_id})
        deadline = time.monotonic() + 30
        while not start.done() and time.monotonic() < deadline:
            if moment():
                server.kill()
                break
            time.sleep(0.01)
        assert server.process is None, f"the moment did not come: {start.result()}"
        with pytest.raises(requests.ConnectionError):  # no answer: the server died
            start.result(timeout=30)


def containers_seen(server: ServerProcess, docker_client) -> dict[str, str]:
    """url_id → status of every container of the realm; the owner and an admin see
    exactly what docker has."""
    in_docker = {
        c.labels[f"{NAMESPACE}runinfo.url_id"]: c.status for c in realm_containers(docker_client)
    }
    mine = {c["url_id"]: c["status"] for c in server.call("GET", "containers", "bob").json()}
    everyone = server.call("GET", "admin/containers", "alice").json()["items"]
    assert mine == {c["url_id"]: c["status"] for c in everyone} == in_docker
    return in_docker


def test_killed_between_create_and_start_the_container_is_seen_and_replaced(server, docker_client):
    mapping_id = server.mapping_ids[WEBAPP]
    server.gate.armed = True
    kill_during_start(server, mapping_id, server.gate.held.is_set)
    server.start()

    # docker made the container; nobody will start it
    ((url_id, status),) = containers_seen(server, docker_client).items()
    assert status == "created"
    apps = {a["mapping_id"]: a for a in server.call("GET", "applications", "bob").json()}
    assert apps[mapping_id]["containers"] == [url_id] and apps[mapping_id]["starting"] is None

    # the abandoned start stands in nobody's way: starting again replaces it
    answer = server.call("POST", "containers", "bob", {"mapping_id": mapping_id})
    assert answer.status_code == 201, answer.text
    started = answer.json()
    assert containers_seen(server, docker_client) == {started["url_id"]: "running"}
    assert server.proxied(urljoin(server.url, started["url"]), "bob").status_code == 200
    assert server.call("DELETE", f"containers/{started['url_id']}", "bob").status_code == 204
    assert containers_seen(server, docker_client) == {}


def test_killed_while_the_app_comes_up_the_container_is_seen_and_stoppable(server, docker_client):
    mapping_id = server.mapping_ids[VNCAPP]
    kill_during_start(server, mapping_id, lambda: starting_stage(server, mapping_id) == "waiting")
    server.start()

    # the app came up without the server; its owner uses it as if nothing happened
    ((url_id, status),) = containers_seen(server, docker_client).items()
    assert status == "running"
    url = f"{server.url}remoteapp/containers/{url_id}/"
    deadline = time.monotonic() + 30
    while (page := server.proxied(url, "bob")).status_code != 200:
        assert time.monotonic() < deadline, page.text
        time.sleep(0.2)
    answer = server.call("POST", "containers", "bob", {"mapping_id": mapping_id})
    assert answer.status_code == 409 and url_id in answer.json()["message"]

    # an admin stops it
    answer = server.call("DELETE", f"admin/containers/{url_id}", "alice")
    assert answer.status_code == 204, answer.text
    assert containers_seen(server, docker_client) == {}
    assert server.proxied(url, "bob").status_code == 404


# ------------------------------------------------------------------ d. database read-only

UNWRITABLE = {
    # the file is immutable: not even root may write it (chattr +i)
    "immutable file": (immutable_missing, immutable),
    # the file is on a read-only mount (EROFS), as after a filesystem remounted read-only
    "read-only filesystem": (bind_mount_missing, read_only_bind),
}


class TestAccountingReadOnly:
    @pytest.fixture(params=list(UNWRITABLE))
    def unwritable(self, request, tmp_path):
        missing, make = UNWRITABLE[request.param]
        reason = missing(tmp_path)
        if reason is not None:
            pytest.skip(reason)
        return make

    @pytest.fixture
    def database(self, tmp_path):
        path = tmp_path / "db" / "remoteapp.sqlite"
        accounting = open_accounting(str(path))
        accounting.create_user(ME)
        accounting.create_user("bob")
        for image in (WEBAPP, VNCAPP):
            accounting.create_application(image)
        self.mapping_id = accounting.grant(WEBAPP, Policy(), user=ME).mapping_id
        self.other_grant = accounting.grant(VNCAPP, Policy(), user="bob").mapping_id
        accounting.close()
        return path

    @pytest.fixture
    def fault(self, database, unwritable):
        """Undone by the test, or at the end (after the server stopped)."""
        context = unwritable(database)
        context.__enter__()
        state = {"on": True}

        def undo():
            if state.pop("on", False):
                context.__exit__(None, None, None)

        yield undo
        undo()

    @pytest.fixture
    def jp_server_config(self, tmp_path, database, fault):
        return server_config(database, start_timeout=30)

    async def test_reads_work_and_writes_say_why(self, api, database, fault):
        before = {}
        for path in ("applications", "admin/users", "admin/applications", "admin/grants"):
            code, before[path] = await api.get(path)
            assert code == 200, (path, before[path])
        assert [a["mapping_id"] for a in before["applications"]] == [self.mapping_id]
        assert [u["name"] for u in before["admin/users"]["items"]] == sorted(["bob", ME])
        code, stats = await api.get("admin/stats")
        assert code == 200 and stats["grants"] == 2

        policy = {"allow_home": False}
        for method, path, body in [
            ("POST", "admin/users", {"name": "carol"}),
            ("DELETE", "admin/users/bob", None),
            ("POST", "admin/applications", {"image": "other/app:1"}),
            ("DELETE", f"admin/applications/{VNCAPP}", None),
            ("POST", "admin/grants", {"image": VNCAPP, "user": ME, "policy": policy}),
            ("DELETE", f"admin/grants/{self.other_grant}", None),
        ]:
            (code, answer), seconds = await timed(api.call(method, path, body))
            assert code == 503, (method, path, answer)
            assert seconds < PROMPT
            message = answer["message"]
            assert message.startswith(f"the accounting database {database} is read-only"), message
            assert "changes are refused until" in message, message
        for path, answer in before.items():  # nothing changed
            assert (await api.get(path))[1] == answer, path

        # using the granted applications needs no write: it goes on as usual
        code, container = await api.post("containers", {"mapping_id": self.mapping_id})
        assert code == 201, container
        page, _ = await fetch(api, container["url"])
        assert page.code == 200 and WEBAPP_TEXT in page.body
        assert (await api.delete(f"containers/{container['url_id']}"))[0] == 204

        # writable again: changes work without a server restart
        fault()
        code, answer = await api.post("admin/users", {"name": "carol"})
        assert code == 201, answer
        assert "carol" in [u["name"] for u in (await api.get("admin/users"))[1]["items"]]
