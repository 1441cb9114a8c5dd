"""JupyterHub with remoteapp and DockerSpawner: every user's server in a container of its own.

    sudo images/build singleuser        # remoteapp/singleuser:latest, built locally
    sudo jupyterhub -f examples/jupyterhub_config_dockerspawner.py

Run as a user who may use docker (root here). What runs where:

- the Hub, configurable-http-proxy and the remoteapp service run on the host; the
  service alone talks to docker and writes the accounting database;
- each user's single-user server (JupyterLab + the remoteapp extension, in hub mode: no
  docker, no database) runs in a container of `remoteapp/singleuser` on the docker
  network `remoteapp-users`, created here if missing, with inter-container traffic off:
  a user's kernel reaches neither another user's server nor any app container;
- the Hub's API and the remoteapp service listen on that network's gateway address (the
  host's address on the bridge), the one address the servers reach them at
  (`hub_ip`, `service_url`/`servers_service_url` of `configure_hub`); browsers use the
  proxy on `REMOTEAPP_HUB_URL` (default http://127.0.0.1:8000);
- app containers publish their port on the host's 127.0.0.1, which the users' containers
  cannot reach: the apps' data path is browser -> proxy -> remoteapp service -> app, never
  through the user's server.

Environment (all optional): REMOTEAPP_HUB_URL, REMOTEAPP_HUB_DIR (state: databases,
cookie secret; default .hub/docker/ of the checkout), REMOTEAPP_HUB_PASSWORD (the
shared password, default remoteapp-demo), REMOTEAPP_HUB_ADMINS (remoteapp admins,
default alice), REMOTEAPP_USERS_NETWORK, REMOTEAPP_SINGLEUSER_IMAGE, REMOTEAPP_HUB_PORT
(8081), REMOTEAPP_SERVICE_PORT (10101). For production choose a real authenticator, put
TLS in front (and an apps origin, see docs/jupyterhub.md), and keep the gateway's ports
firewalled from anything but the users' network and the proxy. See docs/jupyterhub.md,
"DockerSpawner".
"""

import os
from pathlib import Path

import docker
from docker.errors import NotFound

from remoteapp_server.hub import configure_hub

here = Path(__file__).resolve().parent
state = Path(os.environ.get("REMOTEAPP_HUB_DIR", here.parent / ".hub" / "docker"))
state.mkdir(mode=0o700, parents=True, exist_ok=True)
network_name = os.environ.get("REMOTEAPP_USERS_NETWORK", "remoteapp-users")
image = os.environ.get("REMOTEAPP_SINGLEUSER_IMAGE", "remoteapp/singleuser:latest")


def users_network(name: str) -> str:
    """The gateway address of the users' network (created when missing)."""
    client = docker.from_env()
    try:
        network = client.networks.get(name)
    except NotFound:
        network = client.networks.create(
            name,
            driver="bridge",
            # containers of different users cannot talk to each other; each still
            # reaches the gateway (the Hub and the service) and the outside world
            options={"com.docker.network.bridge.enable_icc": "false"},
            labels={"remoteapp.network": "users"},
        )
        network.reload()
    configs = network.attrs["IPAM"]["Config"] or []
    gateways = [conf["Gateway"] for conf in configs if conf.get("Gateway")]
    if not gateways:
        raise RuntimeError(f"docker network {name!r} has no IPv4 gateway")
    return gateways[0]


gateway = users_network(network_name)

c = get_config()  # noqa: F821 (provided by JupyterHub)

c.JupyterHub.bind_url = os.environ.get("REMOTEAPP_HUB_URL", "http://127.0.0.1:8000")
# The Hub's API on the users' network: the servers (and the proxy) connect to it there
c.JupyterHub.hub_ip = gateway
c.JupyterHub.hub_port = int(os.environ.get("REMOTEAPP_HUB_PORT", "8081"))
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

c.JupyterHub.spawner_class = "docker"
c.DockerSpawner.image = image
c.DockerSpawner.network_name = network_name
# The Hub and the proxy reach each server at a port published on the host's 127.0.0.1
# (`use_internal_ip = True` would reach it at its address on the network instead)
c.DockerSpawner.use_internal_ip = False
c.DockerSpawner.host_ip = "127.0.0.1"
c.DockerSpawner.remove = True  # a stopped server's container goes; its volume stays
c.DockerSpawner.notebook_dir = "/home/jovyan/work"
c.DockerSpawner.volumes = {"remoteapp-user-{username}": "/home/jovyan/work"}
c.DockerSpawner.pull_policy = "never"  # built locally by images/build
c.Spawner.default_url = "/lab"
c.Spawner.http_timeout = 60
c.Spawner.start_timeout = 120

service_url = f"http://{gateway}:{os.environ.get('REMOTEAPP_SERVICE_PORT', '10101')}"
configure_hub(
    c,
    # the service listens on the gateway: the proxy routes /services/remoteapp/ there and
    # the servers' façade forwards the Lab's remoteapp API calls there
    # (servers_service_url defaults to service_url + /services/remoteapp/)
    service_url=service_url,
    # the Hub's public URL: the Lab's origin, the only one that may frame apps and open
    # the desktops' RFB WebSockets (the service cannot tell it from the façade's calls)
    hub_url=c.JupyterHub.bind_url,
    admin_users=os.environ.get("REMOTEAPP_HUB_ADMINS", "alice").split(),
    remoteapp_options={"accounting_url": str(state / "remoteapp.sqlite")},
)
