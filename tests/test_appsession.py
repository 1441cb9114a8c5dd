"""The apps origin's tickets and cookies, and where the apps origin is (no server needed:
the end-to-end flow is in test_apps_origin.py and ui-tests/tests/hostile.spec.ts)."""

from __future__ import annotations

import base64
import json

import pytest

from remoteapp_server.proxy.appsession import (
    SESSION_COOKIE,
    AppsOrigin,
    AppsSession,
    AppsSessions,
    Refused,
    apps_origin,
    cookie_values,
    derive_secret,
    frame_ancestors,
    origin_of,
    potentially_trustworthy,
    without_session_cookie,
)

LAB = "http://localhost:8888"


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sessions(clock) -> AppsSessions:
    return AppsSessions(derive_secret(b"x" * 32), clock=clock)


def test_a_ticket_opens_one_session_once(sessions, clock):
    ticket = sessions.ticket("alice", "abc123", lab_origin=LAB)
    session = sessions.redeem(ticket)
    assert session == AppsSession("alice", "abc123", False, clock.now + 12 * 3600, LAB)
    with pytest.raises(Refused, match="used already"):
        sessions.redeem(ticket)
    # another ticket for the same is another nonce
    assert sessions.redeem(sessions.ticket("alice", "abc123", lab_origin=LAB)).user == "alice"


def test_a_ticket_expires_after_30_seconds(sessions, clock):
    ticket = sessions.ticket("alice", "abc123", lab_origin=LAB)
    clock.now += 30
    assert sessions.redeem(ticket).url_id == "abc123"  # 30 s: still valid
    late = sessions.ticket("alice", "abc123", lab_origin=LAB)
    clock.now += 32
    with pytest.raises(Refused, match="expired"):
        sessions.redeem(late)


def _tampered(token: str, **changes) -> str:
    payload, _, mac = token.partition(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims.update(changes)
    raw = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{raw}.{mac}"


@pytest.mark.parametrize("changes", [{"u": "mallory"}, {"i": "other"}, {"a": True}, {"e": 2e9}])
def test_a_changed_ticket_is_refused(sessions, changes):
    ticket = sessions.ticket("alice", "abc123", lab_origin=LAB)
    with pytest.raises(Refused, match="not signed"):
        sessions.redeem(_tampered(ticket, **changes))


@pytest.mark.parametrize("junk", ["", ".", "a.b", "x" * 5000, "a.b.c", "éé.éé", "====.===="])
def test_junk_is_no_ticket(sessions, junk):
    with pytest.raises(Refused):
        sessions.redeem(junk)


def test_another_secret_signs_other_tickets(sessions, clock):
    other = AppsSessions(derive_secret(b"y" * 32), clock=clock)
    with pytest.raises(Refused, match="not signed"):
        sessions.redeem(other.ticket("alice", "abc123", lab_origin=LAB))
    with pytest.raises(ValueError):
        AppsSessions(b"short")


def test_a_ticket_is_no_cookie_and_a_cookie_no_ticket(sessions):
    ticket = sessions.ticket("alice", "abc123", lab_origin=LAB)
    assert sessions.from_cookies(f"{SESSION_COOKIE}={ticket}", "abc123") is None
    cookie = sessions.cookie_value(sessions.redeem(ticket))
    with pytest.raises(Refused, match="not a ticket"):
        sessions.redeem(cookie)


def test_the_cookie_is_for_one_container_until_it_expires(sessions, clock):
    session = sessions.redeem(sessions.ticket("bob", "c1", lab_origin=LAB, admin=True))
    assert session.admin
    value = sessions.cookie_value(session)
    header = f"other=1; {SESSION_COOKIE}=forged; {SESSION_COOKIE}={value}; _xsrf=2"
    assert sessions.from_cookies(header, "c1") == AppsSession(
        "bob", "c1", True, int(session.expires), LAB
    )
    assert sessions.from_cookies(header, "c2") is None  # the wrong url_id
    assert sessions.from_cookies(None, "c1") is None
    clock.now += 12 * 3600 + 1
    assert sessions.from_cookies(header, "c1") is None


def test_cookie_attributes(sessions):
    session = sessions.redeem(sessions.ticket("alice", "c1", lab_origin=LAB))
    path = "/remoteapp/containers/c1/"
    for origin in ("http://127.0.0.1:8888", "http://localhost:1", "https://apps.example.org"):
        header = sessions.set_cookie(session, path, origin)
        name, _, rest = header.partition("=")
        assert name == SESSION_COOKIE
        attributes = rest.split("; ")[1:]
        assert attributes == [
            f"Path={path}",
            f"Max-Age={12 * 3600}",
            "HttpOnly",
            "SameSite=None",
            "Secure",
            "Partitioned",
        ]
    # plain http on a name: no Secure cookie possible; same-site frames only
    plain = sessions.set_cookie(session, path, "http://apps.example.org")
    assert plain.endswith("; HttpOnly; SameSite=Lax") and "Secure" not in plain


def test_used_nonces_are_bounded_and_never_forgotten_early(clock):
    sessions = AppsSessions(derive_secret(b"x" * 32), clock=clock, max_used_nonces=3)
    tickets = [sessions.ticket("a", "c", lab_origin=LAB) for _ in range(5)]
    for ticket in tickets[:3]:
        sessions.redeem(ticket)
    with pytest.raises(Refused, match="too many"):
        sessions.redeem(tickets[3])
    clock.now += 31  # the used ones expired: their nonces go, new tickets work
    fresh = sessions.ticket("a", "c", lab_origin=LAB)
    assert sessions.redeem(fresh).user == "a"
    with pytest.raises(Refused):
        sessions.redeem(tickets[0])  # expired, not replayable


def test_the_apps_origin():
    assert apps_origin("http://localhost:8888") == "http://127.0.0.1:8888"
    assert apps_origin("http://127.0.0.1:8888") == "http://localhost:8888"
    assert apps_origin("http://[::1]:8888") == "http://localhost:8888"
    assert apps_origin("https://LOCALHOST:443") == "https://127.0.0.1"
    assert apps_origin("http://localhost") == "http://127.0.0.1"
    # reached by another name (a reverse proxy, a LAN address): no second origin known
    for lab in ("https://lab.example.org", "http://192.168.1.5:8888", "http://127.0.0.2:8888"):
        assert apps_origin(lab) is None
    assert apps_origin("http://localhost:8888", loopback=False) is None
    configured = "https://Apps.Example.org:443/some/path"
    assert apps_origin("https://lab.example.org", configured) == "https://apps.example.org"
    assert apps_origin("https://apps.example.org", configured) is None  # that is the Lab's


def test_which_origin_serves_a_session():
    session = AppsSession("alice", "c1", False, 0, "http://localhost:8888")
    assert AppsOrigin().serves("http://127.0.0.1:8888", session)
    assert not AppsOrigin().serves("http://localhost:8888", session)  # the Lab's own
    assert not AppsOrigin().serves("http://127.0.0.1:9999", session)
    behind_proxy = AppsSession("alice", "c1", False, 0, "https://lab.example.org")
    assert AppsOrigin().serves("https://lab.example.org", behind_proxy)  # the fallback
    assert not AppsOrigin(same_origin_fallback=False).serves(
        "https://lab.example.org", behind_proxy
    )
    apps = AppsOrigin(apps_url="https://apps.example.org/")
    assert apps.serves("https://apps.example.org", behind_proxy)
    assert not apps.serves("https://lab.example.org", behind_proxy)


def test_helpers():
    assert origin_of("HTTP://Example.org:80/x?y") == "http://example.org"
    assert origin_of("http://[::1]:8888/") == "http://[::1]:8888"
    with pytest.raises(ValueError):
        origin_of("javascript:alert(1)")
    assert potentially_trustworthy("http://127.0.0.1:1")
    assert potentially_trustworthy("http://a.localhost")
    assert potentially_trustworthy("https://example.org")
    assert not potentially_trustworthy("http://example.org")
    assert frame_ancestors(["http://b", "http://a"]) == "frame-ancestors http://a http://b"
    assert frame_ancestors([]) == "frame-ancestors 'none'"
    header = f"a=1; {SESSION_COOKIE}=x; b=2;{SESSION_COOKIE}=y"
    assert cookie_values(header, SESSION_COOKIE) == ["x", "y"]
    assert without_session_cookie(header) == "a=1; b=2"
