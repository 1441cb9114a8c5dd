"""Accounting backends: one behavioural suite for SQL (SQLite file, PostgreSQL) and CSV, then
each one's own.

Plain synchronous tests on real SQLite files, a real PostgreSQL server (a private one the
test run starts, see postgres_helpers) and real CSV files; nothing is mocked.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import random
import sqlite3
import statistics
import time
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import event, func, insert, inspect, select, text

from remoteapp_server.core.accounting import migrate, open_accounting, parse_volume
from remoteapp_server.core.accounting.base import Accounting, Grant, Policy
from remoteapp_server.core.accounting.csv import CSVAccounting
from remoteapp_server.core.accounting.orm import (
    AccountingEntry,
    Application,
    ApplicationPolicy,
    Base,
    HubGroup,
    User,
    make_engine,
)
from remoteapp_server.core.accounting.sql import SQLAccounting
from remoteapp_server.core.errors import BadRequest, Exists, NotFound, ReadOnly, Unavailable

IMAGE_A = "simphony/app-a:1.0"
IMAGE_B = "registry.example.org:5000/simphony/app-b:latest"
HOME = Policy(allow_home=True)
SHARED_DATA = Policy.with_volume("/data:/mnt/data:ro", allow_view=True, app_license="KEY-1")
PLAIN = Policy()

# (user, group, image, policy): the same content for both backends.
SCENARIO = [
    ("alice", None, IMAGE_A, HOME),
    ("alice", None, IMAGE_A, SHARED_DATA),
    ("alice", None, IMAGE_B, PLAIN),
    ("bob", None, IMAGE_B, HOME),
    (None, "staff", IMAGE_B, SHARED_DATA),
    (None, "others", IMAGE_A, PLAIN),
]

CSV_HEADER = (
    "user.name, group.name, application.image, policy.app_license, policy.allow_home, "
    "policy.allow_view, policy.allow_common, policy.volume_source, policy.volume_target, "
    "policy.volume_mode, policy.allow_startup_data"
)


def csv_row(user: str | None, group: str | None, image: str, policy: Policy) -> str:
    cells = [
        user or "",
        group or "",
        image,
        policy.app_license,
        *(str(value).lower() for value in (policy.allow_home, policy.allow_view)),
        str(policy.allow_common).lower(),
        policy.volume_source,
        policy.volume_target,
        policy.volume_mode,
        str(policy.allow_startup_data).lower(),
    ]
    return ", ".join(cells)


def write_csv(path: Path, rows: list[str], header: str = CSV_HEADER) -> Path:
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


def populate_sql(accounting: SQLAccounting) -> None:
    for name in ("alice", "bob"):
        accounting.create_user(name)
    for image in (IMAGE_A, IMAGE_B):
        accounting.create_application(image)
    for user, group, image, policy in SCENARIO:
        accounting.grant(image, policy, user=user, group=group)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "accounting.db"


#: the databases the SQL backend is tested on
SQL_BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(params=SQL_BACKENDS)
def db_url(request, db_path: Path) -> str:
    """A new, empty SQL database: an SQLite file (not created yet) or a database on the
    private PostgreSQL server of the test run."""
    if request.param == "sqlite":
        return str(db_path)
    return request.getfixturevalue("postgres_url")


def is_sqlite(url: str) -> bool:
    return "://" not in url or url.startswith("sqlite")


def open_sql(url: str) -> SQLAccounting:
    """SQLAccounting as an operator sets it up: an SQLite file migrates itself; any other
    database is migrated once with the packaged migrations (`jupyter remoteapp db
    upgrade`), since SQLAccounting does not upgrade a shared server's schema on its own."""
    if not is_sqlite(url):
        migrate.upgrade(url)
    return SQLAccounting(url)


@pytest.fixture
def sql(db_url: str):
    accounting = open_sql(db_url)
    yield accounting
    accounting.close()


@pytest.fixture(params=[*SQL_BACKENDS, "csv"])
def populated(request, tmp_path: Path):
    """The SCENARIO in every backend."""
    if request.param in SQL_BACKENDS:
        if request.param == "sqlite":
            url = str(tmp_path / "accounting.db")
        else:
            url = request.getfixturevalue("postgres_url")
        accounting: Accounting = open_sql(url)
        populate_sql(accounting)
    else:
        path = write_csv(tmp_path / "accounting.csv", [csv_row(*entry) for entry in SCENARIO])
        accounting = CSVAccounting(path)
    yield accounting
    accounting.close()


def table_names(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def scalar(url: str, statement) -> object:
    """Run one statement on the database behind ``url`` in its own transaction."""
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            result = connection.execute(statement)
            return result.scalar() if result.returns_rows else None
    finally:
        engine.dispose()


def keys(grants: list[Grant]) -> list[tuple]:
    return [(g.user, g.group, g.image, g.policy) for g in grants]


# --- the behaviour both backends share ------------------------------------------------------


def test_lists_users_and_applications(populated: Accounting):
    assert populated.list_users() == ["alice", "bob"]
    assert populated.list_applications() == sorted([IMAGE_A, IMAGE_B])


def test_pages_and_counts_agree_with_the_whole_lists(populated: Accounting):
    grants = populated.list_grants()
    assert populated.count_grants() == len(grants)
    assert populated.count_users() == 2 and populated.count_applications() == 2
    # every page of every size is the matching slice of the whole, in the same order
    for limit in (1, 2, 3):
        pages = [
            populated.list_grants(offset=offset, limit=limit)
            for offset in range(0, len(grants), limit)
        ]
        assert [g for page in pages for g in page] == grants
    assert populated.list_grants(offset=len(grants)) == []
    assert populated.list_users(offset=1) == ["bob"]
    assert populated.list_applications(limit=1) == [sorted([IMAGE_A, IMAGE_B])[0]]
    alice = populated.list_grants(user="alice")
    assert populated.count_grants(user="alice") == len(alice)
    assert populated.list_grants(user="alice", offset=1, limit=1) == alice[1:2]
    expected = {"alice": len(alice), "bob": populated.count_grants(user="bob")}
    assert populated.count_grants_by_user() == {k: v for k, v in expected.items() if v}
    assert populated.count_grants_by_user(["bob", "nobody"]) == {"bob": expected["bob"]}
    for offset, limit in ((-1, None), (0, 0), ("1", 1), (True, 2)):
        with pytest.raises(BadRequest, match="must be an integer"):
            populated.list_grants(offset=offset, limit=limit)


def test_same_application_under_two_policies_is_two_grants(populated: Accounting):
    grants = populated.list_grants(user="alice", image=IMAGE_A)
    assert {g.policy for g in grants} == {HOME, SHARED_DATA}
    assert len({g.mapping_id for g in grants}) == 2
    assert all(len(g.mapping_id) == 32 and int(g.mapping_id, 16) >= 0 for g in grants)


def test_grants_for_user_are_own_grants_in_stable_order(populated: Accounting):
    grants = populated.grants_for_user("alice")
    assert sorted(keys(grants), key=repr) == sorted(
        [entry for entry in SCENARIO if entry[0] == "alice"], key=repr
    )
    assert grants == sorted(grants, key=lambda g: (g.image, g.mapping_id))
    assert populated.grants_for_user("alice") == grants


def test_group_grants_appear_for_members_only(populated: Accounting):
    staff_grant = (None, "staff", IMAGE_B, SHARED_DATA)
    assert staff_grant not in keys(populated.grants_for_user("bob"))
    assert staff_grant in keys(populated.grants_for_user("bob", ["staff"]))
    # A member without a user row of their own still gets the group's grants.
    assert keys(populated.grants_for_user("carol", ["staff", "nonexistent"])) == [staff_grant]
    assert populated.grants_for_user("carol", ["nonexistent"]) == []
    both = populated.grants_for_user("carol", ("staff", "others"))
    assert {g.group for g in both} == {"staff", "others"}


def test_list_grants_filters(populated: Accounting):
    assert len(populated.list_grants()) == len(SCENARIO)
    assert keys(populated.list_grants(group="staff")) == [(None, "staff", IMAGE_B, SHARED_DATA)]
    assert {g.image for g in populated.list_grants(image=IMAGE_B)} == {IMAGE_B}
    assert len(populated.list_grants(image=IMAGE_B)) == 3
    assert populated.list_grants(user="nobody") == []
    assert populated.list_grants(user="bob", image=IMAGE_A) == []


def test_get_grant_for_user_only_for_grantees(populated: Accounting):
    staff = populated.list_grants(group="staff")[0]
    assert populated.get_grant_for_user(staff.mapping_id, "bob", ["staff"]) == staff
    with pytest.raises(NotFound):
        populated.get_grant_for_user(staff.mapping_id, "bob")
    bobs = populated.list_grants(user="bob")[0]
    with pytest.raises(NotFound):
        populated.get_grant_for_user(bobs.mapping_id, "alice", ["staff", "others"])


def test_grant_to_dict(populated: Accounting):
    grant = populated.list_grants(group="staff")[0].to_dict()
    assert grant["image"] == IMAGE_B and grant["group"] == "staff" and grant["user"] is None
    assert grant["policy"]["volume_source"] == "/data" and grant["policy"]["app_license"] == "KEY-1"


def test_deep_pages_of_many_grants_are_slices_of_the_whole(sql: SQLAccounting, db_url: str):
    """1,750 grants over 40 applications of different sizes: every page, shallow or deep
    (from offset 1000 the backend skips whole applications by their counts), is the
    matching slice of the whole listing, with or without a selector."""
    engine = make_engine(db_url)
    rng = random.Random(3)
    with engine.begin() as connection:
        connection.execute(insert(User), [{"name": f"user{i:02}"} for i in range(60)])
        connection.execute(insert(Application), [{"image": f"simphony/app{i}"} for i in range(40)])
        connection.execute(insert(ApplicationPolicy), [Policy().to_dict()])
        connection.execute(
            insert(AccountingEntry),
            [
                {
                    "mapping_id": f"{rng.getrandbits(128):032x}",
                    "user_id": user + 1,
                    "application_id": app + 1,
                    "policy_id": 1,
                }
                for app in range(40)
                for user in range(min(60, 10 + 2 * app))
            ],
        )
    engine.dispose()
    everything = sql.list_grants()
    assert sql.count_grants() == len(everything) == 1750
    assert everything == sorted(everything, key=lambda g: (g.image, g.mapping_id))
    for offset, limit in [(0, 100), (990, 20), (1000, 100), (1234, 57), (1700, 100), (1750, 5)]:
        assert sql.list_grants(offset=offset, limit=limit) == everything[offset : offset + limit]
    assert sql.list_grants(offset=5000, limit=10) == []
    assert sql.list_grants(offset=1200) == everything[1200:]

    user7 = [g for g in everything if g.user == "user07"]
    assert sql.list_grants(user="user07") == user7 and sql.count_grants(user="user07") == 40
    assert sql.list_grants(user="user07", offset=30, limit=20) == user7[30:]
    app30 = [g for g in everything if g.image == "simphony/app30"]
    assert sql.list_grants(image="simphony/app30", offset=50) == app30[50:]
    assert sql.count_grants(image="simphony/app30") == len(app30) == 60
    assert sql.count_grants_by_user(["user00", "user59", "nobody"]) == {"user00": 40, "user59": 15}

    users, applications = sql.list_users(), sql.list_applications()
    assert users == sorted(users) and len(users) == sql.count_users() == 60
    assert sql.list_users(offset=55, limit=10) == users[55:]
    assert sql.list_applications(offset=10, limit=3) == applications[10:13]
    assert sql.count_applications() == 40


def test_text_the_database_cannot_store_is_a_bad_request(sql: SQLAccounting):
    """NUL (PostgreSQL refuses it) and lone surrogates (JSON can carry ``\\udcff``; no
    driver encodes it): a clear BadRequest on every database, and nothing is stored."""
    populate_sql(sql)
    for name in ("bad\udcffname", "\ud800"):
        with pytest.raises(BadRequest):
            sql.create_user(name)
        with pytest.raises(BadRequest):
            sql.grant(IMAGE_A, PLAIN, group=name)
        with pytest.raises(BadRequest):
            sql.grants_for_user(name, [name])
    for license_key in ("KEY\x00", "KEY\udcff"):
        with pytest.raises(BadRequest, match="app_license"):
            sql.grant(IMAGE_A, Policy(app_license=license_key), user="bob")
    assert sql.list_users() == ["alice", "bob"]
    assert len(sql.list_grants()) == len(SCENARIO)


# --- policies and volumes ---------------------------------------------------------------------


@pytest.mark.parametrize("volume", ["/a:/b", "/a:/b:xx", "rel:/b:ro", "/a::ro", "/a:/b:ro:rw", ""])
def test_invalid_volume_strings_are_bad_requests(volume: str):
    with pytest.raises(BadRequest):
        parse_volume(volume)
    if volume:  # Policy.with_volume treats "" as "no volume"
        with pytest.raises(BadRequest):
            Policy.with_volume(volume, allow_home=True)


def test_valid_volume_string():
    assert parse_volume("/a:/b:rw") == ("/a", "/b", "rw")
    assert Policy.with_volume("/a:/b:rw").volume == "/a:/b:rw"
    assert Policy.with_volume(None) == Policy()


# --- SQL: writes -----------------------------------------------------------------------------


def test_create_user_and_application_validate_and_refuse_duplicates(sql: SQLAccounting):
    sql.create_user("alice")
    with pytest.raises(Exists, match="alice"):
        sql.create_user("alice")
    for bad in ("", "  ", "a\nb", "x" * 256):
        with pytest.raises(BadRequest):
            sql.create_user(bad)
    sql.create_application(IMAGE_A)
    with pytest.raises(Exists):
        sql.create_application(IMAGE_A)
    for bad in ("", "Upper", "a b", "image:"):
        with pytest.raises(BadRequest):
            sql.create_application(bad)
    assert sql.list_users() == ["alice"] and sql.list_applications() == [IMAGE_A]


def test_grant_unknown_user_or_application_is_not_found_with_hint(sql: SQLAccounting):
    sql.create_application(IMAGE_A)
    with pytest.raises(NotFound, match=r"`jupyter remoteapp user create bob`"):
        sql.grant(IMAGE_A, HOME, user="bob")
    sql.create_user("bob")
    with pytest.raises(NotFound, match=r"application 'simphony/other' does not exist; create it"):
        sql.grant("simphony/other", HOME, user="bob")
    with pytest.raises(NotFound, match="does not exist"):
        sql.grant("simphony/other", HOME, group="staff")
    assert sql.list_grants() == []


def test_grant_needs_exactly_one_grantee_and_a_policy(sql: SQLAccounting):
    populate_sql(sql)
    with pytest.raises(BadRequest):
        sql.grant(IMAGE_A, PLAIN)
    with pytest.raises(BadRequest):
        sql.grant(IMAGE_A, PLAIN, user="alice", group="staff")
    with pytest.raises(BadRequest):
        sql.grant(IMAGE_A, {"allow_home": True}, user="bob")  # type: ignore[arg-type]
    with pytest.raises(BadRequest):
        sql.grant(IMAGE_A, Policy(app_license="x" * 2000), user="bob")


def test_duplicate_grant_is_exists(sql: SQLAccounting):
    populate_sql(sql)
    with pytest.raises(Exists, match="already"):
        sql.grant(IMAGE_A, Policy(allow_home=True), user="alice")
    with pytest.raises(Exists):
        sql.grant(IMAGE_B, SHARED_DATA, group="staff")
    assert len(sql.list_grants()) == len(SCENARIO)


def test_grant_returns_what_is_stored(sql: SQLAccounting):
    populate_sql(sql)
    grant = sql.grant(IMAGE_B, SHARED_DATA, user="bob")
    assert grant in sql.grants_for_user("bob")
    assert grant.user == "bob" and grant.group is None and grant.policy == SHARED_DATA


def test_equal_policies_are_stored_once(sql: SQLAccounting, db_url: str):
    populate_sql(sql)
    sql.grant(IMAGE_B, SHARED_DATA, user="alice")
    assert scalar(db_url, select(func.count()).select_from(ApplicationPolicy)) == 3


def test_remove_user_and_application_cascade_to_grants(sql: SQLAccounting):
    populate_sql(sql)
    sql.remove_user("alice")
    assert sql.list_users() == ["bob"]
    assert all(g.user != "alice" for g in sql.list_grants())
    sql.remove_application(IMAGE_B)
    assert keys(sql.list_grants()) == [(None, "others", IMAGE_A, PLAIN)]
    with pytest.raises(NotFound):
        sql.remove_user("alice")
    with pytest.raises(NotFound):
        sql.remove_application(IMAGE_B)
    sql.create_user("alice")  # a new alice starts without the old one's grants
    assert sql.grants_for_user("alice") == []


def test_revoke(sql: SQLAccounting):
    populate_sql(sql)
    sql.revoke(IMAGE_A, HOME, user="alice")
    assert keys(sql.list_grants(user="alice", image=IMAGE_A)) == [
        ("alice", None, IMAGE_A, SHARED_DATA)
    ]
    with pytest.raises(NotFound):
        sql.revoke(IMAGE_A, HOME, user="alice")
    with pytest.raises(NotFound):
        sql.revoke(IMAGE_B, HOME, group="staff")  # staff has IMAGE_B, but under SHARED_DATA
    sql.revoke(IMAGE_B, SHARED_DATA, group="staff")
    assert sql.list_grants(group="staff") == []


def test_revoke_mapping(sql: SQLAccounting):
    populate_sql(sql)
    grant = sql.list_grants(user="bob")[0]
    sql.revoke_mapping(grant.mapping_id)
    assert sql.list_grants(user="bob") == []
    with pytest.raises(NotFound, match=grant.mapping_id):
        sql.revoke_mapping(grant.mapping_id)


def test_revoke_all(sql: SQLAccounting):
    populate_sql(sql)
    assert sql.revoke_all(user="nobody") == 0
    assert sql.revoke_all(user="alice", image=IMAGE_A) == 2
    assert sql.revoke_all(group="staff") == 1
    assert sql.revoke_all(image=IMAGE_B) == 2
    assert keys(sql.list_grants()) == [(None, "others", IMAGE_A, PLAIN)]
    assert sql.revoke_all() == 1
    assert sql.list_grants() == []
    assert sql.list_users() == ["alice", "bob"]  # users and applications stay


def test_grant_through_one_instance_is_visible_through_another_at_once(db_url: str):
    first = open_sql(db_url)
    second = SQLAccounting(f"sqlite:///{db_url}" if is_sqlite(db_url) else db_url)
    try:
        first.create_user("alice")
        first.create_application(IMAGE_A)
        assert second.grants_for_user("alice") == []
        grant = first.grant(IMAGE_A, HOME, user="alice")
        assert second.grants_for_user("alice") == [grant]
        second.revoke_mapping(grant.mapping_id)
        assert first.grants_for_user("alice") == []
    finally:
        first.close()
        second.close()


def test_plain_path_creates_a_private_directory(tmp_path: Path):
    path = tmp_path / "deep" / "er" / "accounting.db"
    SQLAccounting(str(path)).close()
    assert path.is_file()
    assert (path.parent.stat().st_mode & 0o777) == 0o700
    assert migrate.current_revision(str(path)) == migrate.head_revision()


def test_in_memory_database():
    accounting = SQLAccounting("sqlite://")
    populate_sql(accounting)
    assert len(accounting.grants_for_user("bob", ["staff"])) == 2
    accounting.close()


def test_open_accounting_picks_the_backend(tmp_path: Path):
    csv_path = write_csv(tmp_path / "grants.csv", [csv_row(*SCENARIO[0])])
    assert isinstance(open_accounting(str(csv_path)), CSVAccounting)
    sql = open_accounting(str(tmp_path / "grants.db"))
    assert isinstance(sql, SQLAccounting) and not sql.read_only
    sql.close()


# --- CSV ---------------------------------------------------------------------------------------


def test_csv_writes_raise_read_only(tmp_path: Path):
    path = write_csv(tmp_path / "a.csv", [csv_row(*SCENARIO[0])])
    accounting = CSVAccounting(path)
    assert accounting.read_only
    writes = [
        lambda: accounting.create_user("x"),
        lambda: accounting.remove_user("alice"),
        lambda: accounting.create_application(IMAGE_B),
        lambda: accounting.remove_application(IMAGE_A),
        lambda: accounting.grant(IMAGE_A, PLAIN, user="alice"),
        lambda: accounting.revoke(IMAGE_A, HOME, user="alice"),
        lambda: accounting.revoke_mapping("0" * 32),
        lambda: accounting.revoke_all(),
    ]
    for write in writes:
        with pytest.raises(ReadOnly, match=rf"read-only accounting backend: {path} is a CSV file"):
            write()
    assert len(accounting.list_grants()) == 1


def test_csv_mapping_ids_are_stable_across_reloads_and_restarts(tmp_path: Path):
    rows = [csv_row(*entry) for entry in SCENARIO]
    path = write_csv(tmp_path / "a.csv", rows)
    before = {keys([g])[0]: g.mapping_id for g in CSVAccounting(path).list_grants()}
    # Rewritten in another order and with other spacing: the same rows give the same ids.
    write_csv(path, [row.replace(", ", ",") for row in reversed(rows)])
    reloaded = CSVAccounting(path)
    assert {keys([g])[0]: g.mapping_id for g in reloaded.list_grants()} == before
    assert len(set(before.values())) == len(SCENARIO)


def test_csv_edits_are_visible_without_restart(tmp_path: Path):
    path = write_csv(tmp_path / "a.csv", [csv_row(*SCENARIO[0])])
    accounting = CSVAccounting(path)
    assert len(accounting.grants_for_user("alice")) == 1
    write_csv(path, [csv_row(*SCENARIO[0]), csv_row("alice", None, IMAGE_B, PLAIN)])
    assert len(accounting.grants_for_user("alice")) == 2
    write_csv(path, [csv_row("bob", None, IMAGE_B, PLAIN)])
    assert accounting.grants_for_user("alice") == []
    assert accounting.list_users() == ["bob"]


def test_csv_duplicate_rows_collapse(tmp_path: Path):
    row = csv_row(*SCENARIO[0])
    path = write_csv(tmp_path / "a.csv", [row, row, row.replace(", ", " ,  ")])
    assert len(CSVAccounting(path).list_grants()) == 1


def test_csv_simphony_remote_format(tmp_path: Path):
    """The header of SimPhoNy-remote files, columns reordered, 1/0 and yes/no, short rows."""
    header = (
        " policy.allow_view , application.image,user.name, policy.allow_home, "
        "policy.allow_common,policy.volume_source,policy.volume_target,policy.volume_mode, comment"
    )
    rows = [
        "1, simphony/app-a:1.0, alice, 0, 0, /data, /mnt/data, rw, first row",
        " YES , simphony/app-a:1.0 , bob , True, FALSE,,,",
        "no, simphony/app-b, carol",
    ]
    accounting = CSVAccounting(write_csv(tmp_path / "a.csv", rows, header))
    alice, bob, carol = (accounting.grants_for_user(name)[0] for name in ("alice", "bob", "carol"))
    assert alice.policy == Policy.with_volume("/data:/mnt/data:rw", allow_view=True)
    assert bob.policy == Policy(allow_view=True, allow_home=True) and bob.image == IMAGE_A
    assert carol.policy == Policy() and carol.image == "simphony/app-b"
    assert accounting.list_applications() == [IMAGE_A, "simphony/app-b"]


def test_csv_older_image_name_column(tmp_path: Path):
    path = write_csv(tmp_path / "a.csv", ["alice,simphony/app-a:1.0"], "user.name,image.name")
    assert CSVAccounting(path).list_applications() == [IMAGE_A]


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (["alice, simphony/app, maybe"], r"line 3: policy.allow_home must be"),
        (["alice, simphony/app, 1, /a"], r"line 3: a policy volume needs"),
        (["alice, Not An Image"], r"line 3: invalid docker image name"),
        (["alice, simphony/app, 1, /a, /b, ro, 1"], r"line 3: 7 values but only 6 columns"),
        ([", simphony/app"], r"line 3: each row names exactly one"),
    ],
)
def test_csv_bad_row_names_its_line(tmp_path: Path, rows: list[str], message: str):
    header = (
        "user.name,application.image,policy.allow_home,"
        "policy.volume_source,policy.volume_target,policy.volume_mode"
    )
    path = write_csv(tmp_path / "a.csv", ["bob, simphony/app", *rows], header)
    with pytest.raises(BadRequest, match=message):
        CSVAccounting(path)


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("user.name,application.image,policy.alow_home", "unknown column 'policy.alow_home'"),
        ("user.name,policy.allow_home", "no 'application.image' column"),
        ("application.image,policy.allow_home", "neither a 'user.name' nor a 'group.name'"),
        ("user.name,application.image,user.name", "appears twice"),
    ],
)
def test_csv_bad_header(tmp_path: Path, header: str, message: str):
    with pytest.raises(BadRequest, match=message):
        CSVAccounting(write_csv(tmp_path / "a.csv", [], header))


def test_csv_broken_edit_fails_loudly_and_missing_file_is_unavailable(tmp_path: Path):
    path = write_csv(tmp_path / "a.csv", [csv_row(*SCENARIO[0])])
    accounting = CSVAccounting(path)
    write_csv(path, [csv_row(*SCENARIO[0]), "alice,,,,"])
    with pytest.raises(BadRequest, match="line 3"):
        accounting.grants_for_user("alice")  # never the old content: a revoke must take effect
    path.unlink()
    with pytest.raises(Unavailable, match="cannot read"):
        accounting.list_grants()
    with pytest.raises(Unavailable):
        CSVAccounting(tmp_path / "missing.csv")


# --- migrations ----------------------------------------------------------------------------------


def test_init_creates_the_schema_at_head(db_url: str):
    url = f"sqlite:///{db_url}" if is_sqlite(db_url) else db_url
    assert migrate.current_revision(url) is None
    assert migrate.init(url) == migrate.head_revision()
    assert migrate.current_revision(url) == migrate.head_revision()
    assert table_names(url) == {"alembic_version", *Base.metadata.tables}


def test_upgrade_is_idempotent_and_downgrade_round_trips(db_url: str):
    url = db_url
    head = migrate.head_revision()
    assert migrate.upgrade(url) == head
    assert migrate.upgrade(url) == head
    assert migrate.downgrade(url, "base") is None
    assert table_names(url) == {"alembic_version"}
    assert migrate.upgrade(url) == head
    accounting = SQLAccounting(url)
    populate_sql(accounting)
    accounting.close()


def test_current_revision_does_not_create_a_missing_file(tmp_path: Path):
    path = tmp_path / "missing" / "accounting.db"
    assert migrate.current_revision(str(path)) is None
    assert not path.parent.exists()


def test_migrating_to_an_unknown_revision_is_a_bad_request(db_url: str):
    url = db_url
    migrate.upgrade(url)
    with pytest.raises(BadRequest, match="nonsense"):
        migrate.downgrade(url, "nonsense")
    assert migrate.current_revision(url) == migrate.head_revision()


def test_migrated_schema_matches_the_orm(db_url: str):
    url = db_url
    migrate.upgrade(url)
    engine = make_engine(url)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []
    engine.dispose()


def test_database_not_at_head_is_unavailable_without_auto_upgrade(db_url: str):
    if is_sqlite(db_url):
        Path(db_url).parent.mkdir()
        sqlite3.connect(db_url).close()
        url = f"sqlite:///{db_url}"
    else:
        url = db_url  # not SQLite: no automatic upgrade by default
    with pytest.raises(Unavailable, match=r"is empty.*`jupyter remoteapp db upgrade`"):
        SQLAccounting(url, auto_upgrade=False)
    with pytest.raises(Unavailable, match=r"is empty"):
        open_accounting(url, auto_upgrade=False)
    assert table_names(url) == set()  # refusing changed nothing
    migrate.upgrade(url)
    SQLAccounting(url, auto_upgrade=False).close()
    if not is_sqlite(db_url):
        SQLAccounting(url).close()


def test_database_from_a_newer_remoteapp_is_unavailable(db_url: str):
    migrate.upgrade(db_url)
    scalar(db_url, text("UPDATE alembic_version SET version_num = 'fffffffffff0'"))
    with pytest.raises(Unavailable, match="does not know: upgrade remoteapp"):
        SQLAccounting(db_url)


# --- concurrency and failures ---------------------------------------------------------------------


def _grant_worker(url: str, worker: int, count: int, start) -> None:
    """Runs in a spawned process: opens the (fresh) database and grants ``count`` applications."""
    start.wait()
    accounting = SQLAccounting(url)
    user = f"worker{worker}"
    accounting.create_user(user)
    for index in range(count):
        image = f"simphony/app{index}"
        with contextlib.suppress(Exists):  # another worker created it first
            accounting.create_application(image)
        accounting.grant(image, Policy(allow_home=index % 2 == 0), user=user)
    accounting.close()


def test_processes_share_one_database(db_url: str):
    """Four processes create the same applications and policies at once: each is stored
    once (the losers of a race see Exists or the winner's row), no grant is lost.
    A fresh SQLite file is also created and migrated by whichever process comes first."""
    if not is_sqlite(db_url):
        migrate.upgrade(db_url)
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(4)
    workers = [
        context.Process(target=_grant_worker, args=(db_url, worker, 50, start))
        for worker in range(4)
    ]
    for process in workers:
        process.start()
    for process in workers:
        process.join(timeout=120)
    assert [process.exitcode for process in workers] == [0, 0, 0, 0]
    accounting = SQLAccounting(db_url)
    assert len(accounting.list_grants()) == 200
    assert len(accounting.list_applications()) == 50
    assert all(len(accounting.grants_for_user(f"worker{w}")) == 50 for w in range(4))
    accounting.close()
    assert scalar(db_url, select(func.count()).select_from(ApplicationPolicy)) == 2


@pytest.mark.parametrize("how", ["chmod", "read-only-uri"])
def test_unwritable_database_refuses_writes_but_reads(tmp_path: Path, how: str):
    directory = tmp_path / "db"
    path = directory / "accounting.db"
    writer = SQLAccounting(str(path))
    populate_sql(writer)
    writer.close()
    if how == "chmod":
        if os.geteuid() == 0:
            pytest.skip("running as root: file permissions do not stop root from writing")
        path.chmod(0o444)
        url = str(path)
    else:
        url = f"sqlite:///file:{path}?mode=ro&uri=true"
    try:
        reader = SQLAccounting(url)
        assert len(reader.grants_for_user("bob", ["staff"])) == 2
        assert reader.list_users() == ["alice", "bob"]
        with pytest.raises(Unavailable, match="readonly database"):
            reader.create_user("carol")
        with pytest.raises(Unavailable, match="readonly database"):
            reader.grant(IMAGE_A, PLAIN, user="bob")
        assert len(reader.list_grants()) == len(SCENARIO)  # nothing half-written
        reader.close()
        if how == "chmod":
            # WAL mode: SQLite must create accounting.db-shm even to read. With the directory
            # read-only too, it cannot; the error says so.
            for leftover in directory.glob("accounting.db-*"):
                leftover.unlink()
            directory.chmod(0o555)
            with pytest.raises(Unavailable, match="make that directory writable"):
                SQLAccounting(url)
    finally:
        directory.chmod(0o755)
        path.chmod(0o644)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://admin:secret@localhost/accounting", r"needs a database driver that is not inst"),
        ("nosuchdb://admin:secret@host/accounting", "names no known database"),
        ("postgresql+nodriver://admin:secret@host/db", "names no known database"),
        ("postgresql://admin:secret@host:port/db", "is not a database URL"),
    ],
)
def test_unusable_database_url_is_unavailable_without_its_password(url: str, message: str):
    """Unavailable (a server still starts and answers 503 with the reason), not an
    ImportError that keeps the extension from loading; the password is not repeated."""
    for run in (lambda: open_accounting(url), lambda: migrate.upgrade(url)):
        with pytest.raises(Unavailable, match=message) as caught:
            run()
        assert "secret" not in caught.value.message


def test_plain_postgresql_url_uses_the_installed_driver(postgres_url: str):
    """``postgresql://`` as an operator writes it works with the driver of the
    ``postgresql`` extra (psycopg 3), whatever SQLAlchemy's own default driver is."""
    url = postgres_url.replace("postgresql+psycopg://", "postgresql://")
    assert url.startswith("postgresql://")
    assert migrate.upgrade(url) == migrate.head_revision()
    accounting = open_accounting(url)
    populate_sql(accounting)
    assert accounting.list_users() == ["alice", "bob"]
    accounting.close()


def test_unopenable_database_is_unavailable(tmp_path: Path):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    with pytest.raises(Unavailable, match="cannot create the directory"):
        SQLAccounting(f"sqlite:///{blocker}/accounting.db")
    not_a_database = tmp_path / "garbage.db"
    not_a_database.write_bytes(b"this is not an SQLite file" * 100)
    with pytest.raises(Unavailable, match="not a database"):
        SQLAccounting(str(not_a_database))


# --- speed -----------------------------------------------------------------------------------


def test_grants_for_user_stays_fast_with_many_grants(sql: SQLAccounting, db_url: str):
    """10,000 users, 100,000 grants: one indexed query per call.

    SQLite: about 0.5 ms per call on a build machine; a full scan of the grants takes about
    5 ms. PostgreSQL does the work in its own process, so there the plan is checked: the
    grants are found through indexes, never by scanning the grant table.
    """
    users, applications, policies, groups = 10_000, 200, 5, 100
    engine = make_engine(db_url)
    with engine.begin() as connection:
        connection.execute(insert(User), [{"name": f"user{i}"} for i in range(users)])
        connection.execute(insert(HubGroup), [{"name": f"group{i}"} for i in range(groups)])
        connection.execute(
            insert(Application), [{"image": f"simphony/app{i}"} for i in range(applications)]
        )
        connection.execute(
            insert(ApplicationPolicy),
            [{**Policy(allow_home=True, app_license=str(i)).to_dict()} for i in range(policies)],
        )
        rng = random.Random(42)
        grants = [
            {
                "mapping_id": f"{user:016x}{n:016x}",
                "user_id": user + 1,
                "application_id": rng.randrange(applications) + 1,
                "policy_id": n % policies + 1,
            }
            for user in range(users)
            for n in range(10)
        ]
        grants = list(
            {(g["user_id"], g["application_id"], g["policy_id"]): g for g in grants}.values()
        )
        connection.execute(insert(AccountingEntry), grants)
        connection.execute(
            insert(AccountingEntry),
            [
                {
                    "mapping_id": f"g{group:015x}{app:016x}",
                    "group_id": group + 1,
                    "application_id": app + 1,
                    "policy_id": 1,
                }
                for group in range(groups)
                for app in range(5)
            ],
        )
    engine.dispose()
    assert len(grants) > 95_000

    # CPU time, not wall time: a busy CI machine must not fail this, a table scan must.
    cpu_times, wall_times = [], []
    rng = random.Random(7)
    for _ in range(300):
        user, member_of = f"user{rng.randrange(users)}", [f"group{rng.randrange(groups)}"] * 2
        cpu_began, wall_began = time.process_time(), time.perf_counter()
        result = sql.grants_for_user(user, member_of)
        cpu_times.append(time.process_time() - cpu_began)
        wall_times.append(time.perf_counter() - wall_began)
        assert 5 <= len(result) <= 15
    cpu_p95, wall_p95 = (statistics.quantiles(times, n=20)[-1] for times in (cpu_times, wall_times))
    if is_sqlite(db_url):
        assert cpu_p95 < 0.003, (
            f"grants_for_user p95: {cpu_p95 * 1e3:.1f} ms CPU, {wall_p95 * 1e3:.1f} ms"
        )
    else:
        scans = scanned_tables(sql, db_url, lambda: sql.grants_for_user("user5", ["group1"]))
        assert "accounting" not in scans, f"grants_for_user scans the grants: {scans}"


def scanned_tables(accounting: SQLAccounting, url: str, call) -> set[str]:
    """The tables PostgreSQL reads sequentially for the statements ``call()`` issues,
    planned with fresh statistics (as autovacuum keeps them on a running server)."""
    statements = []

    def capture(connection, cursor, statement, parameters, context, executemany):
        statements.append((statement, parameters))

    event.listen(accounting._engine, "before_cursor_execute", capture)
    try:
        call()
    finally:
        event.remove(accounting._engine, "before_cursor_execute", capture)
    engine = make_engine(url)
    scans: set[str] = set()

    def walk(node: dict) -> None:
        if node["Node Type"] == "Seq Scan":
            scans.add(node["Relation Name"])
        for child in node.get("Plans", ()):
            walk(child)

    try:
        with engine.begin() as connection:
            connection.exec_driver_sql("ANALYZE")
            for statement, parameters in statements:
                if statement.lstrip().upper().startswith("SELECT"):
                    explain = "EXPLAIN (FORMAT JSON) " + statement
                    (plan,) = connection.exec_driver_sql(explain, parameters).scalar()
                    walk(plan["Plan"])
    finally:
        engine.dispose()
    return scans
