"""What the REST API does, without the web: the one place that combines the accounting,
the images and the containers, and decides who may do what.

Both the server extension and the JupyterHub service call this with an
:class:`Identity` they established; nothing here knows about HTTP.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import quote

from ..proxy.cache import TTLCache
from .accounting import Accounting, Grant, Policy
from .accounting.base import check_page, page_of
from .containers import Container, ContainerManager
from .containers.manager import ProgressCallback
from .errors import BadRequest, NotFound, PermissionDenied
from .images import Image, image_from_labels

T = TypeVar("T")

ADMIN_SCOPE = "custom:remoteapp:admin"


@dataclass(frozen=True)
class Identity:
    """Who is calling: their accounting name, JupyterHub groups and scopes, and the base
    URL of their (default) Jupyter server ("" when there is none to speak of)."""

    name: str
    groups: tuple[str, ...] = ()
    scopes: frozenset[str] = frozenset()
    admin: bool = False
    base_url: str = ""

    @classmethod
    def from_hub_model(cls, model: dict[str, Any], hub_base_url: str = "/") -> Identity:
        """The identity of a JupyterHub user model (``GET /hub/api/user`` for a token).

        The only place a Hub user model becomes an identity: the service and the
        single-user extension both come here. The admin permission is the
        ``custom:remoteapp:admin`` scope of the token, the base URL the model's
        ``server`` when the token may read it, else JupyterHub's own escaping of the name
        (``url_escape_path``: everything but ``@~``) under ``hub_base_url``.
        """
        scopes = frozenset(model.get("scopes") or ())
        server = model.get("server") or (
            f"{hub_base_url.rstrip('/')}/user/{quote(model['name'], safe='@~')}/"
        )
        return cls(
            name=model["name"],
            groups=tuple(model.get("groups") or ()),
            scopes=scopes,
            admin=ADMIN_SCOPE in scopes,
            base_url=server if server.endswith("/") else server + "/",
        )

    def to_dict(self, mode: str) -> dict[str, Any]:
        return {
            "name": self.name,
            "admin": self.admin,
            "groups": list(self.groups),
            "scopes": sorted(self.scopes),
            "mode": mode,
        }


@dataclass
class Page:
    """One page of a long listing."""

    items: list[Any]
    total: int
    offset: int = 0
    limit: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "items": self.items,
            "total": self.total,
            "offset": self.offset,
            "limit": self.limit,
        }


def paginate(items: list[Any], offset: int = 0, limit: int | None = None) -> Page:
    """A page of a listing that is small enough to be built whole (containers, images)."""
    return Page(page_of(items, offset, limit), len(items), offset, limit)


@dataclass
class StartState:
    """Progress of a start in flight, shown on the application entry while it runs."""

    stage: str = "queued"
    message: str = ""
    since: float = field(default_factory=time.time)


class RemoteApps:
    """The operations of REST API v1.

    ``base_user_url_for(identity)`` gives the path under which the identity's containers
    are reached, ``<it>/containers/<url_id>/`` (the apps' ``$JPY_BASE_USER_URL``):
    ``/services/remoteapp`` behind JupyterHub (the same for everyone), ``/remoteapp``
    under a workstation's base URL ``/``.
    """

    def __init__(
        self,
        accounting: Accounting,
        containers: ContainerManager,
        *,
        mode: str,
        base_user_url_for: Callable[[Identity], str],
    ):
        self.accounting = accounting
        self.containers = containers
        self.mode = mode
        self.base_user_url_for = base_user_url_for
        self._starts: dict[tuple[str, str], StartState] = {}
        #: url_id → (owner, target): the proxy resolves on every request
        self._targets: TTLCache[str, tuple[str, str]] = TTLCache(self.TARGET_TTL, 4096)

    #: How long a resolved proxy target is trusted without asking docker again.
    TARGET_TTL = 5.0

    async def resolve_target(self, who: Identity, url_id: str) -> str:
        """``http://host:port`` of the caller's container ``url_id``; NotFound otherwise."""
        return (await self.locate(url_id, user=who.name))[1]

    async def locate(self, url_id: str, *, user: str | None = None) -> tuple[str, str]:
        """(owner, ``http://host:port``) of the running container ``url_id`` — ``user``'s
        when given (None: an admin's apps session, any owner); NotFound otherwise."""
        cached = self._targets.get(url_id)
        if cached is not None:
            if user is not None and cached[0] != user:
                raise NotFound(f"no container {url_id!r}")
            return cached[0], cached[1]
        container = await self.containers.get(url_id, user=user)
        if container.target is None or container.status != "running":
            raise NotFound(f"container {url_id!r} is not running")
        self._targets.put(url_id, (container.user, container.target))
        return container.user, container.target

    async def proxy_target(self, who: Identity, url_id: str) -> tuple[str, str]:
        """``(owner, http://host:port)`` of container ``url_id``, for its owner or an admin
        (the JupyterHub service's proxy: one URL per app for everyone allowed); NotFound
        otherwise, as for an id that does not exist."""
        return await self.locate(url_id, user=None if who.admin else who.name)

    def forget_target(self, url_id: str) -> None:
        self._targets.pop(url_id)

    async def _db(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Accounting calls are blocking (SQLite may wait on a lock): keep them off the loop."""
        return await asyncio.to_thread(fn, *args, **kwargs)

    # ------------------------------------------------------------- user side
    async def grants(self, who: Identity) -> list[Grant]:
        return await self._db(self.accounting.grants_for_user, who.name, who.groups)

    async def _images(self, names: Iterable[str]) -> dict[str, Image]:
        """Label information for the given images; one docker call for all of them."""
        wanted = set(names)
        found = {image.name: image for image in await self.containers.list_images()}
        return {
            name: found.get(name) or image_from_labels(name, {}, self.containers.options.namespace)
            for name in wanted
        }

    async def applications(self, who: Identity) -> list[dict[str, Any]]:
        grants, containers = await asyncio.gather(
            self.grants(who), self.containers.list(user=who.name)
        )
        images = await self._images(g.image for g in grants)
        by_mapping: dict[str, list[str]] = {}
        for container in containers:
            by_mapping.setdefault(container.mapping_id, []).append(container.url_id)
        entries = []
        for grant in grants:
            state = self._starts.get((who.name, grant.mapping_id))
            entries.append(
                {
                    "mapping_id": grant.mapping_id,
                    "image": images[grant.image].to_dict(),
                    "policy": grant.policy.to_dict(),
                    "containers": by_mapping.get(grant.mapping_id, []),
                    "starting": None
                    if state is None
                    else {"stage": state.stage, "message": state.message},
                }
            )
        return entries

    async def list_containers(self, who: Identity) -> list[Container]:
        return await self.containers.list(user=who.name)

    async def get_container(self, who: Identity, url_id: str) -> Container:
        return await self.containers.get(url_id, user=who.name)

    async def ticket_container(self, who: Identity, url_id: str) -> Container:
        """The container a ticket may be minted for: the caller's, or for an admin
        anyone's; NotFound otherwise (exactly as for a container that does not exist)."""
        return await self.containers.get(url_id, user=None if who.admin else who.name)

    async def start(
        self,
        who: Identity,
        mapping_id: str,
        configurables: dict[str, Any] | None = None,
        progress: ProgressCallback | None = None,
    ) -> Container:
        if not isinstance(mapping_id, str) or not mapping_id:
            raise BadRequest("mapping_id is required")
        grant = await self._db(self.accounting.get_grant_for_user, mapping_id, who.name, who.groups)
        key = (who.name, mapping_id)
        state = self._starts.setdefault(key, StartState())

        async def track(event: dict[str, Any]) -> None:
            state.stage, state.message = event["stage"], event.get("message", "")
            if progress is not None:
                result = progress(event)
                if asyncio.iscoroutine(result):
                    await result

        try:
            return await self.containers.start(
                user=who.name,
                grant=grant,
                base_user_url=self.base_user_url_for(who),
                configurables=configurables,
                progress=track,
            )
        finally:
            if self._starts.get(key) is state:
                del self._starts[key]

    async def stop(self, who: Identity, url_id: str) -> None:
        """Stop one of the caller's containers; NotFound if it is not theirs."""
        await self.containers.get(url_id, user=who.name)
        self.forget_target(url_id)
        await self.containers.stop(url_id, user=who.name)

    async def logs(self, who: Identity, url_id: str, tail: int = 1000) -> str:
        return await self.containers.logs(url_id, user=who.name, tail=tail)

    # ------------------------------------------------------------- admin side
    @staticmethod
    def require_admin(who: Identity) -> None:
        if not who.admin:
            raise PermissionDenied(f"this needs the {ADMIN_SCOPE} permission")

    async def admin_users(
        self, who: Identity, *, offset: int = 0, limit: int | None = None
    ) -> Page:
        """One page of the users, each with the number of grants made to them."""
        self.require_admin(who)
        check_page(offset, limit)
        names, total = await asyncio.gather(
            self._db(self.accounting.list_users, offset=offset, limit=limit),
            self._db(self.accounting.count_users),
        )
        counts = await self._db(self.accounting.count_grants_by_user, names)
        items = [{"name": name, "grants": counts.get(name, 0)} for name in names]
        return Page(items, total, offset, limit)

    async def admin_create_user(self, who: Identity, name: str) -> dict[str, Any]:
        self.require_admin(who)
        await self._db(self.accounting.create_user, name)
        return {"name": name, "grants": 0}

    async def admin_remove_user(self, who: Identity, name: str) -> None:
        self.require_admin(who)
        await self._db(self.accounting.remove_user, name)

    async def admin_applications(
        self, who: Identity, *, offset: int = 0, limit: int | None = None
    ) -> Page:
        """One page of the registered applications, with what docker knows of each."""
        self.require_admin(who)
        check_page(offset, limit)
        names, total, images = await asyncio.gather(
            self._db(self.accounting.list_applications, offset=offset, limit=limit),
            self._db(self.accounting.count_applications),
            self.containers.list_images(),
        )
        available = {image.name: image for image in images}
        items = [
            {
                "image": name,
                "available": name in available,
                "info": (available.get(name) or image_from_labels(name, {})).to_dict(),
            }
            for name in names
        ]
        return Page(items, total, offset, limit)

    async def admin_create_application(
        self, who: Identity, image: str, verify: bool = False
    ) -> dict[str, Any]:
        self.require_admin(who)
        info = None
        if verify:
            info = await self.containers.get_image(image)
            if not info.labelled:
                raise BadRequest(f"docker image {image!r} carries no remoteapp labels")
        await self._db(self.accounting.create_application, image)
        return {
            "image": image,
            "available": info is not None,
            "info": (info or image_from_labels(image, {})).to_dict(),
        }

    async def admin_remove_application(self, who: Identity, image: str) -> None:
        self.require_admin(who)
        await self._db(self.accounting.remove_application, image)

    async def admin_grants(
        self,
        who: Identity,
        *,
        image: str | None = None,
        user: str | None = None,
        group: str | None = None,
        offset: int = 0,
        limit: int | None = None,
    ) -> Page:
        """One page of the grants matching all given selectors (paged in the database)."""
        self.require_admin(who)
        check_page(offset, limit)
        selectors = {"image": image, "user": user, "group": group}
        grants, total = await asyncio.gather(
            self._db(self.accounting.list_grants, **selectors, offset=offset, limit=limit),
            self._db(self.accounting.count_grants, **selectors),
        )
        return Page([grant.to_dict() for grant in grants], total, offset, limit)

    async def admin_grant(
        self,
        who: Identity,
        image: str,
        policy: Policy,
        *,
        user: str | None = None,
        group: str | None = None,
    ) -> Grant:
        self.require_admin(who)
        return await self._db(self.accounting.grant, image, policy, user=user, group=group)

    async def admin_revoke(self, who: Identity, mapping_id: str) -> None:
        self.require_admin(who)
        await self._db(self.accounting.revoke_mapping, mapping_id)

    async def admin_containers(self, who: Identity) -> list[Container]:
        self.require_admin(who)
        return await self.containers.list()

    async def admin_stop(self, who: Identity, url_id: str) -> None:
        self.require_admin(who)
        await self.containers.get(url_id)  # NotFound when it does not exist
        self.forget_target(url_id)
        await self.containers.stop(url_id)

    async def admin_images(self, who: Identity) -> list[dict[str, Any]]:
        self.require_admin(who)
        registered = set(await self._db(self.accounting.list_applications))
        return [
            dict(image.to_dict(), registered=image.name in registered, problems=image.problems)
            for image in await self.containers.list_images()
        ]

    async def admin_stats(self, who: Identity) -> dict[str, Any]:
        self.require_admin(who)
        users, apps, grants, containers = await asyncio.gather(
            self._db(self.accounting.count_users),
            self._db(self.accounting.count_applications),
            self._db(self.accounting.count_grants),
            self.containers.list(),
        )
        per_image: dict[str, int] = {}
        for container in containers:
            if container.status == "running":
                per_image[container.image] = per_image.get(container.image, 0) + 1
        return {
            "users": users,
            "applications": apps,
            "grants": grants,
            "containers": {
                "total": len(containers),
                "running": sum(c.status == "running" for c in containers),
                "users": len({c.user for c in containers}),
                "per_image": per_image,
            },
        }

    def close(self) -> None:
        self.accounting.close()
        self.containers.docker.close()
