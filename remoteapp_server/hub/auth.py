"""How the service knows who is calling: JupyterHub's HubOAuth, through its public API.

- :func:`authenticate` asks the Hub (asynchronously, with HubAuth's own short cache) for
  the user model of the request's token — ``Authorization: token``, or the service's
  OAuth cookie — checks the access scope with ``check_hub_user`` and sets tornado's
  ``current_user`` (tornado documents setting it in ``prepare``), so that
  HubAuthenticated's blocking ``get_current_user`` never runs;
- :class:`StatelessHubOAuth` keeps the OAuth state of a login in the state itself,
  signed, instead of HubOAuth's in-memory dictionary: the login may start in one worker
  process and end in another (``c.RemoteAppService.workers``);
- :class:`OAuthCallbackHandler` is JupyterHub's callback, given its ``hub_auth``.

Tested with jupyterhub 6.1 (pinned ``jupyterhub>=5,<7`` in pyproject.toml): the methods
overridden here (``generate_state``, ``get_next_url``, ``get_code_verifier``,
``get_state_cookie_name``, ``clear_oauth_state``) are HubOAuth's public state API since
JupyterHub 6.0 (PKCE), and ``HubOAuthCallbackHandler.get`` is written against them.
"""

from __future__ import annotations

import base64
import hmac
import json
import secrets
import time
from typing import Any

from jupyterhub.services.auth import (
    HubAuthenticated,
    HubOAuth,
    HubOAuthCallbackHandler,
    UserNotAllowed,
)
from tornado import web


def derived_secret(api_token: str, purpose: str) -> bytes:
    """A 32-byte secret for ``purpose``, the same in every worker and across restarts.

    Derived from the service's API token, which JupyterHub gives every process of the
    service alike and which only the service and the Hub know: a new token (the Hub's
    ``api_token`` of the service changed) invalidates the login cookies, as it should.
    """
    return hmac.new(api_token.encode(), f"remoteapp {purpose}".encode(), "sha256").digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class StatelessHubOAuth(HubOAuth):
    """HubOAuth whose OAuth state travels in the state itself (signed; PKCE verifier
    encrypted), so that any worker process can finish a login another one started.

    The state is ``<payload>.<hmac>``: payload = JSON ``{n: nonce, t: time, u: next_url,
    c: cookie name, v: code verifier XOR HMAC(key, nonce)}``. The verifier must not be
    readable from the redirect URL (that is what PKCE protects against), hence the
    encryption with a key only the service has. The state cookie still has to match the
    state, as in HubOAuth; a state is valid for ``oauth_state_max_age`` seconds.
    """

    state_secret: bytes = b""

    def _crypt(self, nonce: bytes, data: bytes) -> bytes:
        """``data`` XOR the keystream HMAC(key, nonce || counter): encrypts and decrypts."""
        return bytes(a ^ b for a, b in zip(data, self._keystream(nonce, len(data)), strict=True))

    def _keystream(self, nonce: bytes, length: int) -> bytes:
        stream = b""
        counter = 0
        while len(stream) < length:
            block = hmac.new(self.state_secret, nonce + bytes([counter]), "sha256").digest()
            stream += block
            counter += 1
        return stream[:length]

    def generate_state(self, next_url=None, **extra_state):
        if not self.state_secret:
            raise RuntimeError("StatelessHubOAuth.state_secret is not set")
        nonce = secrets.token_bytes(16)
        payload: dict[str, Any] = {"n": _b64(nonce), "t": int(time.time()), "u": next_url}
        if extra_state.get("cookie_name"):
            payload["c"] = extra_state["cookie_name"]
        verifier = extra_state.get("code_verifier")
        if verifier:
            payload["v"] = _b64(self._crypt(nonce, verifier.encode()))
        body = _b64(json.dumps(payload, separators=(",", ":")).encode())
        mac = hmac.new(self.state_secret, body.encode(), "sha256").digest()
        return f"{body}.{_b64(mac)}"

    def _state(self, state_id: str) -> dict[str, Any]:
        body, _, mac = (state_id or "").partition(".")
        if not body or not mac or not self.state_secret:
            return {}
        try:
            expected = hmac.new(self.state_secret, body.encode(), "sha256").digest()
            if not hmac.compare_digest(expected, _unb64(mac)):
                return {}
            payload = json.loads(_unb64(body))
        except (ValueError, TypeError):
            return {}
        if not isinstance(payload, dict) or time.time() - payload.get("t", 0) > (
            self.oauth_state_max_age
        ):
            return {}
        state: dict[str, Any] = {"next_url": payload.get("u"), "cookie_name": payload.get("c")}
        if payload.get("v"):
            secret = self._crypt(_unb64(payload["n"]), _unb64(payload["v"]))
            state["code_verifier"] = secret.decode()
        return state

    def get_next_url(self, state_id="", /):
        return self._state(state_id).get("next_url") or self.base_url

    def get_code_verifier(self, state_id="", /):
        return self._state(state_id).get("code_verifier")

    def get_state_cookie_name(self, state_id="", /):
        return self._state(state_id).get("cookie_name") or self.state_cookie_name

    def clear_oauth_state(self, state_id):
        # nothing is kept: the state cookie (cleared by the callback) and the Hub's
        # single-use authorization code make the state single use
        return None


class OAuthCallbackHandler(HubOAuthCallbackHandler):
    """``<prefix>oauth_callback``: JupyterHub's own callback handler, with our HubOAuth.

    (Registered without an ``initialize`` that takes ``hub_auth``, it failed with
    "TypeError: initialize() got an unexpected keyword argument 'hub_auth'": 503.)
    """

    def initialize(self, hub_auth: HubOAuth) -> None:
        self.hub_auth = hub_auth


async def authenticate(handler: HubAuthenticated) -> dict[str, Any] | None:
    """The Hub user model of the request (None: no valid credentials), scope-checked.

    Sets ``handler.current_user`` either way. A valid token without the access scope is
    a 403 naming the scope.
    """
    model = await handler.hub_auth.get_user(handler, sync=False)
    allowed = None
    if model:
        try:
            allowed = handler.check_hub_user(model)
        except UserNotAllowed:
            handler.current_user = None
            needed = " or ".join(sorted(handler.hub_scopes or ()))
            raise web.HTTPError(
                403, f"{model.get('kind', 'user')} {model['name']} lacks the scope {needed}"
            ) from None
    handler.current_user = allowed
    return allowed
