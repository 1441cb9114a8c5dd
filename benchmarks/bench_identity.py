"""The identity provider of the benchmark's Jupyter server (imported by the server process).

The server's own token (``--IdentityProvider.token``) is its owner, as on a workstation
(personal mode). The tokens in ``$REMOTEAPP_BENCH_USERS`` (JSON ``{token: name}``) are
further users with a JupyterHub-like user model, as a single-user server behind
JupyterHub sees them: the concurrency benchmark starts apps as ten different users.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

from jupyter_server.auth.identity import IdentityProvider, User

USERS: dict[str, str] = json.loads(os.environ.get("REMOTEAPP_BENCH_USERS") or "{}")


@dataclass
class BenchHubUser(User):
    hub_user: dict = field(default_factory=dict)


class BenchIdentityProvider(IdentityProvider):
    def get_user(self, handler):
        header = handler.request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        name = USERS.get(token.strip()) if scheme.lower() == "token" else None
        if name is None:
            return super().get_user(handler)
        handler._token_authenticated = True  # as JupyterHub's provider: no XSRF for tokens
        return BenchHubUser(username=name, hub_user={"name": name, "groups": [], "scopes": []})
