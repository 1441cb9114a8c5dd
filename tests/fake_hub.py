"""A stand-in for JupyterHub's identity provider, for tests of the single-user extension.

JupyterHub's own provider turns the request's token or cookie into a ``User`` whose
``hub_user`` is the Hub's user model (name, groups, scopes). Here tokens map to fixed
models, so one server can be called as several Hub users with and without the
``custom:remoteapp:admin`` scope. The real Hub is exercised in the JupyterHub tests.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from jupyter_server.auth.identity import IdentityProvider, User

ADMIN = "custom:remoteapp:admin"

HUB_USERS = {
    "alice-token": {"name": "alice", "groups": ["staff"], "scopes": [ADMIN, "access:servers"]},
    "bob-token": {"name": "bob", "groups": ["physics"], "scopes": ["access:servers"]},
    "carol-token": {"name": "carol@example.org", "groups": [], "scopes": []},
    # a name with unicode, HTML and shell metacharacters (tests/test_bad_input.py)
    "mallory-token": {"name": "Mal-lörý <b>$(id)</b>; `x` 'q\"", "groups": [], "scopes": []},
}


@dataclass
class HubUser(User):
    hub_user: dict = field(default_factory=dict)


class FakeHubIdentityProvider(IdentityProvider):
    def get_user(self, handler):
        header = handler.request.headers.get("Authorization", "")
        token = header.split(" ", 1)[1] if " " in header else ""
        model = HUB_USERS.get(token)
        if model is None:
            return None
        handler._token_authenticated = True  # as the Hub's provider: no XSRF for tokens
        return HubUser(username=model["name"], hub_user=dict(model))

    @property
    def auth_enabled(self):
        return True
