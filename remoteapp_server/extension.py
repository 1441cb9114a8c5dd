"""The Jupyter Server extension.

The REST API and the container proxy are registered here (``handlers/``); the core
objects are built once from :class:`remoteapp_server.config.RemoteApp` and handed to the
handlers through the tornado settings.
"""

from __future__ import annotations

from jupyter_server.extension.application import ExtensionApp

from .config import RemoteApp


class RemoteAppExtension(ExtensionApp):
    name = "remoteapp_server"
    description = "Dockerized desktop and web applications in JupyterLab tabs."
    classes = [RemoteApp]

    def initialize_settings(self):
        self.remoteapp = RemoteApp(parent=self)
        self.log.info("remoteapp: accounting at %s", self.remoteapp.accounting_url)

    def initialize_handlers(self):
        # The REST API v1 and the container proxy come with their own module.
        pass
