"""The proxy remembers who sent a request for a short time per exact set of credentials
(remoteapp_server/proxy/cache.py): fewer identity-provider calls, and never a
different caller's identity, a refused caller's "nobody", or a revoked token for longer
than the cache's lifetime. A real Jupyter server with a counting identity provider.
"""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from jupyter_server.auth.identity import IdentityProvider, User
from traitlets.config import Config
from yarl import URL

from remoteapp_server.core.errors import NotFound
from remoteapp_server.proxy import ProxyClient
from remoteapp_server.proxy.personal import proxy_handlers

TTL = 0.5  # seconds (5 by default)


class CountingTokens(IdentityProvider):
    """One token per user; counts how often it is asked."""

    tokens = {"alice-token": "alice", "bob-token": "bob"}
    asked = 0

    async def get_user_token(self, handler):
        CountingTokens.asked += 1
        user = self.tokens.get(self.get_token(handler) or "")
        if user is None:
            return None
        handler._token_authenticated = True
        return User(user)


@pytest.fixture
def jp_server_config():
    return Config(
        {
            "ServerApp": {
                "allow_unauthenticated_access": False,
                "jpserver_extensions": {"jupyter_server_terminals": False},
                "identity_provider_class": CountingTokens,
            },
            "IdentityProvider": {"token": "the-server-token"},
        }
    )


class Owners:
    async def resolve(self, user, url_id: str) -> str:
        owner, _, _ = url_id.partition("-")
        if owner != user.username:
            raise NotFound(url_id)
        return self.target

    def forget(self, url_id: str) -> None:
        pass


@pytest.fixture
def proxied(jp_serverapp, jp_base_url, http_server_client, jp_asyncio_loop):
    """A function: (path, headers, ttl) -> (status, body) through the proxy."""

    async def answer(reader, writer):
        try:
            while await reader.readuntil(b"\r\n\r\n"):
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    async def start():
        return await asyncio.start_server(answer, "127.0.0.1", 0)

    upstream = jp_asyncio_loop.run_until_complete(start())
    resolver = Owners()
    resolver.target = f"http://127.0.0.1:{upstream.sockets[0].getsockname()[1]}"
    clients = {}
    for ttl in (TTL, 0):
        clients[ttl] = ProxyClient()
        base = f"{jp_base_url}ttl{int(ttl * 1000)}/"
        jp_serverapp.web_app.add_handlers(
            ".*$", proxy_handlers(base, resolver, clients[ttl], identity_ttl=ttl)
        )
    session = jp_asyncio_loop.run_until_complete(_session())

    async def get(
        path: str, headers: dict[str, str], ttl: float = TTL, method: str = "GET"
    ) -> tuple[int, bytes]:
        base = http_server_client.get_url(f"{jp_base_url}ttl{int(ttl * 1000)}/")
        url = URL(f"{base}remoteapp/containers/{path}", encoded=True)
        async with session.request(method, url, headers=headers, allow_redirects=False) as response:
            return response.status, await response.read()

    CountingTokens.asked = 0
    CountingTokens.tokens = {"alice-token": "alice", "bob-token": "bob"}
    yield get
    jp_asyncio_loop.run_until_complete(session.close())
    for client in clients.values():
        jp_asyncio_loop.run_until_complete(client.close())
    upstream.close()


async def _session():
    return aiohttp.ClientSession()


ALICE = {"Authorization": "token alice-token"}
BOB = {"Authorization": "token bob-token"}


async def test_the_same_credentials_ask_the_identity_provider_once(proxied):
    for n in range(5):  # what a browser varies between resources does not matter
        headers = {**ALICE, "Accept": f"image/{n}", "Referer": f"/page/{n}", "Range": "bytes=0-"}
        assert await proxied("alice-app/x", headers) == (200, b"ok")
    assert CountingTokens.asked == 1
    for _ in range(3):  # without the cache: every time
        assert await proxied("alice-app/x", ALICE, ttl=0) == (200, b"ok")
    assert CountingTokens.asked == 4


async def test_other_methods_always_ask_the_identity_provider(proxied):
    """It may check more for them (JupyterHub: XSRF of cookie-authenticated requests)."""
    assert (await proxied("alice-app/x", ALICE))[0] == 200
    for method in ("POST", "PUT", "DELETE"):
        assert (await proxied("alice-app/x", ALICE, method=method))[0] == 200
    assert (await proxied("alice-app/x", ALICE, method="HEAD"))[0] == 200
    assert CountingTokens.asked == 4


async def test_other_credentials_are_never_taken_for_a_cached_caller(proxied):
    assert (await proxied("alice-app/x", ALICE))[0] == 200
    # bob: his own identity, so alice's container is not his
    assert (await proxied("alice-app/x", BOB))[0] == 404
    assert (await proxied("bob-app/x", BOB))[0] == 200
    # no credentials, wrong ones, or alice's token with something else that could identify
    # a caller (a cookie, a query parameter): asked again, and refused when not valid
    assert (await proxied("alice-app/x", {}))[0] == 302  # to the login page
    assert (await proxied("alice-app/x", {"Authorization": "token alice-tokeN"}))[0] == 302
    asked = CountingTokens.asked
    assert (await proxied("alice-app/x", {**ALICE, "Cookie": "a=1"}))[0] == 200
    assert (await proxied("alice-app/x?v=2", ALICE))[0] == 200
    assert (await proxied("alice-app/x", {**ALICE, "X-Remote-User": "bob"}))[0] == 200
    assert CountingTokens.asked == asked + 3


async def test_refusals_are_not_remembered(proxied):
    late = {"Authorization": "token late-token"}
    assert (await proxied("alice-app/x", late))[0] == 302
    CountingTokens.tokens["late-token"] = "alice"  # valid from now on: works at once
    assert (await proxied("alice-app/x", late))[0] == 200


async def test_a_revoked_token_works_at_most_for_the_cache_lifetime(proxied):
    CountingTokens.tokens["short-token"] = "alice"
    short = {"Authorization": "token short-token"}
    assert (await proxied("alice-app/x", short))[0] == 200
    del CountingTokens.tokens["short-token"]
    assert (await proxied("alice-app/x", short))[0] == 200  # still remembered
    await asyncio.sleep(TTL + 0.1)
    assert (await proxied("alice-app/x", short))[0] == 302


async def test_the_host_check_still_applies(proxied):
    assert (await proxied("alice-app/x", ALICE))[0] == 200
    # Jupyter blocks the non-local Host (and the proxy answers as for no identity)
    status, body = await proxied("alice-app/x", {**ALICE, "Host": "evil.example"})
    assert status in (302, 403) and body != b"ok"
