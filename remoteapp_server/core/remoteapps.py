"""Moved to :mod:`remoteapp_server.core.operations` (``RemoteApps`` is ``Operations`` now).

Kept only for ``remoteapp_server/hub.py``, which another change is moving; remove this
module once nothing imports it.
"""

from .operations import ADMIN_SCOPE, Identity

__all__ = ["ADMIN_SCOPE", "Identity"]
