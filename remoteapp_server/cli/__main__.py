"""``python -m remoteapp_server.cli``: the same as ``jupyter remoteapp``."""

from . import main

main()
