"""A private PostgreSQL cluster for the accounting tests.

``initdb`` into a temporary directory, a server listening only on a unix socket in that
directory (no TCP port, nothing shared with a system PostgreSQL), one fresh database
per test, everything removed at the end. As root, the server runs as the ``postgres``
user (or ``nobody``): PostgreSQL refuses to run as root.

The binaries come from ``$REMOTEAPP_PG_BIN``, ``pg_config --bindir`` or Debian's
``/usr/lib/postgresql/<version>/bin`` (``scripts/setup`` installs Debian's ``postgresql``).
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL


def find_bindir() -> Path | None:
    """The directory holding ``initdb``, ``pg_ctl`` and ``postgres``, or None."""
    candidates = [os.environ.get("REMOTEAPP_PG_BIN", "")]
    pg_config = shutil.which("pg_config")
    if pg_config:
        with contextlib.suppress(OSError, subprocess.CalledProcessError):
            candidates.append(
                subprocess.run(
                    [pg_config, "--bindir"], capture_output=True, text=True, check=True
                ).stdout.strip()
            )
    versions = glob.glob("/usr/lib/postgresql/*/bin")
    candidates += sorted(versions, key=lambda p: int(Path(p).parent.name), reverse=True)
    for candidate in filter(None, candidates):
        path = Path(candidate)
        if all((path / tool).is_file() for tool in ("initdb", "pg_ctl", "postgres")):
            return path
    return None


def missing_reason() -> str | None:
    """Why PostgreSQL tests cannot run here, or None when they can."""
    if find_bindir() is None:
        return (
            "PostgreSQL server binaries (initdb, pg_ctl, postgres) not found: install Debian's "
            "`postgresql` (scripts/setup does) or set REMOTEAPP_PG_BIN"
        )
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "the psycopg driver is missing: pip install 'psycopg[binary]' (the test extra)"
    return None


class PostgresCluster:
    """One PostgreSQL server of our own; :meth:`database` hands out fresh databases."""

    def __init__(self, bindir: Path):
        self.bindir = bindir
        self.root = Path(tempfile.mkdtemp(prefix="remoteapp-pg-"))
        self.data = self.root / "data"
        self.socket_dir = self.root / "socket"
        self.log = self.root / "server.log"
        self._run_as: dict = {}
        if os.geteuid() == 0:
            try:
                account = pwd.getpwnam("postgres")
            except KeyError:
                account = pwd.getpwnam("nobody")
            self._run_as = {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}
            os.chown(self.root, account.pw_uid, account.pw_gid)
        self.root.chmod(0o700)

    def _tool(self, name: str, *args: str, timeout: float = 60) -> None:
        result = subprocess.run(
            [str(self.bindir / name), *args],
            cwd=self.root,
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**os.environ, "LC_ALL": "C.UTF-8", "PGTZ": "UTC"},
            **self._run_as,
        )
        if result.returncode != 0:
            log = self.log.read_text() if self.log.exists() else ""
            raise RuntimeError(
                f"{name} {' '.join(args)} failed ({result.returncode}):\n"
                f"{result.stdout}{result.stderr}{log}"
            )

    def start(self) -> None:
        self._tool(
            "initdb",
            "--pgdata",
            str(self.data),
            "--username",
            "postgres",
            "--auth",
            "trust",
            "--encoding",
            "UTF8",
            "--locale",
            "C.UTF-8",
            "--no-sync",
            "--no-instructions",
        )
        self.socket_dir.mkdir()
        if self._run_as:
            os.chown(self.socket_dir, self._run_as["user"], self._run_as["group"])
        options = " ".join(
            [
                f"-k {self.socket_dir}",
                "-c listen_addresses=''",  # the unix socket only
                # a throw-away cluster: durability buys nothing, speed does
                "-c fsync=off",
                "-c synchronous_commit=off",
                "-c full_page_writes=off",
                "-c max_connections=200",
            ]
        )
        self._tool(
            "pg_ctl", "start", "-w", "-t", "60", "-D", str(self.data), "-l", str(self.log),
            "-o", options,
        )  # fmt: skip

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self._tool("pg_ctl", "stop", "-m", "immediate", "-D", str(self.data), timeout=30)
        shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str = "postgres") -> URL:
        return URL.create(
            "postgresql+psycopg",
            username="postgres",
            database=database,
            query={"host": str(self.socket_dir)},
        )

    def _admin(self, statement: str) -> None:
        engine = create_engine(self.url(), isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as connection:
                connection.execute(text(statement))
        finally:
            engine.dispose()

    @contextlib.contextmanager
    def database(self):
        """A new empty database (its URL) for the duration of the block."""
        name = f"test_{uuid.uuid4().hex[:16]}"
        self._admin(f'CREATE DATABASE "{name}"')
        try:
            yield self.url(name)
        finally:
            self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
