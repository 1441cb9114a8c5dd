"""Concurrency: many users at once through the REST API of a real server with real docker,
and several OS processes sharing one SQLite accounting file while an admin writes grants.

The users are simulated JupyterHub users (``fake_hub``): ten of them besides alice, the
admin, each with two grants of the demo web app.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import random
import re
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import concurrency_workers as workers
import pytest
from api_helpers import assert_conforms
from concurrency_workers import APPS, GRANT_USERS, GROUPED, READERS
from conftest import NAMESPACE, WEBAPP, realm_containers, server_config
from fake_hub import ADMIN, HUB_USERS, FakeHubIdentityProvider

from remoteapp_server.core.accounting import migrate
from remoteapp_server.core.accounting.sql import SQLAccounting

USERS = [f"user{i}" for i in range(10)]
#: two grants per user: the same app under two policies, two separately startable entries
POLICIES = [{}, {"allow_view": True}]


@pytest.fixture(params=["sqlite", "postgresql"])
def accounting_url(request, tmp_path) -> str:
    """The server's accounting: an SQLite file, or a PostgreSQL database migrated as an
    operator does (`jupyter remoteapp db upgrade`) on the test run's private server."""
    if request.param == "sqlite":
        return str(tmp_path / "remoteapp.sqlite")
    url = request.getfixturevalue("postgres_url")
    migrate.upgrade(url)
    return url


@pytest.fixture
def jp_server_config(accounting_url):
    return server_config(
        accounting_url, identity_provider_class=FakeHubIdentityProvider, start_timeout=60
    )


@pytest.fixture
def server(jp_serverapp, http_server_client, jp_base_url, docker_client, monkeypatch):
    """The server's client, able to keep all 200 requests in flight at once."""
    for name in USERS:
        monkeypatch.setitem(
            HUB_USERS, f"{name}-token", {"name": name, "groups": [], "scopes": ["access:servers"]}
        )
    http_server_client.max_clients = 250  # tornado's default of 10 would queue the calls
    yield http_server_client
    for container in realm_containers(docker_client):
        container.remove(force=True)


@dataclass
class Answer:
    user: str
    method: str
    path: str
    code: int
    body: Any
    response: Any


class Client:
    def __init__(self, http, base_url: str):
        self.http = http
        self.base_url = base_url
        self.answers: list[Answer] = []

    async def call(self, user: str, method: str, path: str, body: Any = None) -> Answer:
        raw = None if body is None else json.dumps(body).encode()
        if raw is None and method == "POST":
            raw = b""
        response = await self.http.fetch(
            f"{self.base_url}remoteapp/api/{path}",
            method=method,
            body=raw,
            headers={"Authorization": f"token {user}-token"},
            raise_error=False,
            request_timeout=120,
        )
        parsed = json.loads(response.body) if response.body else None
        answer = Answer(user, method, path, response.code, parsed, response)
        self.answers.append(answer)
        return answer


async def test_ten_users_200_mixed_calls_leave_exactly_the_expected_containers(
    server, jp_base_url, docker_client
):
    api = Client(server, jp_base_url)
    # --- alice, the admin, registers the app and grants it to everyone twice
    assert ADMIN in HUB_USERS["alice-token"]["scopes"]
    assert (await api.call("alice", "POST", "admin/applications", {"image": WEBAPP})).code == 201
    mappings: dict[str, list[str]] = {}
    for name in USERS:
        assert (await api.call("alice", "POST", "admin/users", {"name": name})).code == 201
        for policy in POLICIES:
            body = {"image": WEBAPP, "user": name, "policy": policy}
            answer = await api.call("alice", "POST", "admin/grants", body)
            assert answer.code == 201, answer.body
            mappings.setdefault(name, []).append(answer.body["mapping_id"])
    # the admin lists page in the database (SQLite or PostgreSQL): pages are slices
    whole = (await api.call("alice", "GET", "admin/grants")).body
    assert whole["total"] == len(whole["items"]) == 2 * len(USERS)
    pages = [
        (await api.call("alice", "GET", f"admin/grants?offset={offset}&limit=7")).body
        for offset in range(0, 2 * len(USERS), 7)
    ]
    assert [g for page in pages for g in page["items"]] == whole["items"]
    users = (await api.call("alice", "GET", "admin/users?offset=3&limit=4")).body
    assert users["total"] == len(USERS) and [u["name"] for u in users["items"]] == USERS[3:7]
    assert all(u["grants"] == 2 for u in users["items"])
    api.answers.clear()

    # --- 200 calls at once: start, stop (find the entry's container, delete it), list
    rng = random.Random(20261121)
    stops: list[tuple[str, str, str, int]] = []  # user, mapping, url_id, DELETE status

    async def start(user: str, mapping_id: str) -> None:
        await api.call(user, "POST", "containers", {"mapping_id": mapping_id})

    async def stop(user: str, mapping_id: str) -> None:
        listed = await api.call(user, "GET", "containers")
        assert listed.code == 200, listed.body
        for container in listed.body:
            if container["mapping_id"] == mapping_id:
                url_id = container["url_id"]
                answer = await api.call(user, "DELETE", f"containers/{url_id}")
                stops.append((user, mapping_id, url_id, answer.code))

    async def look(user: str, mapping_id: str) -> None:
        apps = await api.call(user, "GET", "applications")
        assert apps.code == 200, apps.body
        assert sorted(a["mapping_id"] for a in apps.body) == sorted(mappings[user])
        containers = await api.call(user, "GET", "containers")
        assert containers.code == 200, containers.body
        assert {c["user"] for c in containers.body} <= {user}  # only ever their own

    operations = {"start": start, "stop": stop, "list": look}
    plan = []
    for _ in range(200):
        user = rng.choice(USERS)
        kind = rng.choices(["start", "stop", "list"], weights=[4, 3, 3])[0]
        plan.append((rng.uniform(0, 2.5), kind, user, rng.choice(mappings[user])))

    async def run(delay: float, kind: str, user: str, mapping_id: str) -> None:
        await asyncio.sleep(delay)
        await operations[kind](user, mapping_id)

    began = time.monotonic()
    await asyncio.gather(*(run(*step) for step in plan))
    seconds = time.monotonic() - began
    assert min(Counter(kind for _, kind, _, _ in plan).values()) >= 30

    # --- every answer: described by the OpenAPI document, never 5xx, errors are clear
    codes = Counter((a.method, a.path.split("/")[0], a.code) for a in api.answers)
    for answer in api.answers:
        assert answer.code < 500, (answer.method, answer.path, answer.code, answer.body, codes)
        assert_conforms(answer.method, answer.path, answer.response)
        if answer.code >= 300:
            # a start is refused as a conflict (the entry exists: 404 would say it does
            # not); a stop finds the container gone or being stopped; reads never fail
            allowed = {"POST": (409,), "DELETE": (404, 409)}.get(answer.method, ())
            assert answer.code in allowed, (answer.method, answer.path, answer.body)
            assert answer.body["status"] == answer.code
            message = answer.body["message"]
            assert isinstance(message, str) and len(message) > 10
            # in the user's terms: no docker ids or names they never saw
            assert not re.search(r"[0-9a-f]{64}|remoteapp-test-", message), message

    # --- the expected final state, from the answers: what started and was not stopped
    started = {
        a.body["url_id"]: (a.user, a.body["mapping_id"])
        for a in api.answers
        if a.method == "POST" and a.code == 201
    }
    stopped = {url_id for _, _, url_id, code in stops if code == 204}
    expected = {url_id: owner for url_id, owner in started.items() if url_id not in stopped}
    assert started and stopped and expected, codes  # the mix did start and stop things
    # a second start of a running (or starting) entry is refused, never a second container
    assert any(a.method == "POST" and a.code == 409 for a in api.answers), codes

    # each user's entries are running or not; the API and docker agree on every container
    for name in USERS:
        listed = await api.call(name, "GET", "containers")
        mine = {url_id for url_id, (user, _) in expected.items() if user == name}
        assert {c["url_id"] for c in listed.body} == mine, name
        assert all(c["status"] == "running" for c in listed.body)
        per_entry = Counter(c["mapping_id"] for c in listed.body)
        assert all(count == 1 for count in per_entry.values()), per_entry
        apps = (await api.call(name, "GET", "applications")).body
        assert {a["mapping_id"]: a["containers"] for a in apps} == {
            mapping_id: [u for u, owner in expected.items() if owner == (name, mapping_id)]
            for mapping_id in mappings[name]
        }
    everything = await api.call("alice", "GET", "admin/containers")
    assert {c["url_id"] for c in everything.body["items"]} == set(expected)
    # no orphans: every container of the realm in docker is one the API lists
    in_docker = {
        c.labels[f"{NAMESPACE}runinfo.url_id"]: c.status for c in realm_containers(docker_client)
    }
    assert in_docker == dict.fromkeys(expected, "running"), (in_docker, codes, seconds)


@pytest.mark.parametrize("accounting_url", ["sqlite"], indirect=True)
async def test_a_stop_during_the_start_is_a_clear_conflict_and_leaves_nothing(
    server, jp_base_url, docker_client, derived_image
):
    """The user stops an app while it is still starting (the app takes 2 s to listen):
    the stop succeeds, the start answers 409 saying so (not a 502 "no reachable address"
    or a 404 "No such container: <docker id>"), no container is left, and it starts again."""
    slow = derived_image(
        'CMD ["/bin/sh", "-c", "sleep 2; exec /usr/local/bin/remoteapp-webapp-start"]'
    )
    api = Client(server, jp_base_url)
    assert (await api.call("alice", "POST", "admin/applications", {"image": slow})).code == 201
    assert (await api.call("alice", "POST", "admin/users", {"name": "user0"})).code == 201
    granted = await api.call("alice", "POST", "admin/grants", {"image": slow, "user": "user0"})
    mapping_id = granted.body["mapping_id"]

    starting = asyncio.ensure_future(
        api.call("user0", "POST", "containers", {"mapping_id": mapping_id})
    )
    deadline = time.monotonic() + 20
    while True:
        listed = (await api.call("user0", "GET", "containers")).body
        if listed:
            break
        assert time.monotonic() < deadline and not starting.done(), starting
        await asyncio.sleep(0.02)
    assert not starting.done()
    stopped = await api.call("user0", "DELETE", f"containers/{listed[0]['url_id']}")
    assert stopped.code == 204, stopped.body
    answer = await starting
    assert answer.code == 409, answer.body
    assert_conforms("POST", "containers", answer.response)
    assert "stopped while it was starting" in answer.body["message"]
    assert (await api.call("user0", "GET", "containers")).body == []
    assert realm_containers(docker_client) == []

    again = await api.call("user0", "POST", "containers", {"mapping_id": mapping_id})
    assert again.code == 201, again.body


# --- several processes, one SQLite file --------------------------------------------------------


def test_five_processes_read_one_sqlite_file_while_an_admin_writes_grants(tmp_path: Path):
    """Five user processes list and look up their grants (what ``GET applications`` and a
    start do) and reopen the file now and then, while an admin process writes 158 grants:
    every write arrives, no reader ever sees a grant vanish, and no error (such as
    SQLite's "database is locked") reaches a user."""
    path = str(tmp_path / "shared" / "accounting.db")
    setup = SQLAccounting(path)
    for user in GRANT_USERS:
        setup.create_user(user)
    setup.close()

    context = multiprocessing.get_context("spawn")
    start, done, results = context.Barrier(READERS + 1), context.Event(), context.Queue()
    reads = context.Value("i", 0)
    admin = context.Process(
        target=workers.admin, args=(path, start, done, reads, results), daemon=True
    )
    readers = [
        context.Process(
            target=workers.reader,
            args=(path, user, start, done, reads, results),
            daemon=True,
        )
        for user in GRANT_USERS
    ]
    processes = [admin, *readers]
    try:
        for process in processes:
            process.start()
        answers = [results.get(timeout=workers.TIME_LIMIT + 30) for _ in processes]
        for process in processes:
            process.join(timeout=30)
    finally:
        for process in processes:
            if process.is_alive():
                process.kill()
    assert [p.exitcode for p in processes] == [0] * (READERS + 1)
    reports = [report for kind, report in answers if kind == "reader"]
    assert [report for kind, report in answers if kind == "admin"] == [[]]  # no admin error

    accounting = SQLAccounting(path)
    try:
        # every write is there
        assert len(accounting.list_grants()) == len(APPS) * READERS + len(GROUPED)
        for user, calls, seen, errors, vanished, _ in reports:
            assert errors == [], (user, errors)  # no "database is locked" reached a user
            assert vanished == [], (user, vanished)
            final = {g.mapping_id for g in accounting.grants_for_user(user, ["everyone"])}
            assert len(final) == len(APPS) + len(GROUPED)
            assert set(seen) == final, user  # the reader's last look saw every grant
            assert calls > 0
    finally:
        accounting.close()
    # the reads really interleaved with the writes: the readers saw many states in between
    assert sum(report[5] for report in reports) >= len(APPS), reports
