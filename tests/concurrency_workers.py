"""What the processes of test_concurrency run: the admin and the readers of one SQLite file.

A module of its own with light imports: each spawned process imports it, and importing
the test module (jupyter_server, jsonschema) would cost seconds per process.
"""

from __future__ import annotations

import time

from remoteapp_server.core.accounting import Policy
from remoteapp_server.core.accounting.sql import SQLAccounting
from remoteapp_server.core.errors import RemoteAppError

READERS = 5
GRANT_USERS = [f"reader{i}" for i in range(READERS)]
APPS = [f"simphony/app{i}" for i in range(30)]
#: the apps the admin also grants to the group "everyone", to which every reader belongs
GROUPED = APPS[::4]


#: no process runs longer than this, whatever goes wrong
TIME_LIMIT = 90.0


def admin(path: str, start, done, reads, results) -> None:
    """The admin (another process): grants every app to every user, one call each, and a
    group grant now and then; returns nothing, the database is the record.

    Before each application it waits (briefly) for the readers to have read twice more:
    however the machine schedules the processes, reads and writes interleave. Whatever
    happens, it tells the readers it is done and reports its errors.
    """
    errors: list[str] = []
    try:
        accounting = SQLAccounting(path)
        start.wait()
        try:
            for index, image in enumerate(APPS):
                deadline = time.monotonic() + 5
                while reads.value < 2 * index and time.monotonic() < deadline:
                    time.sleep(0.001)
                accounting.create_application(image)
                for user in GRANT_USERS:
                    accounting.grant(image, Policy(allow_view=index % 2 == 0), user=user)
                if image in GROUPED:
                    accounting.grant(image, Policy(), group="everyone")
        finally:
            accounting.close()
    except Exception as exc:
        errors.append(f"{type(exc).__name__}: {exc}")
    finally:
        done.set()
        results.put(("admin", errors))


def reader(path: str, user: str, start, done, reads, results) -> None:
    """A user's server (another process): lists its applications and starts one, the way
    the API does, over and over while the admin writes; now and then it reopens the
    database, as a new server or the CLI does. Reports errors and any grant that was seen
    and then vanished (a lost write), and how many different states it saw."""
    errors: list[str] = []
    vanished: list[str] = []
    seen: set[str] = set()
    states: set[int] = set()
    calls = 0
    accounting = SQLAccounting(path)
    start.wait()
    give_up = time.monotonic() + TIME_LIMIT
    try:
        while True:
            finished = done.is_set()
            try:
                grants = accounting.grants_for_user(user, ["everyone"])
                ids = {g.mapping_id for g in grants}
                vanished += sorted(seen - ids)
                seen |= ids
                states.add(len(ids))
                if grants:
                    chosen = grants[calls % len(grants)]
                    found = accounting.get_grant_for_user(chosen.mapping_id, user, ["everyone"])
                    assert found == chosen, (found, chosen)
                calls += 1
                with reads.get_lock():
                    reads.value += 1
                if calls % 25 == 0:
                    accounting.close()
                    accounting = SQLAccounting(path)
            except RemoteAppError as exc:
                errors.append(f"{type(exc).__name__}: {exc.message}")
            if finished:
                break
            if time.monotonic() > give_up:
                errors.append("the admin never finished")
                break
    except Exception as exc:  # anything else is a failure too, reported not swallowed
        errors.append(f"{type(exc).__name__}: {exc}")
    finally:
        accounting.close()
    results.put(("reader", (user, calls, sorted(seen), errors, vanished, len(states))))
