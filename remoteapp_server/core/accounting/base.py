"""The accounting interface: who may run which application under which policy."""

from __future__ import annotations

import abc
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ..errors import BadRequest
from .policy import Policy

# A docker image reference as docker parses it (distribution/reference):
# [domain[:port]/]path[/path...][:tag][@digest], the digest of an algorithm docker knows
_DOMAIN = r"[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?"
_PATH = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_IMAGE_RE = re.compile(
    rf"(?:{_DOMAIN}(?:\.{_DOMAIN})*(?::[0-9]+)?/)?{_PATH}(?:/{_PATH})*"
    r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?"
    r"(?:@(?:sha256:[a-f0-9]{64}|sha384:[a-f0-9]{96}|sha512:[a-f0-9]{128}))?"
)
#: docker refuses longer names; a reference this long with a tag and digest is a mistake
MAX_IMAGE_REFERENCE = 255


def validate_image_name(image: str) -> str:
    """``image`` if docker can parse it as a reference (and it is not too long)."""
    if (
        not isinstance(image, str)
        or len(image) > MAX_IMAGE_REFERENCE
        or not _IMAGE_RE.fullmatch(image)
    ):
        raise BadRequest(f"invalid docker image name: {image!r}")
    return image


def validate_user_name(name: str, what: str = "user") -> str:
    if not isinstance(name, str) or not name.strip() or len(name) > 255:
        raise BadRequest(f"invalid {what} name: {name!r}")
    if any(ord(c) < 32 or c == "\x7f" for c in name):
        raise BadRequest(f"{what} name must not contain control characters: {name!r}")
    return name


@dataclass(frozen=True)
class Grant:
    """One accounting entry: a user (or a JupyterHub group) may run ``image`` under ``policy``.

    The same image granted under two policies gives two entries, each with its own
    ``mapping_id``; the launcher shows both.
    """

    mapping_id: str
    image: str
    policy: Policy
    user: str | None = None
    group: str | None = None

    def to_dict(self) -> dict:
        return {
            "mapping_id": self.mapping_id,
            "image": self.image,
            "user": self.user,
            "group": self.group,
            "policy": self.policy.to_dict(),
        }


class Accounting(abc.ABC):
    """Storage of users, applications and grants.

    Every method is synchronous and cheap; callers on an event loop may run them in
    an executor. Implementations raise the errors of :mod:`remoteapp_server.core.errors`:
    ``NotFound``, ``Exists``, ``BadRequest``, ``ReadOnly``, ``Unavailable``.
    """

    #: True when write methods raise ReadOnly.
    read_only: bool = False

    # users
    @abc.abstractmethod
    def create_user(self, name: str) -> None: ...

    @abc.abstractmethod
    def remove_user(self, name: str) -> None:
        """Remove the user and every grant made to them."""

    @abc.abstractmethod
    def list_users(self, *, offset: int = 0, limit: int | None = None) -> list[str]:
        """User names in order; ``offset``/``limit`` select one page of them."""

    def count_users(self) -> int:
        return len(self.list_users())

    # applications
    @abc.abstractmethod
    def create_application(self, image: str) -> None: ...

    @abc.abstractmethod
    def remove_application(self, image: str) -> None:
        """Remove the application and every grant of it."""

    @abc.abstractmethod
    def list_applications(self, *, offset: int = 0, limit: int | None = None) -> list[str]:
        """Application images in order; ``offset``/``limit`` select one page of them."""

    def count_applications(self) -> int:
        return len(self.list_applications())

    # grants
    @abc.abstractmethod
    def grant(
        self, image: str, policy: Policy, *, user: str | None = None, group: str | None = None
    ) -> Grant:
        """Grant ``image`` under ``policy`` to exactly one of ``user`` or ``group``.

        Granting what is granted already raises Exists.
        """

    @abc.abstractmethod
    def revoke(
        self, image: str, policy: Policy, *, user: str | None = None, group: str | None = None
    ) -> None:
        """Revoke the grant that matches exactly; NotFound when there is none."""

    @abc.abstractmethod
    def revoke_mapping(self, mapping_id: str) -> None:
        """Revoke one grant by its mapping id; NotFound when there is none."""

    @abc.abstractmethod
    def revoke_all(
        self, *, image: str | None = None, user: str | None = None, group: str | None = None
    ) -> int:
        """Revoke every grant matching all given selectors (every grant when none).

        Returns how many grants were revoked.
        """

    @abc.abstractmethod
    def list_grants(
        self,
        *,
        image: str | None = None,
        user: str | None = None,
        group: str | None = None,
        offset: int = 0,
        limit: int | None = None,
    ) -> list[Grant]:
        """Grants matching all given selectors, ordered by image and mapping id;
        ``offset``/``limit`` select one page of them."""

    def count_grants(
        self, *, image: str | None = None, user: str | None = None, group: str | None = None
    ) -> int:
        """How many grants :meth:`list_grants` lists with the same selectors."""
        return len(self.list_grants(image=image, user=user, group=group))

    def count_grants_by_user(self, users: Iterable[str] | None = None) -> dict[str, int]:
        """Grants made to each user (not through groups): of ``users``, or of everyone.
        Users without grants are missing from the answer."""
        wanted = None if users is None else set(users)
        counts: dict[str, int] = {}
        for grant in self.list_grants():
            if grant.user is not None and (wanted is None or grant.user in wanted):
                counts[grant.user] = counts.get(grant.user, 0) + 1
        return counts

    @abc.abstractmethod
    def grants_for_user(self, user: str, groups: Iterable[str] = ()) -> list[Grant]:
        """What ``user`` may run: their own grants and those of the groups they belong to."""

    def get_grant_for_user(self, mapping_id: str, user: str, groups: Sequence[str] = ()) -> Grant:
        """The grant ``mapping_id`` if ``user`` may use it, else NotFound."""
        from ..errors import NotFound

        for grant in self.grants_for_user(user, groups):
            if grant.mapping_id == mapping_id:
                return grant
        raise NotFound(f"no application with mapping id {mapping_id!r} is granted to {user!r}")

    def close(self) -> None:  # noqa: B027 - a no-op is right for backends without connections
        """Release connections."""

    @staticmethod
    def _one_grantee(user: str | None, group: str | None) -> None:
        if (user is None) == (group is None):
            raise BadRequest("a grant names exactly one user or one group")
