"""Apps on an origin of their own: where that origin is, tickets, and the apps-session cookie.

An app is code we do not control. Served on the Lab's origin its script could read the
``_xsrf`` cookie, frame ``/lab`` and act as the user. So apps are served on another origin
(the *apps origin*), where the browser holds none of Jupyter's or the Hub's cookies, only
an apps-session cookie per container, obtained like this::

    Lab (its origin, its credentials)         apps origin
    POST .../containers/<url_id>/ticket  →    {"url": "<apps origin><prefix>apps-session?ticket=T",
                                               "expires_in": 30}
    <iframe src=url>                     →    GET <prefix>apps-session?ticket=T
                                              ticket checked (signature, 30 s, single use)
                                              Set-Cookie: remoteapp-apps-session=...;
                                                Path=<prefix>containers/<url_id>/; HttpOnly;
                                                SameSite=None; Secure; Partitioned
                                              302 → <prefix>containers/<url_id>/
                                              the proxy admits the request by that cookie

The API, for both modes (the extension in personal mode, the JupyterHub service)::

    sessions = AppsSessions(secret)                  # bytes the caller keeps secret
    sessions.ticket(user, url_id, lab_origin=..., admin=False) -> str
    sessions.redeem(ticket) -> AppsSession           # raises Refused (bad, expired, used)
    sessions.set_cookie(session, path, origin) -> str     # a Set-Cookie header value
    sessions.from_cookies(cookie_header, url_id) -> AppsSession | None
    apps_origin(lab_origin, apps_url="", loopback=True) -> str | None
    AppsOrigin(apps_url, loopback, same_origin_fallback)  # .of(lab_origin), .serves(...)
    frame_ancestors(origins) -> str                  # the CSP header value
    without_session_cookie(cookie_header) -> str     # (proxy/headers.py strips it too)
    AppsSessionHandler                               # tornado: the apps-session endpoint

Tickets and cookies are ``base64url(json).base64url(hmac-sha256)``; the JSON says what it
is (``t``: ticket or session), so neither passes for the other. A ticket carries the
user, the url_id, whether an admin minted it, the Lab origin that asked for it (the one
origin the app's answers let frame them), its expiry and a random nonce; the cookie the
same without the nonce and with a longer expiry (``session_ttl``, default 12 h).

**Single use, and several worker processes.** Used ticket nonces are remembered in this
process, in a bounded set, for as long as the ticket could still be valid (30 s). When
the set is full of live nonces a redemption is refused (never forgotten early: that would
allow a replay). With several processes serving the apps origin behind one port, each
process has its own set: a ticket could be redeemed once per process within its 30 s.
The ticket is bound to its user and container and appears only in the Lab's iframe
``src`` (the app after the redirect never sees it: its URL, its ``Referer`` and its
history hold the container's path), so this only matters if the ticket leaks within its
30 s; where that is not acceptable the workers need a shared used-nonce store (a
database row per nonce with a unique constraint, or routing ``apps-session`` requests to
one worker).

**Whoever holds the secret can mint sessions for anyone**: derive it from the server's
own secret (``derive_secret``), never reuse it elsewhere in clear.

**Cookie attributes.** A Lab on ``http://localhost:P`` frames the app on
``http://127.0.0.1:P``: another *site*, so the frame is a third-party context. Verified
in Chromium 156 (Debian's, as the UI tests run): of ``SameSite=Lax``, ``SameSite=None``,
``SameSite=None; Secure`` and ``SameSite=None; Secure; Partitioned``, only the last is
stored there and sent back (on the 302's target, on ``fetch`` and on WebSocket
handshakes), in both directions (Lab on either loopback name); Chromium blocks other
third-party cookies, and allows ``Secure`` on ``http://`` loopback because loopback is a
potentially trustworthy origin. Partitioned (CHIPS) keys the cookie to the Lab's site:
the same app opened at the top level does not get it. So: ``SameSite=None; Secure;
Partitioned`` when the apps origin is https or loopback; otherwise (plain http on a
name) ``SameSite=Lax`` without ``Secure``, which works only when the apps origin is the
same site as the Lab (``apps.example.org`` beside ``hub.example.org``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from urllib.parse import urlsplit

from tornado import web

#: the cookie's name (one per container: each has its own Path)
SESSION_COOKIE = "remoteapp-apps-session"
#: seconds a ticket is valid
TICKET_TTL = 30
#: seconds an apps session lasts (then the app needs to be opened again from the Lab)
SESSION_TTL = 12 * 3600
#: most used ticket nonces remembered at once (each for at most TICKET_TTL seconds)
MAX_USED_NONCES = 100_000
#: the query parameter of the apps-session endpoint
TICKET_PARAMETER = "ticket"
#: the path of the apps-session endpoint under the prefix where containers live
SESSION_PATH = "apps-session"

_LOOPBACK_NAMES = {"localhost": "127.0.0.1", "127.0.0.1": "localhost", "[::1]": "localhost"}


class Refused(Exception):
    """A ticket or cookie that is not (or no longer) valid; the message says why."""


@dataclass(frozen=True)
class AppsSession:
    """Who may use which container on the apps origin, until when (epoch seconds)."""

    user: str
    url_id: str
    admin: bool
    expires: float
    #: the origin of the Lab that asked for the ticket: the only one that may frame the app
    lab_origin: str


def derive_secret(secret: bytes | str, purpose: str = "remoteapp apps-session v1") -> bytes:
    """A key for this purpose only, from a server secret (e.g. Jupyter's cookie secret)."""
    if isinstance(secret, str):
        secret = secret.encode()
    if not secret:
        raise ValueError("an empty secret signs nothing")
    return hmac.new(secret, purpose.encode(), hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class AppsSessions:
    """Mints and checks tickets and apps-session cookies with one secret."""

    def __init__(
        self,
        secret: bytes,
        *,
        session_ttl: float = SESSION_TTL,
        ticket_ttl: float = TICKET_TTL,
        max_used_nonces: int = MAX_USED_NONCES,
        clock: Callable[[], float] = time.time,
    ):
        if len(secret) < 16:
            raise ValueError("the secret must have at least 16 bytes")
        self._secret = secret
        self.session_ttl = session_ttl
        self.ticket_ttl = ticket_ttl
        self.max_used_nonces = max_used_nonces
        self.clock = clock
        #: nonce → expiry of its ticket, oldest first
        self._used: OrderedDict[str, float] = OrderedDict()

    # -- signing --
    def _sign(self, claims: dict) -> str:
        payload = _b64(json.dumps(claims, separators=(",", ":"), sort_keys=True).encode())
        mac = hmac.new(self._secret, payload.encode("ascii"), hashlib.sha256).digest()
        return f"{payload}.{_b64(mac)}"

    def _verify(self, token: str, kind: str) -> dict:
        if not isinstance(token, str) or len(token) > 4096 or token.count(".") != 1:
            raise Refused(f"not a {kind}")
        payload, _, mac = token.partition(".")
        try:
            given = _unb64(mac)
            expected = hmac.new(self._secret, payload.encode("ascii"), hashlib.sha256).digest()
            if not hmac.compare_digest(given, expected):
                raise Refused(f"the {kind} is not signed by this server")
            claims = json.loads(_unb64(payload))
        except (ValueError, UnicodeError):  # base64, ascii, JSON
            raise Refused(f"not a {kind}") from None
        if not isinstance(claims, dict) or claims.get("t") != kind:
            raise Refused(f"not a {kind}")
        if not isinstance(claims.get("e"), (int, float)) or claims["e"] <= self.clock():
            raise Refused(f"the {kind} has expired")
        for key in ("u", "i", "o"):
            if not isinstance(claims.get(key), str) or not claims[key]:
                raise Refused(f"not a {kind}")
        return claims

    @staticmethod
    def _session(claims: dict) -> AppsSession:
        admin = claims.get("a") is True
        return AppsSession(claims["u"], claims["i"], admin, claims["e"], claims["o"])

    # -- tickets --
    def ticket(self, user: str, url_id: str, *, lab_origin: str, admin: bool = False) -> str:
        """A ticket for ``user`` to open container ``url_id`` in a Lab on ``lab_origin``
        (``admin``: the container need not be theirs)."""
        expires = int(self.clock() + self.ticket_ttl) + 1  # whole seconds, never shorter
        claims = {"t": "ticket", "u": user, "i": url_id, "a": bool(admin), "e": expires}
        claims["o"] = origin_of(lab_origin)
        claims["n"] = secrets.token_urlsafe(16)
        return self._sign(claims)

    def redeem(self, ticket: str) -> AppsSession:
        """The session a valid, unused ticket opens (its expiry the session's); once."""
        claims = self._verify(ticket, "ticket")
        nonce = claims.get("n")
        if not isinstance(nonce, str) or not nonce:
            raise Refused("not a ticket")
        now = self.clock()
        while self._used and next(iter(self._used.values())) <= now:
            self._used.popitem(last=False)
        if nonce in self._used:
            raise Refused("the ticket was used already")
        if len(self._used) >= self.max_used_nonces:
            raise Refused("too many tickets redeemed in the last seconds: try again")
        self._used[nonce] = float(claims["e"])
        session = self._session(claims)
        return replace(session, expires=now + self.session_ttl)

    # -- the cookie --
    def cookie_value(self, session: AppsSession) -> str:
        claims = {"t": "session", "u": session.user, "i": session.url_id, "a": session.admin}
        claims.update(e=int(session.expires), o=session.lab_origin)
        return self._sign(claims)

    def set_cookie(self, session: AppsSession, path: str, origin: str) -> str:
        """The ``Set-Cookie`` value for ``session``, scoped to ``path`` on ``origin``."""
        max_age = max(0, round(session.expires - self.clock()))
        attributes = [
            f"{SESSION_COOKIE}={self.cookie_value(session)}",
            f"Path={path}",
            f"Max-Age={max_age}",
            "HttpOnly",
        ]
        if potentially_trustworthy(origin):
            attributes += ["SameSite=None", "Secure", "Partitioned"]
        else:  # plain http on a name: no Secure cookies; works same-site only
            attributes.append("SameSite=Lax")
        return "; ".join(attributes)

    def from_cookies(self, cookie_header: str | None, url_id: str) -> AppsSession | None:
        """The valid session for ``url_id`` among the request's apps-session cookies.

        Every cookie of that name is tried: an app may set its own (not HttpOnly, other
        paths) beside ours, which must neither pass nor hide the real one.
        """
        for value in cookie_values(cookie_header, SESSION_COOKIE):
            try:
                claims = self._verify(value, "session")
            except Refused:
                continue
            if claims["i"] == url_id:
                return self._session(claims)
        return None


def cookie_values(cookie_header: str | None, name: str) -> list[str]:
    """Every value of cookie ``name`` in a ``Cookie`` header, in order."""
    values = []
    for pair in (cookie_header or "").split(";"):
        key, sep, value = pair.strip().partition("=")
        if sep and key.strip() == name:
            values.append(value.strip().strip('"'))
    return values


def without_session_cookie(cookie_header: str) -> str:
    """The ``Cookie`` header without apps-session cookies (they never reach an app)."""
    kept = [p.strip() for p in cookie_header.split(";") if p.split("=", 1)[0].strip()]
    kept = [p for p in kept if p.split("=", 1)[0].strip() != SESSION_COOKIE]
    return "; ".join(kept)


# -- origins ---------------------------------------------------------------------------------


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of a URL, lower case, default ports omitted."""
    parts = urlsplit(url)
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    if scheme not in ("http", "https") or not host:
        raise ValueError(f"not an http(s) URL: {url!r}")
    if ":" in host:
        host = f"[{host}]"
    port = parts.port
    default = {"http": 80, "https": 443}[scheme]
    return f"{scheme}://{host}" + (f":{port}" if port and port != default else "")


def _is_loopback(host: str) -> bool:
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def potentially_trustworthy(origin: str) -> bool:
    """https, or loopback (what browsers let set ``Secure`` cookies over plain http)."""
    parts = urlsplit(origin)
    return parts.scheme == "https" or _is_loopback(parts.hostname or "")


def apps_origin(lab_origin: str, apps_url: str = "", *, loopback: bool = True) -> str | None:
    """Where the apps of a Lab (or Hub) on ``lab_origin`` are served; None: on the Lab's.

    ``apps_url`` (configured) wins; else with ``loopback`` (personal mode) the other
    loopback name of the same port: ``localhost`` ↔ ``127.0.0.1`` (``[::1]`` → localhost).
    Cookies and SameSite ignore ports, so another port of the same name would isolate
    nothing. A Lab reached by any other name (a reverse proxy, a LAN address) has no
    second origin we could know of: None.
    """
    if apps_url:
        configured = origin_of(apps_url)
        return None if configured == origin_of(lab_origin) else configured
    if not loopback:
        return None
    parts = urlsplit(origin_of(lab_origin))
    host = parts.hostname or ""
    other = _LOOPBACK_NAMES.get(f"[{host}]" if ":" in host else host)
    if other is None:
        return None
    return f"{parts.scheme}://{other}" + (f":{parts.port}" if parts.port else "")


@dataclass(frozen=True)
class AppsOrigin:
    """A deployment's rule for where apps are served (see :func:`apps_origin`)."""

    apps_url: str = ""
    loopback: bool = True
    #: no apps origin: serve apps on the Lab's (True, warned) or refuse them (False)
    same_origin_fallback: bool = True

    def of(self, lab_origin: str) -> str | None:
        return apps_origin(lab_origin, self.apps_url, loopback=self.loopback)

    def serves(self, origin: str, session: AppsSession) -> bool:
        """Whether ``origin`` may serve the app of ``session``: the apps origin of the
        session's Lab, or the Lab's own when there is none and the fallback is allowed."""
        wanted = self.of(session.lab_origin)
        if wanted is None:
            return self.same_origin_fallback and origin == session.lab_origin
        return origin == wanted


def frame_ancestors(origins: Iterable[str]) -> str:
    """The ``Content-Security-Policy`` value that lets only ``origins`` frame a page."""
    listed = " ".join(sorted(set(origins)))
    return f"frame-ancestors {listed}" if listed else "frame-ancestors 'none'"


def request_origin(request) -> str:
    """The origin a tornado request came to (its scheme and Host)."""
    return origin_of(f"{request.protocol}://{request.host}")


# -- tornado: the apps-session endpoint --------------------------------------------------------


class AppsSessionHandler(web.RequestHandler):
    """``GET <prefix>apps-session?ticket=T``: check T, set the cookie, 302 to the app.

    Route kwargs: ``sessions`` (AppsSessions), ``prefix`` (the path containers live under,
    with a trailing slash: ``/remoteapp/``, ``/services/remoteapp/``), and
    ``allowed(request, session) -> bool`` (optional: whether this host may serve it,
    e.g. not the Lab's own origin when apps must be isolated). Plain tornado: no Jupyter.
    """

    def initialize(
        self,
        sessions: AppsSessions,
        prefix: str,
        allowed: Callable[[object, AppsSession], bool] | None = None,
    ) -> None:
        self.sessions = sessions
        self.prefix = prefix
        self.allowed = allowed

    def set_default_headers(self) -> None:
        self.set_header("Cache-Control", "no-store")
        self.set_header("Referrer-Policy", "no-referrer")
        self.clear_header("Server")

    def write_error(self, status_code: int, **kwargs) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        message = exc.log_message if isinstance(exc, web.HTTPError) and exc.log_message else ""
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"status": status_code, "message": message or "refused"}))

    def get(self) -> None:
        ticket = self.get_query_argument(TICKET_PARAMETER, "")
        try:
            session = self.sessions.redeem(ticket)
        except Refused as refused:
            raise web.HTTPError(403, f"{refused}: open the app again from JupyterLab") from None
        if self.allowed is not None and not self.allowed(self.request, session):
            raise web.HTTPError(403, "apps are not served on this origin")
        path = f"{self.prefix}containers/{session.url_id}/"
        origin = request_origin(self.request)
        self.add_header("Set-Cookie", self.sessions.set_cookie(session, path, origin))
        self.redirect(path, status=302)
