"""REST API v1: ``{base_url}remoteapp/api/...`` (see ``remoteapp_server/openapi.yaml``)."""

from __future__ import annotations

import json
from typing import Any

from tornado import web
from tornado.iostream import StreamClosedError

from ..core.accounting import Policy
from ..core.errors import BadRequest, RemoteAppError
from ..core.remoteapps import paginate
from .base import RemoteAppHandler

API_PREFIX = "remoteapp/api"
_POLICY_FIELDS = tuple(Policy.__dataclass_fields__)


class MeHandler(RemoteAppHandler):
    @web.authenticated
    async def get(self):
        self.write_json(self.identity.to_dict(self.mode))


class ApplicationsHandler(RemoteAppHandler):
    @web.authenticated
    async def get(self):
        self.write_json(await self.remoteapps.applications(self.identity))


class ContainersHandler(RemoteAppHandler):
    @web.authenticated
    async def get(self):
        containers = await self.remoteapps.list_containers(self.identity)
        self.write_json([c.to_dict() for c in containers])

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
        self.write_json(container.to_dict(), status=201)

    def _location(self, url_id: str) -> str:
        return f"{self.base_url}{API_PREFIX}/containers/{url_id}"

    async def _start_with_events(self, mapping_id: str, configurables: dict[str, Any]) -> None:
        """Server-sent events: ``progress`` while starting, then ``ready`` or ``error``."""
        self.set_header("Content-Type", "text/event-stream")
        self.set_header("Cache-Control", "no-cache")
        self.set_header("X-Accel-Buffering", "no")

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
            await send("ready", container.to_dict())
        self.finish()


class ContainerHandler(RemoteAppHandler):
    @web.authenticated
    async def get(self, url_id: str):
        container = await self.remoteapps.get_container(self.identity, url_id)
        self.write_json(container.to_dict())

    @web.authenticated
    async def delete(self, url_id: str):
        await self.remoteapps.stop(self.identity, url_id)
        self.no_content()


class ContainerLogsHandler(RemoteAppHandler):
    @web.authenticated
    async def get(self, url_id: str):
        tail = self.int_argument("tail", 1000)
        logs = await self.remoteapps.logs(self.identity, url_id, tail=tail)
        self.write_json({"url_id": url_id, "logs": logs})


# ------------------------------------------------------------------ admin
class AdminHandler(RemoteAppHandler):
    """Admin endpoints: the permission is checked before the request is even read."""

    async def prepare(self):
        await super().prepare()
        if self.current_user is not None:
            self.remoteapps.require_admin(self.identity)


class AdminListHandler(AdminHandler):
    """Admin listings are paginated: ``?offset=0&limit=100``."""

    def write_page(self, items: list[Any]) -> None:
        page = paginate(items, self.int_argument("offset", 0), self.int_argument("limit", None))
        self.write_json(page.to_dict())


class AdminUsersHandler(AdminListHandler):
    @web.authenticated
    async def get(self):
        self.write_page(await self.remoteapps.admin_users(self.identity))

    @web.authenticated
    async def post(self):
        body = self.json_body(required=("name",))
        self.write_json(await self.remoteapps.admin_create_user(self.identity, body["name"]), 201)


class AdminUserHandler(AdminHandler):
    @web.authenticated
    async def delete(self, name: str):
        await self.remoteapps.admin_remove_user(self.identity, name)
        self.no_content()


class AdminApplicationsHandler(AdminListHandler):
    @web.authenticated
    async def get(self):
        self.write_page(await self.remoteapps.admin_applications(self.identity))

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


class AdminApplicationHandler(AdminHandler):
    @web.authenticated
    async def delete(self, image: str):
        await self.remoteapps.admin_remove_application(self.identity, image)
        self.no_content()


class AdminGrantsHandler(AdminListHandler):
    @web.authenticated
    async def get(self):
        filters = {key: self.get_query_argument(key, None) for key in ("image", "user", "group")}
        grants = await self.remoteapps.admin_grants(self.identity, **filters)
        self.write_page([g.to_dict() for g in grants])

    @web.authenticated
    async def post(self):
        body = self.json_body(required=("image",), optional=("user", "group", "policy"))
        policy = body.get("policy") or {}
        if not isinstance(policy, dict):
            raise BadRequest("policy must be an object")
        unknown = sorted(set(policy) - set(_POLICY_FIELDS) - {"volume"})
        if unknown:
            raise BadRequest(f"unknown policy field(s): {', '.join(unknown)}")
        for key in ("allow_home", "allow_view", "allow_common", "allow_startup_data"):
            if not isinstance(policy.get(key, False), bool):
                raise BadRequest(f"policy.{key} must be true or false")
        for key in ("volume", "volume_source", "volume_target", "volume_mode", "app_license"):
            if not isinstance(policy.get(key) or "", str):
                raise BadRequest(f"policy.{key} must be text")
        volume = policy.pop("volume", None)
        policy = Policy.with_volume(volume, **policy) if volume else Policy(**policy)
        grant = await self.remoteapps.admin_grant(
            self.identity, body["image"], policy, user=body.get("user"), group=body.get("group")
        )
        self.write_json(grant.to_dict(), 201)


class AdminGrantHandler(AdminHandler):
    @web.authenticated
    async def delete(self, mapping_id: str):
        await self.remoteapps.admin_revoke(self.identity, mapping_id)
        self.no_content()


class AdminContainersHandler(AdminListHandler):
    @web.authenticated
    async def get(self):
        containers = await self.remoteapps.admin_containers(self.identity)
        self.write_page([c.to_dict() for c in containers])


class AdminContainerHandler(AdminHandler):
    @web.authenticated
    async def delete(self, url_id: str):
        await self.remoteapps.admin_stop(self.identity, url_id)
        self.no_content()


class AdminImagesHandler(AdminListHandler):
    @web.authenticated
    async def get(self):
        self.write_page(await self.remoteapps.admin_images(self.identity))


class AdminStatsHandler(AdminHandler):
    @web.authenticated
    async def get(self):
        self.write_json(await self.remoteapps.admin_stats(self.identity))


#: (path under ``{base_url}remoteapp/api/``, handler): also the source of truth the
#: OpenAPI test checks the description against.
ROUTES: list[tuple[str, type[RemoteAppHandler]]] = [
    ("me", MeHandler),
    ("applications", ApplicationsHandler),
    ("containers", ContainersHandler),
    ("containers/(?P<url_id>[^/]+)", ContainerHandler),
    ("containers/(?P<url_id>[^/]+)/logs", ContainerLogsHandler),
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


def api_handlers(base_url: str = "/") -> list[tuple[str, type[RemoteAppHandler]]]:
    prefix = base_url.rstrip("/") + "/" + API_PREFIX
    return [(f"{prefix}/{path}/?", handler) for path, handler in ROUTES]
