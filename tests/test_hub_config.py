"""The JupyterHub configuration helper (no Hub needed; tests/test_hub.py runs a real one)."""

from __future__ import annotations

import subprocess
import sys

from traitlets.config import Config

from remoteapp_server.hub import ACCESS_SCOPE, ADMIN_ROLE, configure_hub, hub_config

ADMIN = "custom:remoteapp:admin"


def test_hub_config_has_the_service_scopes_roles_and_spawner_settings():
    config = hub_config(admin_users=["alice"], remoteapp_options={"realm": "hub"})
    (service,) = config["JupyterHub"]["services"]
    assert (service["name"], service["url"]) == ("remoteapp", "http://127.0.0.1:10101")
    assert service["command"][1:] == ["-m", "remoteapp_server.hub.service", "--RemoteApp.realm=hub"]
    assert ADMIN in config["JupyterHub"]["custom_scopes"]
    roles = {role["name"]: role for role in config["JupyterHub"]["load_roles"]}
    assert roles[ADMIN_ROLE]["scopes"] == [ADMIN] and roles[ADMIN_ROLE]["users"] == ["alice"]
    assert roles["user"]["scopes"] == ["self", ACCESS_SCOPE]
    spawner = config["Spawner"]
    assert set(spawner["oauth_client_allowed_scopes"]) == {ACCESS_SCOPE, ADMIN}
    assert {"users:activity!user", "access:servers!server", ACCESS_SCOPE, ADMIN} == set(
        spawner["server_token_scopes"]
    )
    assert spawner["environment"] == {
        "REMOTEAPP_SERVICE_URL": "http://127.0.0.1:10101/services/remoteapp/"
    }


def test_configure_hub_adds_to_what_is_configured():
    c = Config()
    c.JupyterHub.services = [{"name": "other", "api_token": "x"}]
    c.Spawner.environment = {"KEEP": "1"}
    configure_hub(c, servers_service_url="http://172.17.0.1:10101/services/remoteapp/")
    assert [s["name"] for s in c.JupyterHub.services] == ["other", "remoteapp"]
    assert c.Spawner.environment == {
        "KEEP": "1",
        "REMOTEAPP_SERVICE_URL": "http://172.17.0.1:10101/services/remoteapp/",
    }


def test_the_printed_config_is_python_that_configures_the_same():
    printed = subprocess.run(
        [sys.executable, "-m", "remoteapp_server.cli", "hub-config", "--admin-user", "alice"]
        + ["--admin-user", "bob", "--db", "/srv/remoteapp.sqlite"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    c = Config()
    c.JupyterHub.services = []
    c.JupyterHub.load_roles = []
    c.JupyterHub.custom_scopes = {}
    c.Spawner.environment = {}
    exec(printed, {"c": c})
    (service,) = c.JupyterHub.services
    assert service["command"][-1] == "--RemoteApp.accounting_url=/srv/remoteapp.sqlite"
    roles = {role["name"]: role for role in c.JupyterHub.load_roles}
    assert roles[ADMIN_ROLE]["users"] == ["alice", "bob"]
    assert ADMIN in c.JupyterHub.custom_scopes
    assert c.Spawner.server_token_scopes[-1] == ADMIN
