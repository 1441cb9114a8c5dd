"""A DEMO: every user's Jupyter server runs as the Hub's own OS user (root here).

That is no trust boundary between users: any user's kernel can read every other user's
files and, as root, use docker. Use it to try remoteapp on one machine, not for people
who must be kept apart: for that choose a real authenticator and spawner
(LocalProcessSpawner with system users, DockerSpawner...) and keep the
`configure_hub(...)` call: see docs/jupyterhub.md.

`jupyterhub -f examples/jupyterhub_config.py` works as is on a machine set up by
scripts/setup (run as root, in the checkout): users log in with any name and the password
below (`REMOTEAPP_HUB_PASSWORD`); `alice` gets the remoteapp-admin role. scripts/hub-demo
uses it and grants the demo apps. The remoteapp service runs as the Hub's user: it alone
talks to docker and writes the accounting database, and it serves the apps on their own
origin, http://127.0.0.2:8001/ (`REMOTEAPP_APPS_URL`; another loopback address is another
site for the browser, so apps' scripts cannot reach the Hub's cookies).
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
    # apps on an origin of their own (the service listens there too)
    apps_url=os.environ.get("REMOTEAPP_APPS_URL", "http://127.0.0.2:8001/"),
    admin_users=os.environ.get("REMOTEAPP_HUB_ADMINS", "alice").split(),
    remoteapp_options={"accounting_url": str(state / "remoteapp.sqlite")},
)
