"""End to end with DockerSpawner: a real JupyterHub running
examples/jupyterhub_config_dockerspawner.py (configurable-http-proxy, the remoteapp
service on the host, every user's single-user server in a container of the locally built
``remoteapp/singleuser`` image on a docker network of its own), real docker, scripted
browser logins, real kernels in the users' containers.

The users' servers cannot reach the host's 127.0.0.1, where app containers publish their
ports: the Lab's remoteapp API goes through the server's façade to the service (at the
users' network gateway), and the app is reached through the service's data path at
``/services/remoteapp/containers/<url_id>/``, in Chromium too (noVNC in a Lab tab).

Needs root (images/build singleuser: debootstrap on a cache miss, ~3 min cold; ~50 s when
only the checkout changed; seconds when up to date), docker, npm and the demo images.
This test contacts only 127.0.0.1; the containers reach the Hub and the service at the
gateway of their network, the host's own address on that bridge.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from conftest import REALM, VNCAPP, WEBAPP, realm_containers, rfb_server_init
from hub_helpers import PASSWORD, VENV_BIN, Hub, HubUser, ensure_chp, free_port
from tornado.httpclient import HTTPRequest

from remoteapp_server.core.accounting import Policy, open_accounting

pytestmark = [pytest.mark.hub, pytest.mark.docker, pytest.mark.slow]

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "jupyterhub_config_dockerspawner.py"
SINGLEUSER = "remoteapp/singleuser:latest"
ALICE, BOB = "rdalice", "rdbob"
WEBAPP_TEXT = "remoteapp demo web app"
#: labels DockerSpawner's containers of this run carry (for the cleanup)
SPAWNER_LABEL = "remoteapp.test.dockerspawner-realm"
SERVICE_PREFIX = "/services/remoteapp/containers/"


class DockerSpawnerHub(Hub):
    """The example configuration, plus this run's ports, state, realm and harness."""

    def __init__(self, workdir: Path, *, network: str, **kwargs):
        super().__init__(workdir, user_python=Path(sys.executable), **kwargs)
        self.network = network

    def write_config(self) -> Path:
        config = self.workdir / "jupyterhub_config.py"
        environment = {
            "REMOTEAPP_HUB_URL": self.url,
            "REMOTEAPP_HUB_DIR": str(self.workdir),
            "REMOTEAPP_HUB_PASSWORD": PASSWORD,
            "REMOTEAPP_HUB_ADMINS": " ".join(self.admin_users),
            "REMOTEAPP_USERS_NETWORK": self.network,
            "REMOTEAPP_SINGLEUSER_IMAGE": SINGLEUSER,
            "REMOTEAPP_HUB_PORT": str(free_port()),
            "REMOTEAPP_SERVICE_PORT": str(self.service_port),
        }
        service_options = [
            f"--RemoteApp.realm={self.realm}",
            "--RemoteApp.stop_timeout=1",
            "--RemoteApp.start_timeout=30",
        ]
        config.write_text(
            textwrap.dedent(
                f"""
                import os

                os.environ.update({environment!r})
                load_subconfig({str(EXAMPLE)!r})

                c.ConfigurableHTTPProxy.command = [{str(ensure_chp())!r}]
                c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{free_port()}"
                c.JupyterHub.log_level = "DEBUG"
                # this run's containers and volumes, and nobody else's
                c.DockerSpawner.prefix = {self.realm!r}
                c.DockerSpawner.extra_create_kwargs = {{
                    "labels": {{{SPAWNER_LABEL!r}: {self.realm!r}}}
                }}
                c.DockerSpawner.volumes = {{
                    {self.realm + "-{username}"!r}: "/home/jovyan/work"
                }}
                # the example's configure_hub extended the services (a LazyConfigValue):
                # take its value, add to it, set it
                services = c.JupyterHub.services.get_value([])
                remoteapp = next(s for s in services if s["name"] == "remoteapp")
                remoteapp["command"] += {service_options!r}
                # the test harness: creates users, starts their servers, reads tokens
                services.append({{"name": "harness", "api_token": {self.harness_token!r}}})
                c.JupyterHub.services = services
                c.JupyterHub.load_roles.append(
                    {{
                        "name": "harness",
                        "scopes": ["admin:users", "admin:servers", "tokens"],
                        "services": ["harness"],
                    }}
                )
                """
            )
        )
        return config


def build_singleuser_image() -> float:
    """images/build singleuser (cached by source hash); returns the seconds it took."""
    started = time.monotonic()
    done = subprocess.run(
        [str(ROOT / "images" / "build"), "singleuser"],
        env={**os.environ, "PATH": f"{VENV_BIN}:{os.environ['PATH']}", "PYTHON": sys.executable},
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return time.monotonic() - started


def spawner_containers(docker_client) -> list:
    return docker_client.containers.list(all=True, filters={"label": f"{SPAWNER_LABEL}={REALM}"})


@pytest.fixture(scope="module")
def hub(docker_client):
    if os.geteuid() != 0:
        pytest.skip("needs root: images/build singleuser (debootstrap, chroot)")
    if shutil.which("npm") is None:
        pytest.skip("needs npm for configurable-http-proxy")
    ensure_chp()
    build_singleuser_image()
    base = Path(tempfile.mkdtemp(prefix="remoteapp-dockerspawner-test-"))
    base.chmod(0o700)
    accounting_file = base / "remoteapp.sqlite"
    accounting = open_accounting(str(accounting_file))
    grants: dict[str, dict[str, str]] = {}
    for image in (WEBAPP, VNCAPP):
        accounting.create_application(image)
    for name in (ALICE, BOB):
        accounting.create_user(name)
        grants[name] = {
            image: accounting.grant(image, Policy(), user=name).mapping_id
            for image in (WEBAPP, VNCAPP)
        }
    accounting.close()
    network = f"{REALM}-users"
    hub = DockerSpawnerHub(
        base,
        network=network,
        admin_users=[ALICE],
        realm=REALM,
        accounting_url=str(accounting_file),
    )
    hub.grants = grants
    try:
        hub.start()
        hub.start_servers([ALICE, BOB], timeout=120)
        yield hub
    finally:
        hub.stop()
        shutil.copy(hub.log_path, ensure_chp().parents[2] / "last-test-hub-dockerspawner.log")
        for container in spawner_containers(docker_client) + realm_containers(docker_client):
            container.remove(force=True)
        for volume in docker_client.volumes.list(filters={"name": REALM}):
            if volume.name.startswith(f"{REALM}-"):
                volume.remove(force=True)
        try:
            docker_client.networks.get(network).remove()
        except Exception:  # noqa: BLE001 (never created: the Hub did not start)
            pass
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


def app_url(hub: DockerSpawnerHub, container: dict) -> str:
    """Where a browser opens the app: the service's data path, on the apps origin or,
    with none configured, through the Hub's proxy — never the owner's server, which a
    DockerSpawner'd server could not serve (it does not reach the host's 127.0.0.1)."""
    url = container["url"]
    absolute = url if "://" in url else hub.url + url
    assert urlsplit(absolute).path.startswith(SERVICE_PREFIX), url
    return absolute


def test_the_image_holds_this_checkouts_wheel_enabled_in_lab_and_server(hub, docker_client):
    """The wheel installed in a fresh venv with JupyterLab (no Node there): both
    extensions enabled, and the Python package is this checkout's."""
    script = textwrap.dedent(
        """
        import hashlib, json, pathlib, subprocess
        import remoteapp_server
        package = pathlib.Path(remoteapp_server.__file__).parent
        lists = {
            name: subprocess.run(
                command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
            ).stdout
            for name, command in (
                ("server", ["jupyter", "server", "extension", "list"]),
                ("lab", ["jupyter", "labextension", "list"]),
            )
        }
        print(json.dumps({
            "files": {str(p.relative_to(package)): hashlib.sha256(p.read_bytes()).hexdigest()
                      for p in package.rglob("*.py")},
            "lists": lists,
            "node": subprocess.run(["sh", "-c", "command -v node"],
                                   capture_output=True).returncode == 0,
        }))
        """
    )
    output = docker_client.containers.run(
        SINGLEUSER, ["python", "-c", script], remove=True, environment={"NO_COLOR": "1"}
    )
    result = json.loads(output)
    strip = re.compile(r"\x1b\[[0-9;]*m")
    server, lab = (strip.sub("", result["lists"][k]) for k in ("server", "lab"))
    assert re.search(r"remoteapp_server enabled", server), server
    assert re.search(r"remoteapp v\S+ enabled OK \(python, remoteapp\)", lab), lab
    assert not result["node"]
    checkout = ROOT / "remoteapp_server"
    mine = {
        str(p.relative_to(checkout)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in checkout.rglob("*.py")
        if "__pycache__" not in p.parts
    }
    assert result["files"] == mine


def test_each_server_is_a_container_of_the_singleuser_image_on_the_users_network(
    hub, docker_client, alice, bob
):
    by_user = {c.name.rsplit("-", 1)[-1]: c for c in spawner_containers(docker_client)}
    assert set(by_user) == {ALICE, BOB}
    for name, container in by_user.items():
        config = container.attrs["Config"]
        assert container.image.tags == [SINGLEUSER] and container.status == "running"
        assert config["User"] == "1000:1000", name  # unprivileged, as the image says
        assert set(container.attrs["NetworkSettings"]["Networks"]) == {hub.network}
        env = dict(item.split("=", 1) for item in config["Env"])
        # the Hub and the service: at the network's gateway, not at the host's 127.0.0.1
        gateway = docker_client.networks.get(hub.network).attrs["IPAM"]["Config"][0]["Gateway"]
        assert env["REMOTEAPP_SERVICE_URL"] == (
            f"http://{gateway}:{hub.service_port}/services/remoteapp/"
        )
        assert env["JUPYTERHUB_API_URL"].startswith(f"http://{gateway}:")
        mounts = {m["Destination"] for m in container.attrs["Mounts"]}
        assert mounts == {"/home/jovyan/work"}  # no docker socket, no accounting
        ports = container.attrs["NetworkSettings"]["Ports"]["8888/tcp"]
        assert {p["HostIp"] for p in ports} == {"127.0.0.1"}


def test_the_lab_api_goes_through_the_facade_to_the_service(hub, docker_client, alice, bob):
    for user, admin in ((alice, True), (bob, False)):
        code, me = user.get("me")
        assert code == 200, me
        assert (me["name"], me["admin"], me["mode"]) == (user.name, admin, "hub")
        code, entries = user.get("applications")
        assert code == 200, entries
        assert {e["mapping_id"] for e in entries} == set(hub.grants[user.name].values())
    # the service answers, to a caller at bob's container's address: his server's façade
    # (the service logs its answers other than 2xx)
    bob_server = next(c for c in spawner_containers(docker_client) if c.name.endswith(BOB))
    bob_ip = bob_server.attrs["NetworkSettings"]["Networks"][hub.network]["IPAddress"]
    code, answer = bob.get("containers/0123456789abcdef0123456789abcdef")
    assert (code, answer["status"]) == (404, 404)
    line = f"404 GET /services/remoteapp/api/containers/0123456789abcdef0123456789abcdef ({bob_ip})"
    deadline = time.monotonic() + 10  # the service logs after it answered
    while line not in hub.log_path.read_text(errors="replace"):
        assert time.monotonic() < deadline, f"not in the service's log: {line}"
        time.sleep(0.2)
    code, answer = bob.get("admin/users")
    assert (code, answer["status"]) == (403, 403)
    code, stats = alice.get("admin/stats")
    assert code == 200 and stats["users"] == 2, stats


def test_a_user_starts_an_app_through_the_lab_api_and_reaches_it(hub, bob, bob_webapp):
    code, listed = bob.get("containers")
    assert code == 200 and [c["url_id"] for c in listed] == [bob_webapp["url_id"]]
    code, container = bob.get(f"containers/{bob_webapp['url_id']}")
    assert code == 200 and container["status"] == "running", container
    page = bob.session.get(app_url(hub, bob_webapp), timeout=30)
    assert page.status_code == 200 and WEBAPP_TEXT in page.text, page.status_code
    assert not page.url.startswith(f"{hub.url}/user/")


def test_start_progress_streams_through_the_facade_and_the_vnc_websocket_answers(hub, bob):
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
    url = app_url(hub, vnc)
    # a browser visit first: the service's (or the apps origin's) cookie
    assert bob.session.get(url, timeout=30).status_code == 200
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(url))
    ws_url = url.replace("http://", "ws://") + "websockify"
    request = HTTPRequest(ws_url, headers={"Cookie": bob.cookie_header(), "Origin": origin})
    version, width, height = asyncio.run(rfb_server_init(request))
    assert version == b"RFB 003.008\n"
    assert (width, height) == (1024, 768)


def test_bob_gets_404_for_alices_app(hub, alice, bob):
    code, container = alice.call("POST", "containers", {"mapping_id": hub.grants[ALICE][WEBAPP]})
    assert code == 201, container
    for method in ("GET", "DELETE"):
        code, answer = bob.call(method, f"containers/{container['url_id']}")
        assert (code, answer["status"]) == (404, 404), (method, answer)
    page = bob.session.get(app_url(hub, container), timeout=30)
    assert page.status_code == 404 and WEBAPP_TEXT not in page.text


def test_a_users_kernel_reaches_neither_the_app_nor_docker_nor_other_servers(
    hub, docker_client, alice, bob, bob_webapp
):
    """The server's container cannot reach where the app listens (the host's 127.0.0.1),
    nor docker, nor alice's server on the same network (inter-container traffic off)."""
    app = next(c for c in realm_containers(docker_client) if bob_webapp["url_id"] in str(c.labels))
    app_port = int(next(iter(app.attrs["NetworkSettings"]["Ports"].values()))[0]["HostPort"])
    alice_server = next(c for c in spawner_containers(docker_client) if c.name.endswith(ALICE))
    alice_ip = alice_server.attrs["NetworkSettings"]["Networks"][hub.network]["IPAddress"]
    code = textwrap.dedent(
        f"""
        import errno, json, os, socket

        def attempt(address, family=socket.AF_INET):
            try:
                with socket.socket(family) as sock:
                    sock.settimeout(3)
                    sock.connect(address)
                return "connected"
            except socket.timeout:
                return "timeout"
            except OSError as exc:
                return errno.errorcode.get(exc.errno, str(exc.errno))

        print(json.dumps({{
            "uid": os.getuid(),
            "app": attempt(("127.0.0.1", {app_port})),
            "docker": attempt("/var/run/docker.sock", socket.AF_UNIX),
            "alice": attempt(({alice_ip!r}, 8888)),
            "docker_host": os.environ.get("DOCKER_HOST"),
        }}))
        """
    )
    result = json.loads(bob.execute(code))
    assert result["uid"] == 1000
    assert result["app"] == "ECONNREFUSED"  # the container's own loopback
    assert result["docker"] == "ENOENT"
    assert result["alice"] in ("timeout", "EHOSTUNREACH", "ECONNREFUSED"), result
    assert result["docker_host"] is None
    # ... and the server still does everything through the service
    assert bob.get("containers")[0] == 200


def test_in_chromium_a_user_launches_the_desktop_from_the_launcher(
    hub, docker_client, bob, tmp_path
):
    """Log in through the Hub, click the desktop in the launcher: noVNC connects in the
    tab, served from the service's data path (the server's container is not in it)."""
    ui_tests = ROOT / "ui-tests"
    if not (ui_tests / "node_modules" / "@playwright" / "test").exists():
        pytest.skip("ui-tests/node_modules is not installed (scripts/test installs it)")
    code, containers = bob.get("containers")
    for container in containers:  # the launcher starts a fresh one
        assert bob.call("DELETE", f"containers/{container['url_id']}")[0] == 204
    code, started = bob.call("POST", "containers", {"mapping_id": hub.grants[BOB][WEBAPP]})
    assert code == 201
    app_url(hub, started)
    screenshot = tmp_path / "hub-dockerspawner-vnc.png"
    done = subprocess.run(
        ["node", str(ui_tests / "hub" / "vnc-through-hub.js")],
        env={
            **os.environ,
            "HUB_URL": hub.url,
            "HUB_USER": BOB,
            "HUB_PASSWORD": PASSWORD,
            # no apps origin configured: the apps are on the Hub's (the proxy's) origin
            "APPS_URL": f"{hub.url}/",
            "SCREENSHOT": str(screenshot),
        },
        capture_output=True,
        text=True,
        timeout=180,
        cwd=ui_tests,
    )
    if done.returncode != 0:
        apps = "\n".join(
            f"--- {c.name} ({c.status}):\n{c.logs(tail=30).decode(errors='replace')}"
            for c in realm_containers(docker_client)
        )
        raise AssertionError(f"{done.stdout}{done.stderr}\n{apps}\n{hub.log_tail(40)}")
    # noVNC's RFB client in the Lab page, its WebSocket (with a ticket) on the Hub's
    # origin through the proxy to the service: no user server in the path
    websocket = f"websocket: {hub.url.replace('http', 'ws', 1)}{SERVICE_PREFIX}"
    assert websocket in done.stdout, done.stdout
    assert "/websockify?remoteapp-ticket=" in done.stdout, done.stdout
    assert "connected: Connected" in done.stdout, done.stdout
    assert screenshot.stat().st_size > 10_000
    shutil.copy(screenshot, ensure_chp().parents[2] / "last-hub-dockerspawner-vnc.png")
