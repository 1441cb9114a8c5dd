"""The base of every REST handler: identity, JSON in and out, domain errors → HTTP.

The REST handlers (``handlers/api.py``) are jupyter_server API handlers, written once for
both places that serve them. In the server extension jupyter_server authenticates the
caller (its identity provider, XSRF, Host and Origin checks) and :class:`IdentityRule`
makes the accounting identity of them. The JupyterHub service is no Jupyter server: it
routes the same handlers with an :class:`ApiAuth` (``api_handlers(..., auth=...)``), which
then authenticates the caller instead of jupyter_server.
"""

from __future__ import annotations

import json
from http.client import responses
from typing import Any

from jupyter_server.base.handlers import APIHandler
from tornado import web

from ..core.containers import Container
from ..core.errors import BadRequest, RemoteAppError, Unavailable
from ..core.remoteapps import ADMIN_SCOPE, Identity, Operations
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


class ApiAuth:
    """Authentication of the REST handlers where jupyter_server does not do it.

    One instance per web application, given to the handlers as the route argument
    ``auth``; the JupyterHub service's authenticates with HubOAuth.
    """

    async def authenticate(self, handler: ApiHandler) -> Identity | None:
        """The caller of the request; None without valid credentials (the handler then
        answers 403). May raise ``web.HTTPError(403)`` for a caller who is refused."""
        raise NotImplementedError

    def check_xsrf_cookie(self, handler: ApiHandler) -> None:
        """Raise ``web.HTTPError(403)`` when a cookie-authenticated request that changes
        something lacks its XSRF token. Default: no cookies, nothing to check."""

    def get_login_url(self, handler: ApiHandler) -> str:
        # an API answers 403 instead of sending programs to a login page
        raise web.HTTPError(403, "Authentication required.")


class ApiHandler(APIHandler):
    """What every REST handler needs: the caller's identity, the core, JSON in and out.

    Settings: ``remoteapp`` (the :class:`Operations`), ``remoteapp_mode`` (what ``GET me``
    reports), ``remoteapp_identity_rule`` (the extension's :class:`IdentityRule`),
    ``remoteapp_api_root`` (the service's API path; default ``{base_url}remoteapp/api/``)
    and ``remoteapp_expose_endpoint`` (the service: ``GET containers/<url_id>`` tells the
    owner where the app listens, for the single-user server's proxy); for the apps origin
    ``remoteapp_apps_origin`` (an :class:`AppsOrigin`), ``remoteapp_apps_sessions``, and
    in the service ``remoteapp_lab_origin`` and ``remoteapp_apps_prefix``.
    """

    #: set by the route (``api_handlers(auth=...)``); None: jupyter_server authenticates
    auth: ApiAuth | None = None
    _identity: Identity | None = None

    def initialize(self, auth: ApiAuth | None = None) -> None:
        self.auth = auth

    @property
    def operations(self) -> Operations:
        return self.settings["remoteapp"]

    @property
    def mode(self) -> str:
        return self.settings.get("remoteapp_mode", self.operations.mode)

    @property
    def api_root(self) -> str:
        """The URL path of the API, with a trailing slash."""
        return self.settings.get("remoteapp_api_root") or f"{self.base_url}{API_PREFIX}/"

    @property
    def expose_endpoint(self) -> bool:
        return bool(self.settings.get("remoteapp_expose_endpoint"))

    @property
    def apps_rule(self) -> AppsOrigin:
        """Where this deployment serves apps (``remoteapp_apps_origin`` in the settings)."""
        return self.settings["remoteapp_apps_origin"]

    def apps_origin(self) -> str | None:
        """The origin apps are served on for the Lab this request came from; None: the
        Lab's own (the same-origin fallback, or no apps origin configured)."""
        return self.apps_rule.of(self.lab_origin())

    @property
    def apps_same_origin_fallback(self) -> bool:
        """Whether apps may be served on the Lab's origin when there is no other."""
        return self.apps_rule.same_origin_fallback

    @property
    def apps_sessions(self) -> AppsSessions:
        """Mints the tickets of ``POST containers/<url_id>/ticket``."""
        return self.settings["remoteapp_apps_sessions"]

    def lab_origin(self) -> str:
        """The origin of the Lab that calls (the only one that may frame its apps): the
        request's, or where the deployment says its Lab is (``remoteapp_lab_origin``: the
        service, whose API calls come through the single-user façade, names the Hub's)."""
        return self.settings.get("remoteapp_lab_origin") or request_origin(self.request)

    def container_json(self, container: Container) -> dict[str, Any]:
        """A container as the API shows it: ``url`` absolute on the apps origin."""
        answer = container.to_dict()
        apps_prefix = self.settings.get("remoteapp_apps_prefix")
        if apps_prefix and not container.urlpath.startswith(apps_prefix):
            return answer  # started before the service served apps: at its owner's server
        origin = self.apps_origin()
        if origin:
            answer["url"] = origin + answer["url"]
        return answer

    @property
    def identity(self) -> Identity:
        """The authenticated caller as an accounting identity."""
        if self._identity is None:
            rule: IdentityRule = self.settings["remoteapp_identity_rule"]
            self._identity = rule.identity(self.current_user)
        return self._identity

    async def prepare(self):
        if self.auth is None:
            await super().prepare()  # jupyter_server: Host, identity provider, XSRF, Origin
        else:
            self._identity = await self.auth.authenticate(self)
            self.current_user = self._identity
            if self._identity is None:
                return  # @web.authenticated answers 403, whatever the body
        length = self.request.headers.get("Content-Length")
        if length and length.isdigit() and int(length) > MAX_JSON_BODY:
            raise web.HTTPError(413, f"request body larger than {MAX_JSON_BODY} bytes")

    def check_xsrf_cookie(self) -> None:
        if self.auth is None:
            return super().check_xsrf_cookie()
        return self.auth.check_xsrf_cookie(self)

    def get_login_url(self) -> str:
        if self.auth is None:
            return super().get_login_url()
        return self.auth.get_login_url(self)

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
        if self.auth is not None:
            return False  # the 403 of ApiAuth.get_login_url says it
        # jupyter_server's prepare sets it (None: no valid credentials) before its XSRF
        # and authentication checks; a refused Host header is not about credentials
        return (
            hasattr(self, "_jupyter_current_user")
            and self._jupyter_current_user is None
            and self.check_host()
        )

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
