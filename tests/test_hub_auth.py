"""The service's OAuth state (hub/auth.py): any worker finishes a login another started."""

from __future__ import annotations

import base64

from remoteapp_server.hub.auth import StatelessHubOAuth, derived_secret


def oauth(token: str = "service-token") -> StatelessHubOAuth:
    auth = StatelessHubOAuth(
        api_token=token, oauth_client_id="service-remoteapp", base_url="/services/remoteapp/"
    )
    auth.state_secret = derived_secret(token, "oauth state")
    return auth


def test_a_state_made_by_one_worker_is_read_by_another():
    verifier, _, _ = oauth().generate_pkce_code_challenge()
    state = oauth().generate_state("/services/remoteapp/containers/x/", code_verifier=verifier)
    other = oauth()  # another process: nothing shared but the service's token
    assert other.get_next_url(state) == "/services/remoteapp/containers/x/"
    assert other.get_code_verifier(state) == verifier
    assert other.get_state_cookie_name(state) == other.state_cookie_name
    # the verifier travels encrypted: the redirect URL does not reveal it
    payload = base64.urlsafe_b64decode(state.split(".")[0] + "==")
    assert verifier.encode() not in payload


def test_forged_tampered_or_foreign_states_are_nothing():
    state = oauth().generate_state("/next", code_verifier="v" * 43)
    body, mac = state.split(".")
    forged = base64.urlsafe_b64encode(b'{"n":"AAAA","t":9999999999,"u":"https://evil"}')
    for bad in (
        "",
        "garbage",
        f"{forged.decode().rstrip('=')}.{mac}",
        f"{body}.{mac[:-2]}AA",
        oauth("another-service").generate_state("/next"),
    ):
        auth = oauth()
        assert auth.get_next_url(bad) == "/services/remoteapp/"  # HubOAuth's default
        assert auth.get_code_verifier(bad) is None


def test_states_expire():
    auth = oauth()
    auth.oauth_state_max_age = -1
    assert auth.get_next_url(auth.generate_state("/next")) == "/services/remoteapp/"
