"""The base of every REST handler: identity, JSON in and out, domain errors → HTTP."""

from __future__ import annotations

import inspect
import json
from http.client import responses
from typing import Any

from jupyter_server.base.handlers import APIHandler
from tornado import web

from ..core.containers import Container
from ..core.errors import BadRequest, RemoteAppError, Unavailable
from ..core.remoteapps import ADMIN_SCOPE, Identity, RemoteApps
from ..proxy.appsession import AppsOrigin, AppsSessions, request_origin

#: REST bodies are small JSON documents; anything bigger is a mistake or an attack.
MAX_JSON_BODY = 64 * 1024

#: where the API lives under a Jupyter server's base URL
API_PREFIX = "remoteapp/api"

#: query integers (offset, limit, tail) must fit a signed 64-bit integer, as SQL stores
#: them: anything bigger is a clear 400, not an overflow deep down
MAX_QUERY_INT = 2**63 - 1

#: the message of the 403 that answers a request without valid credentials
UNAUTHENTICATED = "authentication required: send a valid token (Authorization: token <token>)"


class IdentityRule:
    """How an authenticated Jupyter user becomes an accounting identity.

    Behind JupyterHub the user model carries the name, the groups and the scopes of the
    token; the admin permission is the ``custom:remoteapp:admin`` scope. On a
    workstation ("personal" mode) whoever holds the server's token is its owner:
    the accounting user is ``personal_user`` and is admin when ``personal_admin``.
    """

    def __init__(self, personal_user: str, personal_admin: bool = True):
        self.personal_user = personal_user
        self.personal_admin = personal_admin

    def identity(self, user: Any) -> Identity:
        # jupyterhub's single-user identity provider: ``User.hub_user`` is the Hub's model
        hub_user = getattr(user, "hub_user", None)
        if isinstance(hub_user, dict) and hub_user.get("name"):
            return Identity.from_hub_model(hub_user)
        scopes = frozenset({ADMIN_SCOPE}) if self.personal_admin else frozenset()
        return Identity(name=self.personal_user, scopes=scopes, admin=self.personal_admin)


class RemoteAppApi:
    """What every REST handler needs, whatever tornado base it runs on.

    A base class derives from this and a tornado handler: the extension's
    :class:`RemoteAppHandler` (jupyter_server's ``APIHandler``), the JupyterHub service's
    HubAuth-authenticated ``ServiceApiHandler``; ``handlers.api`` puts each endpoint's
    logic on top of one. A base provides ``get_identity()`` (the authenticated caller as
    an :class:`Identity`) and ``api_root`` (the URL path of the API, with a trailing
    slash); the core is found in ``settings["remoteapp"]``.
    """

    #: whether ``GET containers/<url_id>`` tells the owner where the app listens
    #: (``endpoint``): the JupyterHub service does, for the single-user server's proxy
    expose_endpoint = False

    @property
    def remoteapps(self) -> RemoteApps:
        return self.settings["remoteapp"]

    @property
    def mode(self) -> str:
        return self.settings.get("remoteapp_mode", self.remoteapps.mode)

    @property
    def api_root(self) -> str:
        raise NotImplementedError

    def get_identity(self) -> Identity:
        raise NotImplementedError

    def apps_origin(self) -> str | None:
        """The origin apps are served on for the Lab this request came from; None: the
        Lab's own (the same-origin fallback, or no apps origin configured)."""
        return None

    @property
    def apps_same_origin_fallback(self) -> bool:
        """Whether apps may be served on the Lab's origin when there is no other."""
        return True

    @property
    def apps_sessions(self) -> AppsSessions:
        """Mints the tickets of ``POST containers/<url_id>/ticket``."""
        return self.settings["remoteapp_apps_sessions"]

    def lab_origin(self) -> str:
        """The origin of the Lab that calls (the only one that may frame its apps)."""
        return request_origin(self.request)

    def container_json(self, container: Container) -> dict[str, Any]:
        """A container as the API shows it: ``url`` absolute on the apps origin."""
        answer = container.to_dict()
        origin = self.apps_origin()
        if origin:
            answer["url"] = origin + answer["url"]
        return answer

    @property
    def identity(self) -> Identity:
        if not hasattr(self, "_identity"):
            self._identity = self.get_identity()
        return self._identity

    async def prepare(self):
        # jupyter_server's prepare is a coroutine, tornado's a plain method
        prepared = super().prepare()
        if inspect.isawaitable(prepared):
            await prepared
        length = self.request.headers.get("Content-Length")
        if length and length.isdigit() and int(length) > MAX_JSON_BODY:
            raise web.HTTPError(413, f"request body larger than {MAX_JSON_BODY} bytes")

    def json_body(self, *, required: tuple[str, ...] = (), optional: tuple[str, ...] = ()):
        """The request's JSON object; unknown or missing fields are a clear 400."""
        raw = self.request.body or b""
        if len(raw) > MAX_JSON_BODY:  # sent chunked, without a Content-Length to refuse early
            raise web.HTTPError(413, f"request body larger than {MAX_JSON_BODY} bytes")
        try:
            body = json.loads(raw or b"null")
        except (ValueError, UnicodeDecodeError) as exc:
            raise BadRequest(f"the request body is not valid JSON: {exc}") from None
        except RecursionError:  # [[[[... a few thousand deep
            raise BadRequest("the request body is not valid JSON: nested too deeply") from None
        if not isinstance(body, dict):
            raise BadRequest("the request body must be a JSON object")
        unknown = sorted(set(body) - set(required) - set(optional))
        if unknown:
            raise BadRequest(f"unknown field(s): {', '.join(unknown)}")
        missing = [name for name in required if name not in body]
        if missing:
            raise BadRequest(f"missing field(s): {', '.join(missing)}")
        return body

    def int_argument(self, name: str, default: int | None) -> int | None:
        value = self.get_query_argument(name, None)
        if value is None:
            return default
        try:
            number = int(value)
        except ValueError:
            raise BadRequest(f"{name} must be an integer, not {value!r}") from None
        if abs(number) > MAX_QUERY_INT:
            raise BadRequest(f"{name} must be at most {MAX_QUERY_INT}, not {value}")
        return number

    def write_json(self, data: Any, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(data))

    def no_content(self) -> None:
        self.set_status(204)
        self.finish()

    def is_unauthenticated(self) -> bool:
        """Whether the request is known to carry no valid credentials."""
        return False

    @classmethod
    def allowed_methods(cls) -> list[str]:
        """The HTTP methods this handler implements (the ``Allow`` header of a 405)."""
        return [
            method
            for method in cls.SUPPORTED_METHODS
            if getattr(cls, method.lower()) is not getattr(web.RequestHandler, method.lower())
        ]

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """Every error is ``{"status", "message"}``; no tracebacks leave the server."""
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if status_code == 405:
            self.set_header("Allow", ", ".join(self.allowed_methods()))
        if isinstance(exc, RemoteAppError):
            status_code, message = exc.status, exc.message
            self.set_status(status_code)
        elif status_code == 403 and self.is_unauthenticated():
            # not tornado's "Forbidden" or "'_xsrf' argument missing from POST"
            message = UNAUTHENTICATED
        elif isinstance(exc, web.HTTPError) and exc.log_message:
            message = exc.log_message % exc.args if exc.args else exc.log_message
        else:
            message = responses.get(status_code, "error")
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"status": status_code, "message": message}))

    def log_exception(self, typ, value, tb) -> None:
        if isinstance(value, RemoteAppError) and value.status < 500:
            self.log.info("remoteapp %s %s: %s", self.request.method, self.request.path, value)
            return
        if isinstance(value, Unavailable):
            # docker or the database is away: one line per request, not a traceback each
            # time a client polls until it is back
            self.log.warning("remoteapp %s %s: %s", self.request.method, self.request.path, value)
            return
        super().log_exception(typ, value, tb)


class RemoteAppHandler(RemoteAppApi, APIHandler):
    """The extension's base: jupyter_server authentication, identity by the IdentityRule."""

    @property
    def api_root(self) -> str:
        return f"{self.base_url}{API_PREFIX}/"

    def get_identity(self) -> Identity:
        rule: IdentityRule = self.settings["remoteapp_identity_rule"]
        return rule.identity(self.current_user)

    def apps_origin(self) -> str | None:
        apps: AppsOrigin = self.settings["remoteapp_apps_origin"]
        return apps.of(request_origin(self.request))

    @property
    def apps_same_origin_fallback(self) -> bool:
        return self.settings["remoteapp_apps_origin"].same_origin_fallback

    def is_unauthenticated(self) -> bool:
        # jupyter_server's prepare sets it (None: no valid credentials) before its XSRF
        # and authentication checks; a refused Host header is not about credentials
        return (
            hasattr(self, "_jupyter_current_user")
            and self._jupyter_current_user is None
            and self.check_host()
        )
