"""Create and upgrade the accounting schema with Alembic, from Python.

The migration scripts live inside the package (``remoteapp_server/alembic``), so this works
from an installed wheel without an alembic.ini. ``jupyter remoteapp db ...`` calls these
functions; :class:`~.sql.SQLAccounting` calls :func:`upgrade` itself for SQLite files.

A new migration, after changing :mod:`.orm`: take ``alembic_config()``, set its
``sqlalchemy.url`` to a database at head, and call
``alembic.command.revision(config, message=..., autogenerate=True)``; review the script.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Callable, Iterator
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Connection, Engine
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError

from ..errors import BadRequest, Unavailable
from .orm import (
    database_url,
    describe_url,
    make_engine,
    sqlite_file,
    sqlite_read_only,
    writing,
)

#: Where the migration scripts are: ``remoteapp_server/alembic`` (this file is in
#: ``remoteapp_server/core/accounting``).
SCRIPT_LOCATION = Path(__file__).resolve().parents[2] / "alembic"

UPGRADE_HINT = "run `jupyter remoteapp db upgrade` against this database"


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic config pointing at the packaged scripts (and at ``connection``, if given)."""
    config = Config()
    config.set_main_option("script_location", str(SCRIPT_LOCATION))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The newest schema revision this version of remoteapp knows."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, f"no migrations found in {SCRIPT_LOCATION}"
    return head


def known_revisions() -> set[str]:
    """Every revision in the packaged scripts."""
    return {
        script.revision for script in ScriptDirectory.from_config(alembic_config()).walk_revisions()
    }


def current_revision(url: str | URL) -> str | None:
    """The schema revision of the database at ``url``; None for an empty database.

    A missing SQLite file is not created: it is reported as empty.
    """
    url = database_url(url)
    path = sqlite_file(url)
    if path is not None and not path.exists():
        return None
    with _engine(url) as engine:
        return revision_of(engine)


def revision_of(engine: Engine) -> str | None:
    """The schema revision of the database behind ``engine``."""
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    except DBAPIError as exc:
        database = describe_url(engine.url)
        raise Unavailable(
            f"cannot read the schema revision of the accounting database {database}: {exc.orig}"
        ) from exc


def upgrade(url: str | URL, revision: str = "head") -> str | None:
    """Migrate the database at ``url`` to ``revision``; running it again changes nothing.

    Returns the revision the database is at afterwards.
    """
    return _migrate(
        url,
        lambda config: command.upgrade(config, revision),
        done=lambda current: revision == "head" and current == head_revision(),
    )


def downgrade(url: str | URL, revision: str = "base") -> str | None:
    """Migrate the database at ``url`` back to ``revision`` ("base" drops every table)."""
    return _migrate(url, lambda config: command.downgrade(config, revision))


def init(url: str | URL) -> str:
    """Create the accounting database (for SQLite: its file and directory) at the newest schema.

    Safe on an existing database: it is upgraded, never emptied.
    """
    revision = upgrade(url)
    assert revision is not None
    return revision


def ensure_directory(url: URL) -> None:
    """Create the directory of an SQLite file (mode 0700: it holds who may run what)."""
    path = sqlite_file(url)
    if path is None or sqlite_read_only(url):
        return
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise Unavailable(
            f"cannot create the directory of the accounting database {path}: {exc}"
        ) from exc


@contextlib.contextmanager
def migration_lock(url: URL) -> Iterator[None]:
    """Hold an exclusive lock (``<db>.lock``) while migrating an SQLite file.

    Two processes opening a fresh file at once then migrate one after the other, and the
    second finds the schema at head. Other databases rely on their own transactions.
    """
    path = sqlite_file(url)
    if path is None:
        yield
        return
    lock_path = path.with_name(path.name + ".lock")
    try:
        lock_fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError:
        yield  # unwritable directory: the migration itself will fail with a clear error
        return
    try:
        fcntl.flock(lock_fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(lock_fd, fcntl.LOCK_UN)
        os.close(lock_fd)


def migrate_engine(engine: Engine, run: Callable[[Config], None]) -> str | None:
    """Run an Alembic command on ``engine`` in one transaction; return the revision after.

    One transaction: a failed migration leaves the schema as it was. Prefer :func:`upgrade`,
    which also takes the migration lock; this is for engines without a file behind them
    (in-memory SQLite).
    """
    try:
        with writing(engine).begin() as connection:
            run(alembic_config(connection))
            _check_foreign_keys(connection)
    except DBAPIError as exc:
        raise Unavailable(
            f"cannot migrate the accounting database {describe_url(engine.url)}: {exc.orig}"
        ) from exc
    except CommandError as exc:  # an unknown revision, on the command line or in the database
        raise BadRequest(
            f"cannot migrate the accounting database {describe_url(engine.url)}: {exc}"
        ) from exc
    return revision_of(engine)


def upgrade_engine(engine: Engine, revision: str = "head") -> str | None:
    """Upgrade the database behind ``engine`` (for in-memory SQLite, which only it can see)."""
    return migrate_engine(engine, lambda config: command.upgrade(config, revision))


def _migrate(
    url: str | URL,
    run: Callable[[Config], None],
    done: Callable[[str | None], bool] = lambda current: False,
) -> str | None:
    """Run ``run`` under the migration lock, unless ``done(current revision)`` says there is
    nothing to do: then no write transaction is taken at all. Loading Alembic's scripts
    inside one holds SQLite's write lock for a while, and processes that opened a fresh
    file together would each do that in turn while the others wait to write."""
    url = database_url(url)
    ensure_directory(url)
    with migration_lock(url), _engine(url, foreign_keys=False) as engine:
        current = revision_of(engine)
        if done(current):
            return current
        return migrate_engine(engine, run)


def _check_foreign_keys(connection: Connection) -> None:
    """Batch migrations on SQLite run without foreign keys; refuse to commit broken ones."""
    if connection.dialect.name != "sqlite":
        return
    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if broken:
        raise RuntimeError(f"migration left rows with dangling foreign keys: {broken[:5]}")


@contextlib.contextmanager
def _engine(url: str | URL, *, foreign_keys: bool = True) -> Iterator[Engine]:
    engine = make_engine(url, foreign_keys=foreign_keys)
    try:
        yield engine
    finally:
        engine.dispose()
