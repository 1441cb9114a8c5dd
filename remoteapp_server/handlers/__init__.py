"""Tornado handlers: REST API v1 and the container proxy.

Shared by the server extension and the JupyterHub service. Handlers are thin: they
establish the caller's :class:`~remoteapp_server.core.remoteapps.Identity`, call
:class:`~remoteapp_server.core.remoteapps.Operations` and turn domain errors into
``{"status", "message"}`` JSON.
"""
