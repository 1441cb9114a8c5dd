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
import re
import shutil
import subprocess
import tempfile
import textwrap
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
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
        # two processes share the service's ports: every test below also checks that
        # any of them serves any request (the OAuth login may start in one, end in another)
        workers=2,
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


def app_url(hub, container, *, origin: str | None = None) -> str:
    """The app's URL on ``origin`` (default: the apps origin)."""
    path = f"/services/remoteapp/containers/{container['url_id']}/"
    return (origin or hub.apps_url.rstrip("/")) + path


def get(url: str, *, token: str | None = None, session=None, **kwargs):
    headers = kwargs.pop("headers", {})
    if token:
        headers["Authorization"] = f"token {token}"
    client = session or requests
    return client.get(url, headers=headers, timeout=30, **kwargs)


def test_each_user_is_who_the_hub_says_and_sees_only_their_grants(hub, alice, bob):
    code, me = bob.get("me")
    assert code == 200, me
    assert (me["name"], me["admin"], me["mode"]) == (BOB, False, "hub")
    assert "access:services!service=remoteapp" in me["scopes"] and ADMIN not in me["scopes"]
    assert (me["apps_origin"], me["apps_isolated"]) == (hub.apps_url.rstrip("/"), True)
    code, me = alice.get("me")
    assert (me["name"], me["admin"], me["mode"]) == (ALICE, True, "hub")
    for user in (alice, bob):
        code, entries = user.get("applications")
        assert code == 200
        assert {e["mapping_id"] for e in entries} == set(hub.grants[user.name].values())


def test_the_service_runs_two_workers_on_its_ports(hub):
    listening = subprocess.run(["ss", "-Htlnp"], capture_output=True, text=True).stdout
    for address in (f"127.0.0.1:{hub.service_port}", urlsplit(hub.apps_url).netloc):
        pids = {
            pid
            for line in listening.splitlines()
            if f" {address} " in line
            for pid in re.findall(r"pid=(\d+)", line)
        }
        assert len(pids) == 2, (address, listening)


def test_a_browser_logs_in_to_the_service_on_the_apps_origin(hub, bob, bob_webapp):
    """The OAuth callback works (it answered 503 before): Hub login, then the app's URL
    sends the browser through the Hub's authorize page back to the apps origin."""
    fresh = HubUser(hub, BOB)
    fresh.login()
    page = fresh.session.get(bob_webapp["url"], timeout=30)
    assert page.status_code == 200 and WEBAPP_TEXT in page.text, (page.url, page.text[:300])
    assert page.url == bob_webapp["url"]
    visited = [urlsplit(r.url).path for r in page.history]
    assert "/hub/api/oauth2/authorize" in visited, visited
    assert "/services/remoteapp/oauth_callback" in visited, visited
    # the login cookie lives on the apps origin only, HttpOnly, never sent to the Hub
    cookies = [c for c in fresh.session.cookies if c.name.endswith("service-remoteapp")]
    assert cookies and all(c.domain.startswith("127.0.0.2") for c in cookies), cookies
    assert all(c.has_nonstandard_attr("HttpOnly") for c in cookies)
    # a second login of the same browser (another worker, maybe): the home page answers
    for _ in range(4):
        assert fresh.login_to_service().json()["user"] == BOB


def test_bob_reaches_his_web_app_through_the_service(hub, bob, bob_webapp):
    url_id = bob_webapp["url_id"]
    assert bob_webapp["url"] == app_url(hub, bob_webapp)
    code, listed = bob.get("containers")
    assert [c["url"] for c in listed] == [bob_webapp["url"]]
    # a script with a token: on the apps origin and through the Hub's proxy
    for origin in (hub.apps_url.rstrip("/"), hub.url):
        page = get(app_url(hub, bob_webapp, origin=origin), token=bob.token)
        assert page.status_code == 200 and WEBAPP_TEXT in page.text, (origin, page.text[:200])
        assert "X-Frame-Options" not in page.headers
        assert f"frame-ancestors 'self' {hub.url}" in page.headers["Content-Security-Policy"]
    # the browser with its cookie on the apps origin
    bob.login_to_service()
    page = bob.session.get(bob_webapp["url"], timeout=30, allow_redirects=False)
    assert page.status_code == 200 and WEBAPP_TEXT in page.text
    # ... but not on the Hub's origin: sent to the apps origin (no app script runs there)
    on_hub = bob.session.get(
        app_url(hub, bob_webapp, origin=hub.url) + "x?y=1", timeout=30, allow_redirects=False
    )
    assert on_hub.status_code == 302, on_hub.text[:200]
    assert on_hub.headers["Location"] == app_url(hub, bob_webapp) + "x?y=1"
    # every method reaches the app (busybox httpd answers 501 for itself)
    for method in ("POST", "PUT", "DELETE", "PATCH", "OPTIONS"):
        answer = requests.request(
            method,
            bob_webapp["url"] + "index.html",
            data=b"x" * 1000,
            headers={"Authorization": f"token {bob.token}"},
            timeout=30,
        )
        # the app's answer, not one of the proxy's (JSON {status, message})
        assert answer.headers.get("Content-Type") != "application/json", (method, answer.text)
    # the container path without its slash: redirected to the app's root
    bare = get(bob_webapp["url"].rstrip("/"), token=bob.token, allow_redirects=False)
    assert bare.status_code == 302 and bare.headers["Location"].endswith(f"/{url_id}/")


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
    assert vnc["url"] == app_url(hub, vnc)
    ws_url = vnc["url"].replace("http://", "ws://") + "websockify"
    apps_origin = hub.apps_url.rstrip("/")
    # the browser: its cookie on the apps origin, a page of the apps origin
    bob.login_to_service()
    request = HTTPRequest(ws_url, headers={"Cookie": apps_cookies(bob), "Origin": apps_origin})
    version, width, height = asyncio.run(rfb_server_init(request))
    assert version == b"RFB 003.008\n"
    assert (width, height) == (1024, 768)
    # a script: its token; through the Hub's proxy too
    for url in (
        ws_url,
        ws_url.replace(
            apps_origin.replace("http://", "ws://"), hub.url.replace("http://", "ws://")
        ),
    ):
        request = HTTPRequest(url, headers={"Authorization": f"token {bob.token}"})
        assert asyncio.run(rfb_server_init(request))[0] == b"RFB 003.008\n"
    # a page of another origin (the Hub's) may not open it with the cookie
    request = HTTPRequest(ws_url, headers={"Cookie": apps_cookies(bob), "Origin": hub.url})
    with pytest.raises(Exception, match="403"):
        asyncio.run(rfb_server_init(request))


def apps_cookies(user) -> str:
    return "; ".join(
        f"{c.name}={c.value}" for c in user.session.cookies if c.domain.startswith("127.0.0.2")
    )


def test_bob_gets_404_on_alices_app_by_every_path(hub, alice, bob, alice_webapp):
    url_id = alice_webapp["url_id"]
    for method in ("GET", "DELETE"):
        code, answer = bob.call(method, f"containers/{url_id}")
        assert (code, answer["status"]) == (404, 404), (method, answer)
    assert bob.get(f"containers/{url_id}/logs")[0] == 404
    assert url_id not in [c["url_id"] for c in bob.get("containers")[1]]
    bob.login_to_service()
    refused = {
        "apps origin, bob's token": get(alice_webapp["url"], token=bob.token),
        "apps origin, bob's cookie": bob.session.get(alice_webapp["url"], timeout=30),
        "Hub's origin, bob's token": get(
            app_url(hub, alice_webapp, origin=hub.url), token=bob.token
        ),
        # redirected to the apps origin, where his cookie is: 404 there
        "Hub's origin, bob's cookie": bob.session.get(
            app_url(hub, alice_webapp, origin=hub.url), timeout=30
        ),
        "bob's server, his cookie": bob.session.get(
            f"{hub.url}/user/{BOB}/remoteapp/containers/{url_id}/", timeout=30
        ),
        "bob's server, his token": get(
            f"{hub.url}/user/{BOB}/remoteapp/containers/{url_id}/", token=bob.token
        ),
    }
    for path, answer in refused.items():
        assert answer.status_code == 404 and WEBAPP_TEXT not in answer.text, (
            path,
            answer.status_code,
            answer.url,
        )
    # the WebSocket too
    ws = alice_webapp["url"].replace("http://", "ws://")
    with pytest.raises(Exception, match="404"):
        asyncio.run(
            rfb_server_init(HTTPRequest(ws, headers={"Authorization": f"token {bob.token}"}))
        )
    # alice's server does not let bob in at all
    old = f"{hub.url}/user/{ALICE}/remoteapp/containers/{url_id}/"
    through_alice = bob.session.get(old, timeout=30)
    assert through_alice.status_code in (403, 404) and WEBAPP_TEXT not in through_alice.text
    assert get(old, token=bob.token).status_code in (403, 404)
    code, container = alice.get(f"containers/{url_id}")
    assert code == 200 and container["status"] == "running"
    page = get(alice_webapp["url"], token=alice.token)
    assert page.status_code == 200 and WEBAPP_TEXT in page.text


def test_an_admin_opens_a_users_app(hub, alice, bob, bob_webapp):
    page = get(bob_webapp["url"], token=alice.token)
    assert page.status_code == 200 and WEBAPP_TEXT in page.text
    alice.login_to_service()
    page = alice.session.get(bob_webapp["url"], timeout=30)
    assert page.status_code == 200 and WEBAPP_TEXT in page.text
    # the admin sees bob's app, at the same URL, in the admin listing
    code, page = alice.get("admin/containers")
    assert bob_webapp["url"] in {c["url"] for c in page["items"]}
    # an admin token without the admin scope is just alice's
    plain = hub.user_token(ALICE, ["access:services!service=remoteapp"])
    assert get(bob_webapp["url"], token=plain).status_code == 404


def test_the_old_per_user_path_redirects_and_keeps_older_apps_working(hub, bob, bob_webapp):
    old_path = f"{hub.url}/user/{BOB}/remoteapp/containers/{bob_webapp['url_id']}/"
    answer = bob.session.get(old_path + "a/b?c=d", timeout=30, allow_redirects=False)
    assert answer.status_code == 302, answer.text[:300]
    assert answer.headers["Location"] == bob_webapp["url"] + "a/b?c=d"
    # an app started before the upgrade (under bob's server URL) is proxied there
    older = asyncio.run(start_old_style_app(hub, BOB))
    try:
        page = bob.session.get(hub.url + older.urlpath, timeout=30)
        assert page.status_code == 200 and WEBAPP_TEXT in page.text
        code, listed = bob.get("containers")
        assert older.urlpath in {c["url"] for c in listed}  # its own URL, on the Hub
    finally:
        assert bob.call("DELETE", f"containers/{older.url_id}")[0] == 204
        accounting = open_accounting(str(hub.accounting_file))
        accounting.revoke_mapping(older.mapping_id)
        accounting.close()


async def start_old_style_app(hub, user: str):
    """A container as the service started them before it served container traffic."""
    from remoteapp_server.config import RemoteApp

    config = RemoteApp(accounting_url=str(hub.accounting_file), realm=REALM)
    manager = config.container_manager()
    accounting = open_accounting(str(hub.accounting_file))
    try:
        # a grant of its own: the user's web app grant has a container already
        grant = accounting.grant(WEBAPP, Policy(app_license="older"), user=user)
        return await manager.start(user=user, grant=grant, base_url=f"/user/{user}/")
    finally:
        accounting.close()
        manager.docker.close()


def test_proxy_traffic_is_the_owners_activity_at_the_hub(hub, bob, bob_webapp):
    """Only the desktop is used (traffic on the apps origin, which the Hub's proxy does not
    see): the user's and their server's last_activity still move."""

    def activity() -> tuple[str, str]:
        model = hub.api("GET", f"users/{BOB}").json()
        return model["last_activity"], model["servers"][""]["last_activity"]

    before = activity()
    time.sleep(1.5)  # timestamps have a resolution the Hub keeps; and the throttle (1 s)
    deadline = time.monotonic() + 20
    while True:
        assert get(bob_webapp["url"], token=bob.token).status_code == 200
        now = activity()
        if now[0] > before[0] and now[1] > before[1]:
            break
        assert time.monotonic() < deadline, (before, now, hub.log_tail(40))
        time.sleep(0.5)
    assert f"POST /hub/api/users/{BOB}/activity" in hub.log_path.read_text(errors="replace")


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
    page = get(container["url"], token=bob.token)
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
    # framed from the apps origin
    assert f"connected: {hub.apps_url}services/remoteapp/" in done.stdout, done.stdout
    assert screenshot.stat().st_size > 10_000
    shutil.copy(screenshot, Path(__file__).resolve().parent.parent / ".hub" / "last-hub-vnc.png")
