"""What every ``jupyter remoteapp`` command shares: options, config files, errors."""

from __future__ import annotations

import sys

from jupyter_core.application import JupyterApp
from traitlets import Unicode
from traitlets.config import Application

from .. import __version__
from ..client import RemoteAppClientError
from ..config import RemoteApp
from ..core.errors import RemoteAppError


class UsageError(Exception):
    """Wrong arguments: the usage is printed and the exit code is 2."""


class Command(JupyterApp):
    """Base of every leaf command: shared options, config files, error handling."""

    version = __version__
    config_file_name = Unicode("jupyter_remoteapp_config")
    #: ``jupyter remoteapp user create NAME`` → "user create NAME"
    usage_line = ""
    aliases = {"db": "RemoteApp.accounting_url", "log-level": "Application.log_level"}
    flags = {}
    classes = [RemoteApp]

    def load_config_file(self, suppress_errors=True):
        # the server's config first, so ``c.RemoteApp`` written for the server applies here
        Application.load_config_file(self, "jupyter_server_config", path=self.config_file_paths)
        super().load_config_file(suppress_errors=suppress_errors)

    @property
    def settings(self) -> RemoteApp:
        if not hasattr(self, "_settings"):
            self._settings = RemoteApp(parent=self)
        return self._settings

    def start(self):
        try:
            self.run()
        except UsageError as exc:
            print(f"usage: jupyter remoteapp {self.usage_line}\nerror: {exc}", file=sys.stderr)
            self.exit(2)
        except RemoteAppError as exc:
            print(f"jupyter remoteapp: error: {exc.message}", file=sys.stderr)
            self.exit(1)
        except RemoteAppClientError as exc:
            print(f"jupyter remoteapp: error: {exc}", file=sys.stderr)
            self.exit(1)

    def run(self) -> None:
        raise NotImplementedError

    def args(self, count: int, names: str) -> list[str]:
        if len(self.extra_args) != count:
            raise UsageError(f"expected {names}, got {len(self.extra_args)} argument(s)")
        return list(self.extra_args)

    def accounting(self):
        return self.settings.open_accounting()


class Group(JupyterApp):
    """A command with subcommands and nothing to do of its own."""

    version = __version__

    def start(self):
        if self.subapp is None:
            names = ", ".join(sorted(self.subcommands))
            where = "" if self.parent is None else f" {self.name}"
            print(f"jupyter remoteapp{where}: choose a subcommand: {names}", file=sys.stderr)
            self.exit(2)
        return self.subapp.start()
