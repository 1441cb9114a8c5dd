"""The SQL accounting backend: any SQLAlchemy database, SQLite by default.

Every call opens its own short transaction and nothing is cached, so grants made by
another process (the CLI, another single-user server) are visible at once.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Iterable, Iterator

from alembic.runtime.migration import MigrationContext
from sqlalchemy import Select, delete, func, select, union_all
from sqlalchemy.engine import URL
from sqlalchemy.exc import (
    DataError,
    DBAPIError,
    IntegrityError,
    ProgrammingError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session

from ..errors import BadRequest, Exists, NotFound, Unavailable
from ..paging import check_page
from . import migrate, queries
from .base import Accounting, Grant, validate_image_name, validate_user_name
from .orm import (
    AccountingEntry,
    Application,
    ApplicationPolicy,
    HubGroup,
    User,
    database_url,
    describe_url,
    make_engine,
    reopen_when_writable,
    sqlite_access_hint,
    sqlite_file,
    writing,
)
from .policy import POLICY_FIELDS, Policy, check_grantable

log = logging.getLogger(__name__)

# Hints appended to the database's own error text, by what that text contains.
_UNAVAILABLE_HINTS = {
    "database is locked": "another process held the database lock for too long",
    "no such table": migrate.UPGRADE_HINT,
}


class SQLAccounting(Accounting):
    """Accounting in an SQL database.

    ``url`` is an SQLAlchemy URL or a filesystem path (an SQLite file, created with its
    directory on first use). ``auto_upgrade`` migrates the schema to the newest revision
    when opening; it defaults to True for SQLite and False elsewhere, where a shared
    database should be migrated once by the operator.
    """

    def __init__(self, url: str | URL, *, auto_upgrade: bool | None = None):
        self.url = database_url(url)
        self.display_url = describe_url(self.url)
        is_sqlite = self.url.get_backend_name() == "sqlite"
        if auto_upgrade is None:
            auto_upgrade = is_sqlite
        migrate.ensure_directory(self.url)
        self._engine = make_engine(self.url)
        reopen_when_writable(self._engine, self.url)
        self._write_engine = writing(self._engine)
        try:
            self._check_schema(auto_upgrade)
        except BaseException:
            self._engine.dispose()
            raise

    def _check_schema(self, auto_upgrade: bool) -> None:
        """Make sure the schema is the one this code expects, migrating if allowed."""
        head = migrate.head_revision()
        with self._transaction() as session:
            current = MigrationContext.configure(session.connection()).get_current_revision()
        if current == head:
            return
        if current is not None and current not in migrate.known_revisions():
            raise Unavailable(
                f"the accounting database {self.display_url} has schema revision {current}, "
                "which this version of remoteapp does not know: upgrade remoteapp"
            )
        if not auto_upgrade:
            state = "is empty" if current is None else f"is at schema revision {current}"
            raise Unavailable(
                f"the accounting database {self.display_url} {state}, not at the current "
                f"schema revision {head}; {migrate.UPGRADE_HINT}"
            )
        log.info("migrating the accounting database %s to %s", self.display_url, head)
        if sqlite_file(self.url) is None and self.url.get_backend_name() == "sqlite":
            # In memory: the migration must run on this engine's one shared connection.
            migrate.upgrade_engine(self._engine)
        else:
            migrate.upgrade(self.url)

    def close(self) -> None:
        self._engine.dispose()

    # transactions

    @contextlib.contextmanager
    def _transaction(self, *, write: bool = False, conflict: str = "") -> Iterator[Session]:
        """One transaction per operation; database errors become domain errors.

        ``conflict`` is the message of the Exists raised when a unique constraint fails
        (another process made the same change a moment earlier).
        """
        engine = self._write_engine if write else self._engine
        try:
            session = Session(engine, expire_on_commit=False, autoflush=False)
            with session, session.begin():
                yield session
        except IntegrityError as exc:
            raise Exists(conflict or f"conflicting change: {exc.orig}") from exc
        except UnicodeEncodeError as exc:  # a lone surrogate (from JSON "\udcff") in a name
            raise BadRequest(f"invalid text for the accounting database: {exc.reason}") from exc
        except DataError as exc:
            raise BadRequest(f"invalid value for the accounting database: {exc.orig}") from exc
        except DBAPIError as exc:
            raise Unavailable(self._unavailable_message(exc)) from exc
        except PoolTimeout as exc:
            raise Unavailable(
                f"the accounting database {self.display_url} is busy: no free connection"
            ) from exc

    def _unavailable_message(self, exc: DBAPIError) -> str:
        cause = str(exc.orig).strip()
        if "readonly database" in cause.lower():
            return self._read_only_message(cause)
        message = f"the accounting database {self.display_url} is unavailable: {cause}"
        if "readonly database" in cause.lower() or "unable to open" in cause.lower():
            hints = [sqlite_access_hint(self.url)]
        else:
            hints = [hint for key, hint in _UNAVAILABLE_HINTS.items() if key in cause.lower()]
        if isinstance(exc, ProgrammingError) and not hints:
            hints.append(migrate.UPGRADE_HINT)
        return "; ".join([message, *filter(None, hints)])

    def _read_only_message(self, cause: str) -> str:
        """A write met a read-only database (a file that cannot be written, a read-only
        filesystem): say why. Reads go on working."""
        why = sqlite_access_hint(self.url)
        if why is None:  # writable again
            why = "it was read-only when the connection was opened; try again"
        return (
            f"the accounting database {self.display_url} is read-only: {why}. Reads work; "
            f"changes are refused until it is writable again (SQLite: {cause})"
        )

    # users

    def create_user(self, name: str) -> None:
        name = validate_user_name(name)
        conflict = f"user {name!r} exists already"
        with self._transaction(write=True, conflict=conflict) as session:
            if session.scalar(select(User.id).where(User.name == name)) is not None:
                raise Exists(conflict)
            session.add(User(name=name))

    def remove_user(self, name: str) -> None:
        with self._transaction(write=True) as session:
            result = session.execute(delete(User).where(User.name == name), _NO_SYNC)
            if result.rowcount == 0:
                raise NotFound(f"user {name!r} does not exist")

    def list_users(self, *, offset: int = 0, limit: int | None = None) -> list[str]:
        """User names in order; ``offset``/``limit`` select one page of them (in SQL)."""
        query = queries.page(select(User.name).order_by(User.name), offset, limit)
        with self._transaction() as session:
            return list(session.scalars(query))

    def count_users(self) -> int:
        with self._transaction() as session:
            return session.scalar(select(func.count()).select_from(User)) or 0

    # applications

    def create_application(self, image: str) -> None:
        image = validate_image_name(image)
        conflict = f"application {image!r} exists already"
        with self._transaction(write=True, conflict=conflict) as session:
            if session.scalar(select(Application.id).where(Application.image == image)) is not None:
                raise Exists(conflict)
            session.add(Application(image=image))

    def remove_application(self, image: str) -> None:
        with self._transaction(write=True) as session:
            statement = delete(Application).where(Application.image == image)
            if session.execute(statement, _NO_SYNC).rowcount == 0:
                raise NotFound(f"application {image!r} does not exist")

    def list_applications(self, *, offset: int = 0, limit: int | None = None) -> list[str]:
        """Application images in order; ``offset``/``limit`` select one page (in SQL)."""
        query = queries.page(select(Application.image).order_by(Application.image), offset, limit)
        with self._transaction() as session:
            return list(session.scalars(query))

    def count_applications(self) -> int:
        with self._transaction() as session:
            return session.scalar(select(func.count()).select_from(Application)) or 0

    # grants

    def grant(
        self, image: str, policy: Policy, *, user: str | None = None, group: str | None = None
    ) -> Grant:
        self._one_grantee(user, group)
        image = validate_image_name(image)
        check_grantable(policy)
        grantee = _grantee(user, group)
        conflict = f"{image!r} is granted to {grantee} under this policy already"
        with self._transaction(write=True, conflict=conflict) as session:
            if user is not None:
                user_id, group_id = _user_id(session, validate_user_name(user)), None
            else:
                user_id, group_id = None, _group_id(session, validate_user_name(group, "group"))
            application_id = session.scalar(
                select(Application.id).where(Application.image == image)
            )
            if application_id is None:
                raise NotFound(
                    f"application {image!r} does not exist; "
                    f"create it with `jupyter remoteapp app create {image}`"
                )
            policy_id = _policy_id(session, policy)
            same_grantee = (
                AccountingEntry.user_id == user_id
                if user_id is not None
                else AccountingEntry.group_id == group_id
            )
            existing = select(AccountingEntry.mapping_id).where(
                same_grantee,
                AccountingEntry.application_id == application_id,
                AccountingEntry.policy_id == policy_id,
            )
            if session.scalar(existing) is not None:
                raise Exists(conflict)
            mapping_id = uuid.uuid4().hex
            session.add(
                AccountingEntry(
                    mapping_id=mapping_id,
                    user_id=user_id,
                    group_id=group_id,
                    application_id=application_id,
                    policy_id=policy_id,
                )
            )
        return Grant(mapping_id=mapping_id, image=image, policy=policy, user=user, group=group)

    def revoke(
        self, image: str, policy: Policy, *, user: str | None = None, group: str | None = None
    ) -> None:
        self._one_grantee(user, group)
        query = queries.grants_query(image=image, user=user, group=group).where(
            *(
                getattr(ApplicationPolicy, field) == getattr(policy, field)
                for field in POLICY_FIELDS
            )
        )
        with self._transaction(write=True) as session:
            mapping_id = session.scalar(query.with_only_columns(AccountingEntry.mapping_id))
            if mapping_id is None:
                raise NotFound(
                    f"{image!r} is not granted to {_grantee(user, group)} under this policy"
                )
            session.execute(delete(AccountingEntry).where(AccountingEntry.mapping_id == mapping_id))

    def revoke_mapping(self, mapping_id: str) -> None:
        with self._transaction(write=True) as session:
            statement = delete(AccountingEntry).where(AccountingEntry.mapping_id == mapping_id)
            if session.execute(statement, _NO_SYNC).rowcount == 0:
                raise NotFound(f"no grant with mapping id {mapping_id!r}")

    def revoke_all(
        self, *, image: str | None = None, user: str | None = None, group: str | None = None
    ) -> int:
        statement = delete(AccountingEntry)
        if image is not None:
            ids = select(Application.id).where(Application.image == image)
            statement = statement.where(AccountingEntry.application_id.in_(ids))
        if user is not None:
            statement = statement.where(
                AccountingEntry.user_id.in_(select(User.id).where(User.name == user))
            )
        if group is not None:
            statement = statement.where(
                AccountingEntry.group_id.in_(select(HubGroup.id).where(HubGroup.name == group))
            )
        with self._transaction(write=True) as session:
            return session.execute(statement, _NO_SYNC).rowcount

    def list_grants(
        self,
        *,
        image: str | None = None,
        user: str | None = None,
        group: str | None = None,
        offset: int = 0,
        limit: int | None = None,
    ) -> list[Grant]:
        """Grants matching all given selectors, ordered by image and mapping id.

        ``offset``/``limit`` select one page of them in SQL: first the page's mapping ids
        (walking the applications in image order through indexes, not sorting every
        grant; deep pages of all grants skip whole applications by their counts), then
        their details.
        """
        check_page(offset, limit)
        paged = offset != 0 or limit is not None
        unfiltered = image is None and user is None and group is None
        with self._transaction() as session:
            if not paged:
                query = queries.grants_query(image, user, group)
            else:
                if unfiltered and limit is not None and offset >= queries.SKIP_APPLICATIONS_FROM:
                    keys = queries.deep_page_keys(session, offset, limit)
                else:
                    keys = list(
                        session.scalars(
                            queries.page(queries.grant_keys(image, user, group), offset, limit)
                        )
                    )
                if not keys:
                    return []
                query = queries.grants_query().where(AccountingEntry.mapping_id.in_(keys))
            return [queries.to_grant(row) for row in session.execute(query)]

    def count_grants(
        self, *, image: str | None = None, user: str | None = None, group: str | None = None
    ) -> int:
        """How many grants :meth:`list_grants` lists with the same selectors."""
        if image is None and user is None and group is None:
            query = select(func.count()).select_from(AccountingEntry)
        else:
            keys = queries.grant_keys(image, user, group).order_by(None).subquery()
            query = select(func.count()).select_from(keys)
        with self._transaction() as session:
            return session.scalar(query) or 0

    def count_grants_by_user(self, users: Iterable[str] | None = None) -> dict[str, int]:
        """Grants made to each user (not through groups): of ``users``, or of everyone.
        Users without grants are missing from the answer."""
        query = (
            select(User.name, func.count(AccountingEntry.mapping_id))
            .join(AccountingEntry, AccountingEntry.user_id == User.id)
            .group_by(User.name)
        )
        if users is not None:
            names = sorted(set(users))
            if not names:
                return {}
            query = query.where(User.name.in_(names))
        with self._transaction() as session:
            return {name: count for name, count in session.execute(query)}

    def grants_for_user(self, user: str, groups: Iterable[str] = ()) -> list[Grant]:
        """One query; the mapping ids come from the grantee indexes, not from a table scan.

        (Written as ``user_id = ... OR group_id IN ...``, SQLite scans every grant.)
        """
        mapping_ids = select(AccountingEntry.mapping_id).where(
            AccountingEntry.user_id == select(User.id).where(User.name == user).scalar_subquery()
        )
        groups = sorted(set(groups))
        if groups:
            of_groups = select(AccountingEntry.mapping_id).where(
                AccountingEntry.group_id.in_(select(HubGroup.id).where(HubGroup.name.in_(groups)))
            )
            mapping_ids = union_all(mapping_ids, of_groups)
        query = queries.grants_query().where(AccountingEntry.mapping_id.in_(mapping_ids))
        with self._transaction() as session:
            return [queries.to_grant(row) for row in session.execute(query)]


# ORM-enabled DELETE: the session holds no objects to keep in sync, skip looking for them.
_NO_SYNC = {"synchronize_session": False}


def _grantee(user: str | None, group: str | None) -> str:
    return f"user {user!r}" if user is not None else f"group {group!r}"


def _user_id(session: Session, name: str) -> int:
    user_id = session.scalar(select(User.id).where(User.name == name))
    if user_id is None:
        raise NotFound(
            f"user {name!r} does not exist; create it with `jupyter remoteapp user create {name}`"
        )
    return user_id


def _group_id(session: Session, name: str) -> int:
    """The id of the group, created on demand: groups live in JupyterHub, not here."""
    return _get_or_create(
        session, select(HubGroup.id).where(HubGroup.name == name), HubGroup(name=name)
    )


def _policy_id(session: Session, policy: Policy) -> int:
    """The id of the row with this policy's content; stored once, shared by grants."""
    values = {field: getattr(policy, field) for field in POLICY_FIELDS}
    query = select(ApplicationPolicy.id).where(
        *(getattr(ApplicationPolicy, field) == value for field, value in values.items())
    )
    return _get_or_create(session, query, ApplicationPolicy(**values))


def _get_or_create(session: Session, query: Select, row: HubGroup | ApplicationPolicy) -> int:
    """Find a row by ``query`` or insert ``row``; survives a concurrent insert of the same."""
    found = session.scalar(query)
    if found is not None:
        return found
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
        return row.id
    except IntegrityError:
        found = session.scalar(query)
        if found is None:
            raise
        return found
