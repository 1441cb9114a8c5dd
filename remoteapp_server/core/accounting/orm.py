"""The accounting schema (SQLAlchemy 2 ORM) and how to connect to it.

The Alembic migrations in ``remoteapp_server/alembic`` create exactly this schema; a test
compares the two. Change both together.
"""

from __future__ import annotations

import importlib.util
import os
import sqlite3
from pathlib import Path

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Engine,
    ForeignKey,
    Index,
    MetaData,
    String,
    UniqueConstraint,
    create_engine,
    event,
)
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DisconnectionError
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.pool import StaticPool

from ..errors import Unavailable
from .policy import MAX_LICENSE_LENGTH, MAX_PATH_LENGTH, POLICY_FIELDS

#: Seconds a SQLite connection waits for another process's write lock before giving up.
SQLITE_BUSY_TIMEOUT = 10.0

# Longest values the columns take. SQLite does not enforce them, other databases do, so
# SQLAccounting checks them up front and answers BadRequest instead of a database error.
MAX_NAME_LENGTH = 255
MAX_IMAGE_LENGTH = 512

# Deterministic constraint names, so that migrations (batch mode on SQLite) can refer to them.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class User(Base):
    __tablename__ = "user"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(MAX_NAME_LENGTH), unique=True)


class HubGroup(Base):
    """A JupyterHub group; rows are created when a group is first granted something."""

    __tablename__ = "hub_group"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(MAX_NAME_LENGTH), unique=True)


class Application(Base):
    __tablename__ = "application"

    id: Mapped[int] = mapped_column(primary_key=True)
    image: Mapped[str] = mapped_column(String(MAX_IMAGE_LENGTH), unique=True)


class ApplicationPolicy(Base):
    """A policy's content; "" means "not set", so equal policies share one row."""

    __tablename__ = "application_policy"
    __table_args__ = (
        UniqueConstraint(*POLICY_FIELDS, name="uq_application_policy_content"),
        CheckConstraint("volume_mode IN ('', 'ro', 'rw')", name="volume_mode"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    allow_home: Mapped[bool] = mapped_column(Boolean)
    allow_view: Mapped[bool] = mapped_column(Boolean)
    allow_common: Mapped[bool] = mapped_column(Boolean)
    volume_source: Mapped[str] = mapped_column(String(MAX_PATH_LENGTH))
    volume_target: Mapped[str] = mapped_column(String(MAX_PATH_LENGTH))
    volume_mode: Mapped[str] = mapped_column(String(2))
    app_license: Mapped[str] = mapped_column(String(MAX_LICENSE_LENGTH))
    allow_startup_data: Mapped[bool] = mapped_column(Boolean)


class AccountingEntry(Base):
    """One grant: a user or a group may run an application under a policy."""

    __tablename__ = "accounting"
    __table_args__ = (
        # Their leading columns are also the indexes grants_for_user looks up by.
        UniqueConstraint("user_id", "application_id", "policy_id", name="uq_accounting_user_grant"),
        UniqueConstraint(
            "group_id", "application_id", "policy_id", name="uq_accounting_group_grant"
        ),
        CheckConstraint(
            "(user_id IS NULL AND group_id IS NOT NULL)"
            " OR (user_id IS NOT NULL AND group_id IS NULL)",
            name="one_grantee",
        ),
        Index(None, "application_id"),
        Index(None, "policy_id"),
    )

    mapping_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    group_id: Mapped[int | None] = mapped_column(ForeignKey("hub_group.id", ondelete="CASCADE"))
    application_id: Mapped[int] = mapped_column(ForeignKey("application.id", ondelete="CASCADE"))
    policy_id: Mapped[int] = mapped_column(ForeignKey("application_policy.id"))


def database_url(url: str | URL) -> URL:
    """An SQLAlchemy URL; a plain filesystem path (no ``://``) is an SQLite file."""
    if isinstance(url, URL):
        return _default_driver(url)
    if "://" not in url:
        return URL.create("sqlite", database=str(Path(url).expanduser().absolute()))
    try:
        return _default_driver(make_url(url))
    except (ArgumentError, ValueError) as exc:  # ValueError: a port that is not a number
        # not the URL itself in the message: it may hold a password
        raise Unavailable(f"the accounting URL is not a database URL: {exc}") from exc


def _default_driver(url: URL) -> URL:
    """``postgresql://`` with the driver ``remoteapp[postgresql]`` installs (psycopg 3).

    SQLAlchemy before 2.1 takes ``postgresql://`` for psycopg2; use psycopg when only it
    is there, so the URL an operator writes works with the extra they installed.
    """
    if (
        url.drivername == "postgresql"
        and importlib.util.find_spec("psycopg2") is None
        and importlib.util.find_spec("psycopg") is not None
    ):
        return url.set(drivername="postgresql+psycopg")
    return url


def sqlite_file(url: URL) -> Path | None:
    """The file behind an SQLite URL, or None for other databases and in-memory SQLite."""
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    database = url.database
    if _is_true(url.query.get("uri")):
        if url.query.get("mode") == "memory":
            return None
        database = database.removeprefix("file:")
    return Path(database)


def describe_url(url: URL) -> str:
    """How to name the database in messages: the file of SQLite, else the URL sans password."""
    path = sqlite_file(url)
    if path is not None:
        return str(path)
    return url.render_as_string(hide_password=True)


def sqlite_read_only(url: URL) -> bool:
    """True for ``sqlite:///file:...?mode=ro&uri=true``, which SQLite opens read-only."""
    return _is_true(url.query.get("uri")) and url.query.get("mode") == "ro"


def sqlite_access_hint(url: URL) -> str | None:
    """Why an SQLite file cannot be opened or written, from its permissions."""
    path = sqlite_file(url)
    if path is None:
        return None
    if sqlite_read_only(url):
        return "it was opened read-only (mode=ro)"
    if not path.parent.is_dir():
        return f"the directory {path.parent} does not exist"
    if not os.access(path.parent, os.W_OK | os.X_OK):
        # WAL mode: even readers need {path}-shm, which SQLite creates next to the file.
        return (
            f"SQLite needs to create {path.name}-wal and {path.name}-shm in {path.parent} "
            "even to read the database: make that directory writable for this user"
        )
    if path.exists() and not os.access(path, os.W_OK):
        if _read_only_filesystem(path):
            return "the file is on a read-only filesystem"
        if os.geteuid() == 0:  # permissions do not stop root; the immutable attribute does
            return "the file cannot be written even by root (immutable? see lsattr)"
        return "the database file is read-only for this user"
    return None


def _read_only_filesystem(path: Path) -> bool:
    try:
        return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def make_engine(url: str | URL, *, foreign_keys: bool = True) -> Engine:
    """An engine set up so several processes can share one SQLite file.

    On SQLite every connection gets WAL (readers do not block the writer), a busy timeout
    (writers queue instead of failing at once) and enforced foreign keys (the ON DELETE
    CASCADE of grants). pysqlite's own transaction handling is switched off so that
    SQLAlchemy emits BEGIN itself: ``BEGIN IMMEDIATE`` on engines derived with
    :func:`writing`, which takes the write lock up front instead of failing with
    "database is locked" when a read transaction later tries to write.
    Migrations run with ``foreign_keys=False``, as Alembic batch mode recreates tables.
    """
    url = database_url(url)
    if url.get_backend_name() != "sqlite":
        try:
            return create_engine(url, pool_pre_ping=True)
        except ImportError as exc:  # the URL names a driver that is not installed
            raise Unavailable(
                f"the accounting database {describe_url(url)} needs a database driver that "
                f"is not installed ({exc}); for PostgreSQL: pip install 'remoteapp[postgresql]'"
            ) from exc
        except ArgumentError as exc:  # an unknown dialect or driver
            raise Unavailable(
                f"the accounting URL {describe_url(url)} names no known database: {exc}"
            ) from exc
    kwargs: dict = {"connect_args": {"timeout": SQLITE_BUSY_TIMEOUT, "check_same_thread": False}}
    if sqlite_file(url) is None:
        kwargs["poolclass"] = StaticPool  # one shared in-memory database
    engine = create_engine(url, **kwargs)

    @event.listens_for(engine, "connect")
    def _configure_sqlite(dbapi_connection: sqlite3.Connection, _record) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {int(SQLITE_BUSY_TIMEOUT * 1000)}")
        cursor.execute(f"PRAGMA foreign_keys = {'ON' if foreign_keys else 'OFF'}")
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
        except sqlite3.OperationalError:
            pass  # a read-only file keeps the journal mode it has
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection) -> None:
        mode = connection.get_execution_options().get("sqlite_begin", "")
        connection.exec_driver_sql(f"BEGIN {mode}".strip())

    return engine


def writing(engine: Engine) -> Engine:
    """The same engine, but its SQLite transactions take the write lock when they begin."""
    if engine.dialect.name != "sqlite":
        return engine
    return engine.execution_options(sqlite_begin="IMMEDIATE")


def _is_true(value: object) -> bool:
    return str(value).lower() in ("true", "1", "yes")


def reopen_when_writable(engine: Engine, url: URL) -> None:
    """SQLite opens a file it cannot write read-only, and such a connection stays
    read-only: replace it once the file is writable again (made writable, the filesystem
    remounted), so that changes work without a restart."""
    path = sqlite_file(url)
    if path is None or sqlite_read_only(url):
        return

    def writable() -> bool:
        return os.access(path, os.W_OK)

    @event.listens_for(engine, "connect")
    def _opened(_dbapi_connection, record) -> None:
        record.info["read_only"] = not writable()

    @event.listens_for(engine, "checkout")
    def _checked_out(_dbapi_connection, record, _proxy) -> None:
        if record.info.get("read_only") and writable():
            raise DisconnectionError("the database file is writable again: reconnect")
