"""A real browser through a real JupyterHub: log in, start the desktop from the Lab's
launcher, noVNC connects inside the Lab tab, framed from the apps origin.

A Hub of its own (the Hub in tests/test_hub.py is on loopback addresses, which are sites
of their own for the browser): here the Hub is ``http://hub.localhost:P`` and the apps
origin ``http://apps.localhost:Q`` (Chromium resolves ``*.localhost`` to 127.0.0.1). Two
origins, so the app's scripts cannot touch the Hub's or the Lab's cookies, DOM or API,
but one *site*, as ``hub.example.org`` and ``apps.hub.example.org`` are: Chromium gives a
cross-site frame no localStorage (it blocks third-party cookies), and noVNC needs it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import REALM, VNCAPP
from hub_helpers import PASSWORD, HubUser, ensure_chp, free_port, run_hub

pytestmark = [pytest.mark.hub, pytest.mark.docker, pytest.mark.slow]

USER = "rtbob"
UI_TESTS = Path(__file__).resolve().parent.parent / "ui-tests"


@pytest.fixture(scope="module")
def hub(docker_client):
    if os.geteuid() != 0:
        pytest.skip("needs root: creates system users and spawns servers as them")
    if shutil.which("npm") is None:
        pytest.skip("needs npm for configurable-http-proxy")
    if not (UI_TESTS / "node_modules" / "@playwright" / "test").exists():
        pytest.skip("ui-tests/node_modules is not installed (scripts/test installs it)")
    ensure_chp()
    apps_port = free_port()
    port = free_port()
    yield from run_hub(
        docker_client,
        users=(USER,),
        admin_users=[],
        realm=REALM,
        images=(VNCAPP,),
        port=port,
        public_url=f"http://hub.localhost:{port}",
        apps_url=f"http://apps.localhost:{apps_port}/",
        apps_listen_url=f"http://127.0.0.1:{apps_port}",
    )


def test_in_chromium_a_user_launches_the_desktop_from_the_launcher(hub, tmp_path):
    """Log in through the Hub, click the desktop in the launcher: noVNC connects in the tab,
    the frame's document on the apps origin, obtained with a ticket."""
    user = HubUser(hub, USER)
    user.login()
    for container in user.get("containers")[1]:  # the launcher starts a fresh one
        assert user.call("DELETE", f"containers/{container['url_id']}")[0] == 204
    screenshot = tmp_path / "hub-vnc.png"
    done = subprocess.run(
        ["node", str(UI_TESTS / "hub" / "vnc-through-hub.js")],
        env={
            **os.environ,
            "HUB_URL": hub.public_url,
            "HUB_USER": USER,
            "HUB_PASSWORD": PASSWORD,
            "SCREENSHOT": str(screenshot),
        },
        capture_output=True,
        text=True,
        timeout=180,
        cwd=UI_TESTS,
    )
    shutil.copy(screenshot, ensure_chp().parents[2] / "last-hub-vnc.png")
    assert done.returncode == 0, done.stdout + done.stderr + hub.log_tail()
    # the iframe's source: the apps origin's ticket endpoint (then the app's own URL)
    assert f"connected: {hub.apps_url}services/remoteapp/apps-session?ticket=" in done.stdout
    assert screenshot.stat().st_size > 10_000
