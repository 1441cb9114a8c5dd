"""REST API v1: ``{base_url}remoteapp/api/...`` (see ``remoteapp_server/openapi.yaml``)."""

from __future__ import annotations

import json
from typing import Any

from tornado import web
from tornado.iostream import StreamClosedError

from ..core.accounting import Policy
from ..core.errors import BadRequest, PermissionDenied, RemoteAppError
from ..core.remoteapps import paginate
from ..proxy.appsession import SESSION_PATH, TICKET_PARAMETER, TICKET_TTL
from .base import API_PREFIX, RemoteAppApi, RemoteAppHandler

_POLICY_FIELDS = tuple(Policy.__dataclass_fields__)


class MeApi(RemoteAppApi):
    @web.authenticated
    async def get(self):
        origin = self.apps_origin()
        answer = self.identity.to_dict(self.mode)
        self.write_json(dict(answer, apps_origin=origin, apps_isolated=origin is not None))


class ApplicationsApi(RemoteAppApi):
    @web.authenticated
    async def get(self):
        self.write_json(await self.remoteapps.applications(self.identity))


class ContainersApi(RemoteAppApi):
    @web.authenticated
    async def get(self):
        containers = await self.remoteapps.list_containers(self.identity)
        self.write_json([self.container_json(c) for c in containers])

    @web.authenticated
    async def post(self):
        body = self.json_body(required=("mapping_id",), optional=("configurables",))
        configurables = body.get("configurables")
        if configurables is None:
            configurables = {}
        if not isinstance(configurables, dict):
            raise BadRequest("configurables must be an object")
        if "text/event-stream" in self.request.headers.get("Accept", ""):
            await self._start_with_events(body["mapping_id"], configurables)
            return
        container = await self.remoteapps.start(self.identity, body["mapping_id"], configurables)
        self.set_header("Location", self._location(container.url_id))
        self.write_json(self.container_json(container), status=201)

    def _location(self, url_id: str) -> str:
        return f"{self.api_root}containers/{url_id}"

    async def _start_with_events(self, mapping_id: str, configurables: dict[str, Any]) -> None:
        """Server-sent events: ``progress`` while starting, then ``ready`` or ``error``."""
        self.set_header("Content-Type", "text/event-stream")
        self.set_header("Cache-Control", "no-cache")
        self.set_header("X-Accel-Buffering", "no")
        stream = getattr(self.request.connection, "stream", None)
        if stream is not None:  # small events, each flushed: no Nagle wait for the ACK
            stream.set_nodelay(True)

        async def send(event: str, data: dict[str, Any]) -> None:
            self.write(f"event: {event}\ndata: {json.dumps(data)}\n\n")
            try:
                await self.flush()
            except StreamClosedError:
                pass  # the client left; the start goes on and shows up in the list

        try:
            container = await self.remoteapps.start(
                self.identity,
                mapping_id,
                configurables,
                progress=lambda event: send("progress", event),
            )
        except RemoteAppError as exc:
            await send("error", {"status": exc.status, "message": exc.message})
        else:
            await send("ready", self.container_json(container))
        self.finish()


class ContainerApi(RemoteAppApi):
    @web.authenticated
    async def get(self, url_id: str):
        container = await self.remoteapps.get_container(self.identity, url_id)
        answer = self.container_json(container)
        if self.expose_endpoint and container.target is not None:
            # for the owner only (get_container is NotFound for others): a JupyterHub
            # single-user server proxies to this address after asking the service
            answer["endpoint"] = container.target
        self.write_json(answer)

    @web.authenticated
    async def delete(self, url_id: str):
        await self.remoteapps.stop(self.identity, url_id)
        self.no_content()


class ContainerTicketApi(RemoteAppApi):
    """A one-time ticket that opens the app in the Lab's iframe (``proxy/appsession.py``)."""

    @web.authenticated
    async def post(self, url_id: str):
        container = await self.remoteapps.ticket_container(self.identity, url_id)
        origin = self.apps_origin()
        if origin is None and not self.apps_same_origin_fallback:
            raise PermissionDenied(
                "apps are not served on this origin (c.RemoteApp.apps_same_origin_fallback"
                " = False): open JupyterLab at localhost or 127.0.0.1, or set"
                " c.RemoteApp.apps_url"
            )
        ticket = self.apps_sessions.ticket(
            self.identity.name,
            url_id,
            lab_origin=self.lab_origin(),
            admin=container.user != self.identity.name,  # only admins get that far
        )
        # the app serves under <prefix>containers/<url_id>/; the endpoint is beside it
        prefix = container.urlpath[: -len(f"containers/{url_id}/")]
        url = f"{origin or ''}{prefix}{SESSION_PATH}?{TICKET_PARAMETER}={ticket}"
        self.write_json({"url": url, "expires_in": TICKET_TTL})


class ContainerLogsApi(RemoteAppApi):
    @web.authenticated
    async def get(self, url_id: str):
        tail = self.int_argument("tail", 1000)
        logs = await self.remoteapps.logs(self.identity, url_id, tail=tail)
        self.write_json({"url_id": url_id, "logs": logs})


# ------------------------------------------------------------------ admin
class AdminApi(RemoteAppApi):
    """Admin endpoints: the permission is checked before the request is even read."""

    async def prepare(self):
        await super().prepare()
        if self.current_user is not None:
            self.remoteapps.require_admin(self.identity)


class AdminListApi(AdminApi):
    """Admin listings are paginated: ``?offset=0&limit=100``."""

    @property
    def page_arguments(self) -> dict[str, Any]:
        return {"offset": self.int_argument("offset", 0), "limit": self.int_argument("limit", None)}

    def write_page(self, items: list[Any]) -> None:
        self.write_json(paginate(items, **self.page_arguments).to_dict())


class AdminUsersApi(AdminListApi):
    @web.authenticated
    async def get(self):
        page = await self.remoteapps.admin_users(self.identity, **self.page_arguments)
        self.write_json(page.to_dict())

    @web.authenticated
    async def post(self):
        body = self.json_body(required=("name",))
        self.write_json(await self.remoteapps.admin_create_user(self.identity, body["name"]), 201)


class AdminUserApi(AdminApi):
    @web.authenticated
    async def delete(self, name: str):
        await self.remoteapps.admin_remove_user(self.identity, name)
        self.no_content()


class AdminApplicationsApi(AdminListApi):
    @web.authenticated
    async def get(self):
        page = await self.remoteapps.admin_applications(self.identity, **self.page_arguments)
        self.write_json(page.to_dict())

    @web.authenticated
    async def post(self):
        body = self.json_body(required=("image",), optional=("verify",))
        verify = body.get("verify", False)
        if not isinstance(verify, bool):
            raise BadRequest("verify must be true or false")
        created = await self.remoteapps.admin_create_application(
            self.identity, body["image"], verify
        )
        self.write_json(created, 201)


class AdminApplicationApi(AdminApi):
    @web.authenticated
    async def delete(self, image: str):
        await self.remoteapps.admin_remove_application(self.identity, image)
        self.no_content()


class AdminGrantsApi(AdminListApi):
    @web.authenticated
    async def get(self):
        filters = {key: self.get_query_argument(key, None) for key in ("image", "user", "group")}
        page = await self.remoteapps.admin_grants(self.identity, **filters, **self.page_arguments)
        self.write_json(page.to_dict())

    @web.authenticated
    async def post(self):
        body = self.json_body(required=("image",), optional=("user", "group", "policy"))
        for key in ("user", "group"):
            if key in body and not isinstance(body[key], str):
                raise BadRequest(f"{key} must be text")
        policy = body.get("policy", {})
        if not isinstance(policy, dict):
            raise BadRequest("policy must be an object")
        unknown = sorted(set(policy) - set(_POLICY_FIELDS) - {"volume"})
        if unknown:
            raise BadRequest(f"unknown policy field(s): {', '.join(unknown)}")
        for key in ("allow_home", "allow_view", "allow_common", "allow_startup_data"):
            if not isinstance(policy.get(key, False), bool):
                raise BadRequest(f"policy.{key} must be true or false")
        for key in ("volume", "volume_source", "volume_target", "volume_mode", "app_license"):
            if not isinstance(policy.get(key, ""), str):
                raise BadRequest(f"policy.{key} must be text")
        volume = policy.pop("volume", "")
        split = sorted(key for key in policy if key.startswith("volume_"))
        if volume and split:
            raise BadRequest(f"policy.volume replaces {', '.join(split)}: give one or the other")
        policy = Policy.with_volume(volume, **policy) if volume else Policy(**policy)
        grant = await self.remoteapps.admin_grant(
            self.identity, body["image"], policy, user=body.get("user"), group=body.get("group")
        )
        self.write_json(grant.to_dict(), 201)


class AdminGrantApi(AdminApi):
    @web.authenticated
    async def delete(self, mapping_id: str):
        await self.remoteapps.admin_revoke(self.identity, mapping_id)
        self.no_content()


class AdminContainersApi(AdminListApi):
    @web.authenticated
    async def get(self):
        containers = await self.remoteapps.admin_containers(self.identity)
        self.write_page([self.container_json(c) for c in containers])


class AdminContainerApi(AdminApi):
    @web.authenticated
    async def delete(self, url_id: str):
        await self.remoteapps.admin_stop(self.identity, url_id)
        self.no_content()


class AdminImagesApi(AdminListApi):
    @web.authenticated
    async def get(self):
        self.write_page(await self.remoteapps.admin_images(self.identity))


class AdminStatsApi(AdminApi):
    @web.authenticated
    async def get(self):
        self.write_json(await self.remoteapps.admin_stats(self.identity))


#: (path under the API root, what the handler does): the handler logic, for any base
API_ROUTES: list[tuple[str, type[RemoteAppApi]]] = [
    ("me", MeApi),
    ("applications", ApplicationsApi),
    ("containers", ContainersApi),
    ("containers/(?P<url_id>[^/]+)", ContainerApi),
    ("containers/(?P<url_id>[^/]+)/logs", ContainerLogsApi),
    ("containers/(?P<url_id>[^/]+)/ticket", ContainerTicketApi),
    ("admin/users", AdminUsersApi),
    ("admin/users/(?P<name>[^/]+)", AdminUserApi),
    ("admin/applications", AdminApplicationsApi),
    ("admin/applications/(?P<image>.+)", AdminApplicationApi),
    ("admin/grants", AdminGrantsApi),
    ("admin/grants/(?P<mapping_id>[^/]+)", AdminGrantApi),
    ("admin/containers", AdminContainersApi),
    ("admin/containers/(?P<url_id>[^/]+)", AdminContainerApi),
    ("admin/images", AdminImagesApi),
    ("admin/stats", AdminStatsApi),
]


def concrete_handlers(
    base_class: type[web.RequestHandler],
) -> list[tuple[str, type[web.RequestHandler]]]:
    """The routes with handler classes: each logic mixin on top of ``base_class``."""
    # the base must derive from RemoteAppApi, or its defaults would shadow the base's own
    assert issubclass(base_class, RemoteAppApi), base_class
    suffix = "Handler" if base_class is RemoteAppHandler else base_class.__name__
    return [
        (path, type(api.__name__[: -len("Api")] + suffix, (api, base_class), {}))
        for path, api in API_ROUTES
    ]


#: (path under ``{base_url}remoteapp/api/``, the extension's handler): also the source of
#: truth the OpenAPI test checks the description against.
ROUTES: list[tuple[str, type[RemoteAppHandler]]] = concrete_handlers(RemoteAppHandler)


def api_handlers(
    base_url: str = "/",
    base_class: type[web.RequestHandler] | None = None,
    api_prefix: str = API_PREFIX,
) -> list[tuple[str, type[web.RequestHandler]]]:
    """Tornado routes of the API under ``{base_url}{api_prefix}/``.

    Without ``base_class``: the extension's handlers (jupyter_server's APIHandler). The
    JupyterHub service passes its HubAuth-authenticated base and ``api_prefix="api"``.
    """
    routes = ROUTES if base_class is None else concrete_handlers(base_class)
    prefix = base_url.rstrip("/") + "/" + api_prefix.strip("/")
    return [(f"{prefix}/{path}/?", handler) for path, handler in routes]
