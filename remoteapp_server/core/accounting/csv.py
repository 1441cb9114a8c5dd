"""The read-only CSV accounting backend, compatible with SimPhoNy-remote's CSV files.

The first non-empty row names the columns, in any order::

    user.name, application.image, policy.app_license, policy.allow_home, policy.allow_view,
    policy.allow_common, policy.volume_source, policy.volume_target, policy.volume_mode,
    policy.allow_startup_data

``group.name`` grants to a JupyterHub group instead (each row names a user or a group).
``image.name`` (older SimPhoNy-remote files) is read as ``application.image``. Columns
outside the ``user.``, ``group.``, ``application.``, ``image.`` and ``policy.`` namespaces are
ignored; a misspelt one inside them is an error, so that a typo never silently drops a
policy flag. The file is read again whenever it changes on disk.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ..errors import BadRequest, ReadOnly, RemoteAppError, Unavailable
from ..paging import page_of
from .base import Accounting, Grant, validate_image_name, validate_user_name
from .policy import POLICY_FLAGS, POLICY_TEXTS, Policy

_COLUMNS = {
    "user.name": "user",
    "group.name": "group",
    "application.image": "image",
    "image.name": "image",
    **{f"policy.{name}": name for name in POLICY_FLAGS + POLICY_TEXTS},
}
_NAMESPACES = ("user.", "group.", "application.", "image.", "policy.")
_TRUE = {"true", "1", "yes"}
_FALSE = {"false", "0", "no", ""}


@dataclass(frozen=True)
class _Snapshot:
    """What one read of the file gave, and which version of the file it was."""

    signature: tuple[int, int, int]
    grants: tuple[Grant, ...]


class CSVAccounting(Accounting):
    """Grants read from a CSV file; every write raises ReadOnly."""

    read_only = True

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path).expanduser()
        self._lock = threading.Lock()
        self._snapshot: _Snapshot | None = None
        self._grants()  # fail loudly at start-up on a missing or broken file

    # reading

    def _grants(self) -> tuple[Grant, ...]:
        """The grants of the file as it is now; re-read only when it changed.

        A file that became unreadable or invalid raises instead of serving the old
        content: a revoked grant must not stay usable.
        """
        signature = self._signature()
        snapshot = self._snapshot
        if snapshot is not None and snapshot.signature == signature:
            return snapshot.grants
        with self._lock:
            snapshot = self._snapshot
            if snapshot is None or snapshot.signature != signature:
                snapshot = _Snapshot(signature, self._read())
                self._snapshot = snapshot
            return snapshot.grants

    def _signature(self) -> tuple[int, int, int]:
        """mtime, size and inode: a change of any of them means the file was edited or replaced."""
        try:
            stat = self.path.stat()
        except OSError as exc:
            raise Unavailable(f"cannot read the accounting CSV file {self.path}: {exc}") from exc
        return stat.st_mtime_ns, stat.st_size, stat.st_ino

    def _read(self) -> tuple[Grant, ...]:
        try:
            with self.path.open(newline="", encoding="utf-8-sig") as stream:
                return self._parse(stream)
        except (OSError, UnicodeDecodeError) as exc:
            raise Unavailable(f"cannot read the accounting CSV file {self.path}: {exc}") from exc
        except csv.Error as exc:
            raise BadRequest(f"{self.path}: invalid CSV: {exc}") from exc

    def _parse(self, stream: Iterable[str]) -> tuple[Grant, ...]:
        reader = csv.reader(stream, skipinitialspace=True)
        columns: list[str | None] | None = None
        grants: dict[str, Grant] = {}
        for row in reader:
            cells = [cell.strip() for cell in row]
            if not any(cells):
                continue
            try:
                if columns is None:
                    columns = _header(cells)
                else:
                    grant = _grant_from_row(columns, cells)
                    grants.setdefault(grant.mapping_id, grant)  # duplicate rows collapse
            except RemoteAppError as exc:
                raise BadRequest(f"{self.path}, line {reader.line_num}: {exc.message}") from exc
        if columns is None:
            raise BadRequest(f"{self.path}: no header row; expected columns such as {_EXAMPLE}")
        return tuple(sorted(grants.values(), key=lambda grant: (grant.image, grant.mapping_id)))

    # users and applications: derived from the rows

    def list_users(self, *, offset: int = 0, limit: int | None = None) -> list[str]:
        users = sorted({grant.user for grant in self._grants() if grant.user is not None})
        return page_of(users, offset, limit)

    def list_applications(self, *, offset: int = 0, limit: int | None = None) -> list[str]:
        return page_of(sorted({grant.image for grant in self._grants()}), offset, limit)

    # grants

    def list_grants(
        self,
        *,
        image: str | None = None,
        user: str | None = None,
        group: str | None = None,
        offset: int = 0,
        limit: int | None = None,
    ) -> list[Grant]:
        grants = [
            grant
            for grant in self._grants()
            if (image is None or grant.image == image)
            and (user is None or grant.user == user)
            and (group is None or grant.group == group)
        ]
        return page_of(grants, offset, limit)

    def grants_for_user(self, user: str, groups: Iterable[str] = ()) -> list[Grant]:
        groups = set(groups)
        return [
            grant
            for grant in self._grants()
            if grant.user == user or (grant.group is not None and grant.group in groups)
        ]

    # writes: refused

    def _read_only(self) -> ReadOnly:
        return ReadOnly(
            f"read-only accounting backend: {self.path} is a CSV file; edit the file to change "
            "users, applications and grants, or configure an SQL database (e.g. SQLite) "
            "to manage them through remoteapp"
        )

    def create_user(self, name: str) -> None:
        raise self._read_only()

    def remove_user(self, name: str) -> None:
        raise self._read_only()

    def create_application(self, image: str) -> None:
        raise self._read_only()

    def remove_application(self, image: str) -> None:
        raise self._read_only()

    def grant(
        self, image: str, policy: Policy, *, user: str | None = None, group: str | None = None
    ) -> Grant:
        raise self._read_only()

    def revoke(
        self, image: str, policy: Policy, *, user: str | None = None, group: str | None = None
    ) -> None:
        raise self._read_only()

    def revoke_mapping(self, mapping_id: str) -> None:
        raise self._read_only()

    def revoke_all(
        self, *, image: str | None = None, user: str | None = None, group: str | None = None
    ) -> int:
        raise self._read_only()


_EXAMPLE = "user.name, application.image, policy.allow_home, policy.volume_source, ..."


def _header(cells: list[str]) -> list[str | None]:
    """The field each column fills (None: ignored column); BadRequest on a bad header."""
    fields: list[str | None] = []
    for cell in cells:
        name = cell.lower()
        field = _COLUMNS.get(name)
        if field is None and name.startswith(_NAMESPACES):
            raise BadRequest(f"unknown column {cell!r}; known columns: {', '.join(_COLUMNS)}")
        if field is not None and field in fields:
            raise BadRequest(f"column {cell!r} appears twice")
        fields.append(field)
    if "image" not in fields:
        raise BadRequest("the header has no 'application.image' column")
    if "user" not in fields and "group" not in fields:
        raise BadRequest("the header has neither a 'user.name' nor a 'group.name' column")
    return fields


def _grant_from_row(columns: list[str | None], cells: list[str]) -> Grant:
    """The grant one row describes."""
    if len(cells) > len(columns):
        raise BadRequest(f"{len(cells)} values but only {len(columns)} columns")
    # Rows may be shorter than the header: missing trailing cells take their defaults.
    values = {field: cell for field, cell in zip(columns, cells, strict=False) if field}
    user, group = values.get("user") or None, values.get("group") or None
    if (user is None) == (group is None):
        raise BadRequest("each row names exactly one of user.name and group.name")
    if user is not None:
        validate_user_name(user)
    else:
        validate_user_name(group, "group")
    image = validate_image_name(values.get("image", ""))
    policy = Policy(
        **{field: _boolean(field, values.get(field, "")) for field in POLICY_FLAGS},
        **{field: values.get(field, "") for field in POLICY_TEXTS},
    )
    return Grant(
        mapping_id=_mapping_id(image, policy, user, group),
        image=image,
        policy=policy,
        user=user,
        group=group,
    )


def _boolean(field: str, value: str) -> bool:
    lowered = value.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise BadRequest(f"policy.{field} must be true/false, 1/0 or yes/no, not {value!r}")


def _mapping_id(image: str, policy: Policy, user: str | None, group: str | None) -> str:
    """The same row content always gives the same id, across reloads and restarts.

    Running containers carry their mapping id in a label, so an id that changed on every
    reload would orphan them.
    """
    content = json.dumps(
        {"user": user, "group": group, "image": image, "policy": policy.to_dict()},
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(content.encode()).hexdigest()[:32]
