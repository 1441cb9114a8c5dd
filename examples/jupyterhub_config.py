"""JupyterHub with remoteapp, on one host: `jupyterhub -f examples/jupyterhub_config.py`.

A DEMO: every user's server runs as the Hub's own OS user (root here), so users are not
isolated from each other. For servers in containers of their own see
examples/jupyterhub_config_dockerspawner.py.

Works as is on a machine set up by scripts/setup (run as root, in the checkout): users log
in with any name and the password below (`REMOTEAPP_HUB_PASSWORD`), their servers run as
the Hub's user (SimpleLocalProcessSpawner, so no system accounts are needed); `alice`
gets the remoteapp-admin role. scripts/hub-demo uses it and grants the demo apps.

For a real deployment keep the `configure_hub(...)` call and choose a real authenticator
and spawner (LocalProcessSpawner with system users, DockerSpawner...): see
docs/jupyterhub.md. The remoteapp service runs as the Hub's user (root here): it alone
talks to docker and writes the accounting database.
"""

import os
import sys
from pathlib import Path

from remoteapp_server.hub import configure_hub

here = Path(__file__).resolve().parent
state = Path(os.environ.get("REMOTEAPP_HUB_DIR", here.parent / ".hub"))
state.mkdir(mode=0o700, parents=True, exist_ok=True)
venv_bin = Path(sys.executable).parent

c = get_config()  # noqa: F821 (provided by JupyterHub)

c.JupyterHub.bind_url = os.environ.get("REMOTEAPP_HUB_URL", "http://127.0.0.1:8000")
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.db_url = f"sqlite:///{state}/jupyterhub.sqlite"
c.JupyterHub.cookie_secret_file = str(state / "jupyterhub_cookie_secret")
c.JupyterHub.pid_file = str(state / "jupyterhub.pid")
chp = here.parent / ".hub" / "node_modules" / ".bin" / "configurable-http-proxy"
if chp.exists():  # installed by scripts/setup; else the one on $PATH
    c.ConfigurableHTTPProxy.command = [str(chp)]
c.ConfigurableHTTPProxy.pid_file = str(state / "jupyterhub-proxy.pid")

c.JupyterHub.authenticator_class = "shared-password"
c.SharedPasswordAuthenticator.user_password = os.environ.get(
    "REMOTEAPP_HUB_PASSWORD", "remoteapp-demo"
)
c.Authenticator.allow_all = True

# Single-user servers as the Hub's own OS user: fine for a demo, NOT a trust boundary
# between users. With LocalProcessSpawner each user runs as their own system account.
c.JupyterHub.spawner_class = "simple"
c.Spawner.cmd = [str(venv_bin / "jupyterhub-singleuser")]
c.Spawner.default_url = "/lab"
c.SimpleLocalProcessSpawner.home_dir_template = str(state / "home" / "{username}")
if os.geteuid() == 0:
    c.Spawner.args = ["--allow-root"]

configure_hub(
    c,
    # the service listens here; single-user servers on this host reach it directly
    service_url="http://127.0.0.1:10101",
    admin_users=os.environ.get("REMOTEAPP_HUB_ADMINS", "alice").split(),
    remoteapp_options={"accounting_url": str(state / "remoteapp.sqlite")},
)
