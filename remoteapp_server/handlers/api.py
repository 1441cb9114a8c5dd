"""REST API v1: ``{base_url}remoteapp/api/...`` (see ``remoteapp_server/openapi.yaml``)."""

from __future__ import annotations

import json
from typing import Any

from tornado import web
from tornado.iostream import StreamClosedError

from ..core.accounting import Policy
from ..core.errors import BadRequest, PermissionDenied, RemoteAppError
from ..proxy.appsession import (
    SESSION_PATH,
    TICKET_PARAMETER,
    TICKET_TTL,
    WEBSOCKET_TICKET_PARAMETER,
    warn_same_origin,
)
from .base import API_PREFIX, ApiAuth, ApiHandler


class MeHandler(ApiHandler):
    @web.authenticated
    async def get(self):
        origin = self.apps_origin()
        answer = self.identity.to_dict(self.mode)
        self.write_json(dict(answer, apps_origin=origin, apps_isolated=origin is not None))


class ApplicationsHandler(ApiHandler):
    @web.authenticated
    async def get(self):
        self.write_json(await self.operations.applications(self.identity))


class ContainersHandler(ApiHandler):
    @web.authenticated
    async def get(self):
        containers = await self.operations.list_containers(self.identity)
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
        container = await self.operations.start(self.identity, body["mapping_id"], configurables)
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
            container = await self.operations.start(
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


class ContainerHandler(ApiHandler):
    @web.authenticated
    async def get(self, url_id: str):
        container = await self.operations.get_container(self.identity, url_id)
        answer = self.container_json(container)
        if self.expose_endpoint and container.target is not None:
            # for the owner only (get_container is NotFound for others): a JupyterHub
            # single-user server proxies to this address after asking the service
            answer["endpoint"] = container.target
        self.write_json(answer)

    @web.authenticated
    async def delete(self, url_id: str):
        await self.operations.stop(self.identity, url_id)
        self.no_content()


class ContainerTicketHandler(ApiHandler):
    """A one-time ticket that opens the app in the Lab's iframe (``proxy/appsession.py``)."""

    @web.authenticated
    async def post(self, url_id: str):
        container = await self.operations.ticket_container(self.identity, url_id)
        origin = self.apps_origin()
        if origin is None and self.apps_same_origin_fallback:
            warn_same_origin(self.log, self.lab_origin())
        elif origin is None:
            raise PermissionDenied(
                "apps are not served on this origin (c.RemoteApp.apps_same_origin_fallback"
                " = False): open JupyterLab at localhost or 127.0.0.1, or set"
                " c.RemoteApp.apps_url"
            )
        body = self.json_body(optional=("purpose",)) if self.request.body else {}
        purpose = body.get("purpose", "frame")
        if purpose not in ("frame", "websocket"):
            raise BadRequest('purpose must be "frame" or "websocket"')
        ticket = self.apps_sessions.ticket(
            self.identity.name,
            url_id,
            lab_origin=self.lab_origin(),
            admin=container.user != self.identity.name,  # only admins get that far
            websocket=purpose == "websocket",
        )
        if purpose == "websocket":  # the Lab's RFB client: websockify under the app's URL
            base = origin or self.lab_origin()
            ws = "wss" if base.startswith("https:") else "ws"
            url = f"{ws}{base[base.index(':') :]}{container.urlpath}websockify"
            url += f"?{WEBSOCKET_TICKET_PARAMETER}={ticket}"
            self.write_json({"websocket_url": url, "expires_in": TICKET_TTL})
            return
        # the app serves under <prefix>containers/<url_id>/; the endpoint is beside it
        prefix = container.urlpath[: -len(f"containers/{url_id}/")]
        url = f"{origin or ''}{prefix}{SESSION_PATH}?{TICKET_PARAMETER}={ticket}"
        self.write_json({"url": url, "expires_in": TICKET_TTL})


class ContainerLogsHandler(ApiHandler):
    @web.authenticated
    async def get(self, url_id: str):
        tail = self.int_argument("tail", 1000)
        logs = await self.operations.logs(self.identity, url_id, tail=tail)
        self.write_json({"url_id": url_id, "logs": logs})


# ------------------------------------------------------------------ admin
class AdminHandler(ApiHandler):
    """Admin endpoints: the permission is checked before the request is even read."""

    async def prepare(self):
        await super().prepare()
        if self.current_user is not None:
            self.operations.require_admin(self.identity)


class AdminListHandler(AdminHandler):
    """Admin listings are paginated: ``?offset=0&limit=100``."""

    @property
    def page_arguments(self) -> dict[str, Any]:
        return {"offset": self.int_argument("offset", 0), "limit": self.int_argument("limit", None)}


class AdminUsersHandler(AdminListHandler):
    @web.authenticated
    async def get(self):
        page = await self.operations.admin_users(self.identity, **self.page_arguments)
        self.write_json(page.to_dict())

    @web.authenticated
    async def post(self):
        body = self.json_body(required=("name",))
        self.write_json(await self.operations.admin_create_user(self.identity, body["name"]), 201)


class AdminUserHandler(AdminHandler):
    @web.authenticated
    async def delete(self, name: str):
        await self.operations.admin_remove_user(self.identity, name)
        self.no_content()


class AdminApplicationsHandler(AdminListHandler):
    @web.authenticated
    async def get(self):
        page = await self.operations.admin_applications(self.identity, **self.page_arguments)
        self.write_json(page.to_dict())

    @web.authenticated
    async def post(self):
        body = self.json_body(required=("image",), optional=("verify",))
        verify = body.get("verify", False)
        if not isinstance(verify, bool):
            raise BadRequest("verify must be true or false")
        created = await self.operations.admin_create_application(
            self.identity, body["image"], verify
        )
        self.write_json(created, 201)


class AdminApplicationHandler(AdminHandler):
    @web.authenticated
    async def delete(self, image: str):
        await self.operations.admin_remove_application(self.identity, image)
        self.no_content()


class AdminGrantsHandler(AdminListHandler):
    @web.authenticated
    async def get(self):
        filters = {key: self.get_query_argument(key, None) for key in ("image", "user", "group")}
        page = await self.operations.admin_grants(self.identity, **filters, **self.page_arguments)
        self.write_json(page.to_dict())

    @web.authenticated
    async def post(self):
        body = self.json_body(required=("image",), optional=("user", "group", "policy"))
        for key in ("user", "group"):
            if key in body and not isinstance(body[key], str):
                raise BadRequest(f"{key} must be text")
        policy = Policy.from_dict(body.get("policy", {}))
        grant = await self.operations.admin_grant(
            self.identity, body["image"], policy, user=body.get("user"), group=body.get("group")
        )
        self.write_json(grant.to_dict(), 201)


class AdminGrantHandler(AdminHandler):
    @web.authenticated
    async def delete(self, mapping_id: str):
        await self.operations.admin_revoke(self.identity, mapping_id)
        self.no_content()


class AdminContainersHandler(AdminListHandler):
    @web.authenticated
    async def get(self):
        page = await self.operations.admin_containers(self.identity, **self.page_arguments)
        self.write_json(page.map(self.container_json).to_dict())


class AdminContainerHandler(AdminHandler):
    @web.authenticated
    async def delete(self, url_id: str):
        await self.operations.admin_stop(self.identity, url_id)
        self.no_content()


class AdminImagesHandler(AdminListHandler):
    @web.authenticated
    async def get(self):
        page = await self.operations.admin_images(self.identity, **self.page_arguments)
        self.write_json(page.to_dict())


class AdminStatsHandler(AdminHandler):
    @web.authenticated
    async def get(self):
        self.write_json(await self.operations.admin_stats(self.identity))


#: (path under the API root, handler): the route table of REST API v1, for the extension and
#: the service alike; also what the OpenAPI test checks the description against
ROUTES: list[tuple[str, type[ApiHandler]]] = [
    ("me", MeHandler),
    ("applications", ApplicationsHandler),
    ("containers", ContainersHandler),
    ("containers/(?P<url_id>[^/]+)", ContainerHandler),
    ("containers/(?P<url_id>[^/]+)/logs", ContainerLogsHandler),
    ("containers/(?P<url_id>[^/]+)/ticket", ContainerTicketHandler),
    ("admin/users", AdminUsersHandler),
    ("admin/users/(?P<name>[^/]+)", AdminUserHandler),
    ("admin/applications", AdminApplicationsHandler),
    ("admin/applications/(?P<image>.+)", AdminApplicationHandler),
    ("admin/grants", AdminGrantsHandler),
    ("admin/grants/(?P<mapping_id>[^/]+)", AdminGrantHandler),
    ("admin/containers", AdminContainersHandler),
    ("admin/containers/(?P<url_id>[^/]+)", AdminContainerHandler),
    ("admin/images", AdminImagesHandler),
    ("admin/stats", AdminStatsHandler),
]


def api_handlers(
    base_url: str = "/", api_prefix: str = API_PREFIX, *, auth: ApiAuth | None = None
) -> list[tuple[str, type[ApiHandler], dict[str, Any]]]:
    """Tornado routes of the API under ``{base_url}{api_prefix}/``.

    Without ``auth`` the handlers authenticate as the Jupyter server they run in does
    (the extension). The JupyterHub service passes its HubOAuth ``auth`` and
    ``api_prefix="api"``.
    """
    prefix = base_url.rstrip("/") + "/" + api_prefix.strip("/")
    return [(f"{prefix}/{path}/?", handler, {"auth": auth}) for path, handler in ROUTES]
