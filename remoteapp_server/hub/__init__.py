"""remoteapp behind JupyterHub.

- :mod:`.config`: the JupyterHub configuration (``configure_hub(c, ...)``, also
  ``jupyter remoteapp hub-config``);
- :mod:`.service`: the managed service (``python -m remoteapp_server.hub.service``): REST
  API v1, docker, the accounting, and the container traffic of every user;
- :mod:`.proxy`: how the service's container proxy authenticates and authorizes;
- :mod:`.activity`: container traffic reported to the Hub as its owner's activity;
- :mod:`.facade`: the single-user server's side (API forwarded to the service).

Importing this package loads only the configuration helpers (a ``jupyterhub_config.py``
imports it).
"""

from .config import ACCESS_SCOPE, ADMIN_ROLE, configure_hub, hub_config, hub_config_text

__all__ = ["ACCESS_SCOPE", "ADMIN_ROLE", "configure_hub", "hub_config", "hub_config_text"]
