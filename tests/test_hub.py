"""End to end behind a real JupyterHub: configurable-http-proxy, the remoteapp service
(docker + accounting), single-user servers of real unprivileged system users
(LocalProcessSpawner) in hub mode, real docker, scripted browser logins and a real kernel.

Needs root (it creates the users rtalice and rtbob and removes them afterwards), npm (for
configurable-http-proxy, installed under .hub/) and the demo images.
"""

from __future__ import annotations

import asyncio
import json
import os
import pwd
import shutil
import tempfile
import textwrap
from pathlib import Path

import pytest
from conftest import REALM, VNCAPP, WEBAPP, realm_containers, rfb_server_init
from hub_helpers import (
    Hub,
    HubUser,
    create_system_user,
    ensure_chp,
    remove_system_user,
    user_python,
)
from tornado.httpclient import HTTPRequest

from remoteapp_server.core.accounting import Policy, open_accounting

pytestmark = [pytest.mark.hub, pytest.mark.docker, pytest.mark.slow]

ALICE, BOB = "rtalice", "rtbob"
ADMIN = "custom:remoteapp:admin"
WEBAPP_TEXT = "remoteapp demo web app"


@pytest.fixture(scope="module")
def hub(docker_client):
    if os.geteuid() != 0:
        pytest.skip("needs root: creates system users and spawns servers as them")
    if shutil.which("npm") is None:
        pytest.skip("needs npm for configurable-http-proxy")
    ensure_chp()
    # base: others may enter (the users' Python lives here); private: root only
    base = Path(tempfile.mkdtemp(prefix="remoteapp-hub-test-"))
    base.chmod(0o711)
    private = base / "private"
    private.mkdir(mode=0o700)
    accounting_file = private / "remoteapp.sqlite"
    accounting = open_accounting(str(accounting_file))
    grants: dict[str, dict[str, str]] = {}
    for image in (WEBAPP, VNCAPP):
        accounting.create_application(image)
    for name in (ALICE, BOB):
        create_system_user(name)
        accounting.create_user(name)
        grants[name] = {
            image: accounting.grant(image, Policy(), user=name).mapping_id
            for image in (WEBAPP, VNCAPP)
        }
    accounting.close()
    hub = Hub(
        private,
        admin_users=[ALICE],
        realm=REALM,
        accounting_url=str(accounting_file),
        user_python=user_python(base),
    )
    hub.grants = grants
    hub.accounting_file = accounting_file
    try:
        hub.start()
        hub.start_servers([ALICE, BOB])
        yield hub
    finally:
        hub.stop()
        # the Hub's, the service's and the servers' log, for after the fact
        shutil.copy(hub.log_path, ensure_chp().parents[2] / "last-test-hub.log")
        for container in realm_containers(docker_client):
            container.remove(force=True)
        for name in (ALICE, BOB):
            remove_system_user(name)
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module")
def alice(hub):
    user = HubUser(hub, ALICE)
    user.login()
    return user


@pytest.fixture(scope="module")
def bob(hub):
    user = HubUser(hub, BOB)
    user.login()
    return user


@pytest.fixture(scope="module")
def bob_webapp(bob, hub):
    code, container = bob.call("POST", "containers", {"mapping_id": hub.grants[BOB][WEBAPP]})
    assert code == 201, container
    return container


@pytest.fixture(scope="module")
def alice_webapp(alice, hub):
    code, container = alice.call("POST", "containers", {"mapping_id": hub.grants[ALICE][WEBAPP]})
    assert code == 201, container
    return container


def test_each_user_is_who_the_hub_says_and_sees_only_their_grants(hub, alice, bob):
    code, me = bob.get("me")
    assert code == 200, me
    assert (me["name"], me["admin"], me["mode"]) == (BOB, False, "hub")
    assert "access:services!service=remoteapp" in me["scopes"] and ADMIN not in me["scopes"]
    code, me = alice.get("me")
    assert (me["name"], me["admin"], me["mode"]) == (ALICE, True, "hub")
    for user in (alice, bob):
        code, entries = user.get("applications")
        assert code == 200
        assert {e["mapping_id"] for e in entries} == set(hub.grants[user.name].values())


def test_bob_reaches_his_web_app_through_the_hub_proxy(hub, bob, bob_webapp):
    url = bob_webapp["url"]
    assert url == f"/user/{BOB}/remoteapp/containers/{bob_webapp['url_id']}/"
    page = bob.session.get(hub.url + url, timeout=30)
    assert page.status_code == 200 and WEBAPP_TEXT in page.text
    code, listed = bob.get("containers")
    assert [c["url_id"] for c in listed] == [bob_webapp["url_id"]]


def test_start_progress_streams_and_the_vnc_websocket_answers(hub, bob):
    answer = bob.session.post(
        bob.api_url + "containers",
        json={"mapping_id": hub.grants[BOB][VNCAPP], "configurables": {"resolution": "1024x768"}},
        headers={"X-XSRFToken": bob.xsrf, "Accept": "text/event-stream"},
        stream=True,
        timeout=90,
    )
    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith("text/event-stream")
    events = [
        line.split(":", 1)[1].strip()
        for line in answer.iter_lines(decode_unicode=True)
        if line.startswith("event:")
    ]
    assert events[-1] == "ready" and "progress" in events, events
    code, containers = bob.get("containers")
    vnc = next(c for c in containers if c["mapping_id"] == hub.grants[BOB][VNCAPP])
    ws_url = hub.url.replace("http://", "ws://") + vnc["url"] + "websockify"
    request = HTTPRequest(ws_url, headers={"Cookie": bob.cookie_header(), "Origin": hub.url})
    version, width, height = asyncio.run(rfb_server_init(request))
    assert version == b"RFB 003.008\n"
    assert (width, height) == (1024, 768)


def test_bob_cannot_see_reach_or_stop_alices_container(hub, alice, bob, alice_webapp):
    url_id = alice_webapp["url_id"]
    for method in ("GET", "DELETE"):
        code, answer = bob.call(method, f"containers/{url_id}")
        assert (code, answer["status"]) == (404, 404), (method, answer)
    assert bob.get(f"containers/{url_id}/logs")[0] == 404
    assert url_id not in [c["url_id"] for c in bob.get("containers")[1]]
    # through bob's own server: the same 404 as for a container that does not exist
    through_bob = bob.session.get(
        f"{hub.url}/user/{BOB}/remoteapp/containers/{url_id}/", timeout=30
    )
    assert through_bob.status_code == 404 and WEBAPP_TEXT not in through_bob.text
    # alice's server does not let bob in at all
    through_alice = bob.session.get(hub.url + alice_webapp["url"], timeout=30)
    assert through_alice.status_code in (403, 404) and WEBAPP_TEXT not in through_alice.text
    code, container = alice.get(f"containers/{url_id}")
    assert code == 200 and container["status"] == "running"
    page = alice.session.get(hub.url + alice_webapp["url"], timeout=30)
    assert page.status_code == 200 and WEBAPP_TEXT in page.text


def test_admin_endpoints_need_the_admin_scope(hub, alice, bob, alice_webapp, bob_webapp):
    for path in ("admin/stats", "admin/users", "admin/containers", "admin/grants"):
        code, answer = bob.get(path)
        assert (code, answer["status"]) == (403, 403), path
        assert ADMIN in answer["message"]
    code, answer = bob.call("POST", "admin/grants", {"image": WEBAPP, "user": BOB})
    assert code == 403
    code, stats = alice.get("admin/stats")
    assert code == 200 and stats["users"] == 2
    code, page = alice.get("admin/containers")
    owners = {c["user"] for c in page["items"]}
    assert {ALICE, BOB} <= owners


def test_grants_and_revocations_reach_a_running_server(hub, alice, bob):
    code, grant = alice.call(
        "POST",
        "admin/grants",
        {"image": WEBAPP, "user": BOB, "policy": {"app_license": "granted in the test"}},
    )
    assert code == 201, grant
    mapping_id = grant["mapping_id"]
    assert mapping_id in {e["mapping_id"] for e in bob.get("applications")[1]}
    code, _ = alice.call("DELETE", f"admin/grants/{mapping_id}")
    assert code == 204
    assert mapping_id not in {e["mapping_id"] for e in bob.get("applications")[1]}
    code, answer = bob.call("POST", "containers", {"mapping_id": mapping_id})
    assert code == 404, answer


def test_a_kernel_uses_the_python_client_with_its_own_token(hub, bob, bob_webapp):
    code = textwrap.dedent(
        f"""
        import json, os
        from remoteapp_server.client import RemoteAppClient

        client = RemoteAppClient()
        me = client.me()
        entries = [e["mapping_id"] for e in client.applications()]
        client.stop({bob_webapp["url_id"]!r})
        container = client.start({hub.grants[BOB][WEBAPP]!r})
        print(json.dumps({{"me": me, "entries": entries, "container": container,
                           "token_set": bool(os.environ.get("JUPYTERHUB_API_TOKEN"))}}))
        """
    )
    result = json.loads(bob.execute(code))
    assert result["token_set"]
    assert (result["me"]["name"], result["me"]["mode"]) == (BOB, "hub")
    assert set(result["entries"]) == set(hub.grants[BOB].values())
    container = result["container"]
    assert container["url_id"] != bob_webapp["url_id"]
    page = bob.session.get(hub.url + container["url"], timeout=30)
    assert page.status_code == 200 and WEBAPP_TEXT in page.text


def test_the_single_user_server_cannot_reach_docker_or_the_accounting(hub, bob):
    code = textwrap.dedent(
        f"""
        import errno, json, os, socket

        def attempt(action):
            try:
                action()
                return "allowed"
            except OSError as exc:
                return errno.errorcode.get(exc.errno, str(exc.errno))

        def docker():
            with socket.socket(socket.AF_UNIX) as sock:
                sock.connect("/var/run/docker.sock")

        print(json.dumps({{
            "uid": os.getuid(),
            "groups": os.getgroups(),
            "docker": attempt(docker),
            "accounting": attempt(lambda: open({str(hub.accounting_file)!r}, "rb").close()),
            "docker_host": os.environ.get("DOCKER_HOST"),
        }}))
        """
    )
    result = json.loads(bob.execute(code))
    bob_user = pwd.getpwnam(BOB)
    assert result["uid"] == bob_user.pw_uid != 0
    docker_gid = os.stat("/var/run/docker.sock").st_gid
    assert docker_gid not in result["groups"]
    assert result["docker"] == "EACCES"
    assert result["accounting"] == "EACCES"
    assert result["docker_host"] is None
    # ... and the server still does everything through the service
    assert bob.get("containers")[0] == 200


def test_in_chromium_a_user_launches_the_desktop_from_the_launcher(hub, bob, tmp_path):
    """Log in through the Hub, click the desktop in the launcher: noVNC connects in the tab."""
    import subprocess

    for container in bob.get("containers")[1]:  # the launcher starts a fresh one
        assert bob.call("DELETE", f"containers/{container['url_id']}")[0] == 204

    from hub_helpers import PASSWORD

    ui_tests = Path(__file__).resolve().parent.parent / "ui-tests"
    if not (ui_tests / "node_modules" / "@playwright" / "test").exists():
        pytest.skip("ui-tests/node_modules is not installed (scripts/test installs it)")
    screenshot = tmp_path / "hub-vnc.png"
    done = subprocess.run(
        ["node", str(ui_tests / "hub" / "vnc-through-hub.js")],
        env={
            **os.environ,
            "HUB_URL": hub.url,
            "HUB_USER": BOB,
            "HUB_PASSWORD": PASSWORD,
            "SCREENSHOT": str(screenshot),
        },
        capture_output=True,
        text=True,
        timeout=180,
        cwd=ui_tests,
    )
    assert done.returncode == 0, done.stdout + done.stderr + hub.log_tail()
    assert f"/user/{BOB}/remoteapp/containers/" in done.stdout
    assert screenshot.stat().st_size > 10_000
    shutil.copy(screenshot, Path(__file__).resolve().parent.parent / ".hub" / "last-hub-vnc.png")
