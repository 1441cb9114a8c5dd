"""The container proxy: ``<prefix>containers/<url_id>/...`` to the app in the container.

One package for both deployments: :mod:`.handler` is the plain-tornado handler with the
``admit()`` seam, :mod:`.personal` its Jupyter server extension flavour; the JupyterHub
service has its own in ``remoteapp_server.hub``. :mod:`.upstream` is the pooled HTTP/1.1
client, :mod:`.tunnel` the WebSocket byte pipe, :mod:`.headers` what reaches the container,
:mod:`.cache` the one TTL cache type.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .handler import Admission, ContainerProxyHandler, Redirect, no_container, proxy_route
    from .upstream import ProxyClient

__all__ = [
    "Admission",
    "ContainerProxyHandler",
    "ProxyClient",
    "Redirect",
    "no_container",
    "proxy_route",
]


def __getattr__(name: str) -> Any:
    # lazily: the core imports .http1 (no tornado) and must not pull in the web handlers
    if name == "ProxyClient":
        from .upstream import ProxyClient

        return ProxyClient
    if name in __all__:
        from . import handler

        return getattr(handler, name)
    raise AttributeError(name)
