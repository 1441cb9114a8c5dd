"""``jupyter remoteapp`` as an operator runs it: a real process, a real database, real docker."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest
from conftest import VNCAPP, WEBAPP


@pytest.fixture
def cli(tmp_path):
    """Run ``jupyter remoteapp ...`` on a fresh SQLite file; returns (code, stdout, stderr)."""
    db = tmp_path / "accounting.sqlite"
    env = dict(
        os.environ,
        JUPYTER_CONFIG_DIR=str(tmp_path / "config"),
        JUPYTER_DATA_DIR=str(tmp_path / "data"),
        JUPYTER_PLATFORM_DIRS="0",
    )

    def run(*args: str, db_url: str | None = str(db)) -> tuple[int, str, str]:
        argv = [sys.executable, "-m", "remoteapp_server.cli", *args]
        if db_url is not None:
            argv += ["--db", db_url]
        done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=60)
        return done.returncode, done.stdout, done.stderr

    run.db = db
    run.env = env
    return run


def one_error_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("jupyter remoteapp: error: ")
    return lines[0]


def test_jupyter_remoteapp_help_lists_the_subcommands():
    jupyter = shutil.which("jupyter", path=os.path.dirname(sys.executable))
    assert jupyter, "the jupyter command is installed next to this Python"
    done = subprocess.run([jupyter, "remoteapp", "--help"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    for command in ("db", "user", "app", "grant", "revoke", "images"):
        assert f"\n{command}\n" in done.stdout
    done = subprocess.run([jupyter, "remoteapp"], capture_output=True, text=True)
    assert done.returncode == 2 and "choose a subcommand" in done.stderr


def test_db_init_and_upgrade(cli):
    code, out, _ = cli("db", "upgrade")
    assert code == 0 and "upgraded from empty to" in out
    code, out, _ = cli("db", "init")
    assert code == 0 and "already initialized" in out
    code, out, _ = cli("db", "init", db_url=str(cli.db.parent / "other.sqlite"))
    assert code == 0 and "initialized at revision" in out


def test_users_applications_and_grants(cli, docker_client):
    assert cli("user", "create", "alice")[0] == 0
    assert cli("user", "create", "bob@example.org")[0] == 0
    code, _, err = cli("user", "create", "alice")
    assert code == 1 and "already" in one_error_line(err)
    code, out, _ = cli("app", "create", VNCAPP, "--verify")
    assert code == 0, out
    assert cli("app", "create", WEBAPP)[0] == 0

    code, out, err = cli(
        "grant",
        VNCAPP,
        "alice",
        "--allow-home",
        "--volume",
        "/srv/data:/data:ro",
        "--app-license",
        "KEY-1",
    )
    assert code == 0, err
    mapping_id = out.strip().split()[-1]
    assert len(mapping_id) == 32
    # the same application under another policy is another entry
    code, out, _ = cli("grant", VNCAPP, "alice")
    assert code == 0 and out.strip().split()[-1] != mapping_id
    assert cli("grant", WEBAPP, "--group", "physics")[0] == 0
    code, _, err = cli("grant", VNCAPP, "alice")
    assert code == 1 and "already" in one_error_line(err)

    code, out, _ = cli("user", "list", "--show-apps")
    assert code == 0
    assert out.splitlines()[0] == "alice"
    assert f"{mapping_id}  {VNCAPP}  allow_home, volume=/srv/data:/data:ro, license" in out
    assert "bob@example.org" in out

    assert cli("revoke", "--mapping-id", mapping_id)[0] == 0
    code, _, err = cli("revoke", "--mapping-id", mapping_id)
    assert code == 1 and mapping_id in one_error_line(err)
    assert cli("revoke", VNCAPP, "alice")[0] == 0
    code, out, _ = cli("revoke", "--all", "--group", "physics")
    assert code == 0 and "revoked 1 grant(s)" in out
    assert cli("user", "list", "--show-apps")[1].split() == ["alice", "bob@example.org"]

    # removing an application takes its grants along
    assert cli("grant", WEBAPP, "bob@example.org")[0] == 0
    assert cli("app", "remove", WEBAPP)[0] == 0
    assert cli("app", "list")[1].split() == [VNCAPP]
    assert "    " not in cli("user", "list", "--show-apps")[1]


@pytest.mark.parametrize(
    "args, message",
    [
        (("grant", VNCAPP, "nobody"), "user 'nobody' does not exist"),
        (("grant", "not/registered:1", "alice"), "does not exist"),
        (("grant", VNCAPP, "alice", "--volume", "/a:/b"), "invalid volume '/a:/b'"),
        (("grant", VNCAPP, "alice", "--volume", "rel:/b:ro"), "absolute"),
        (("grant", VNCAPP, "alice", "--volume", "/a:/b:rx"), "'ro' or 'rw'"),
        (("app", "create", "remoteapp-test/absent:1", "--verify"), "is not available"),
        (("app", "create", "Not An Image"), "invalid docker image name"),
        (("revoke", "--mapping-id", "0" * 32), "0" * 32),
    ],
)
def test_errors_are_one_line_and_change_nothing(cli, docker_client, args, message):
    assert cli("user", "create", "alice")[0] == 0
    assert cli("app", "create", VNCAPP)[0] == 0
    code, out, err = cli(*args)
    assert code == 1, out
    assert message in one_error_line(err)
    assert cli("app", "list")[1].split() == [VNCAPP]
    assert cli("user", "list", "--show-apps")[1].split() == ["alice"]


def test_usage_errors_exit_2(cli):
    code, _, err = cli("grant", VNCAPP)
    assert code == 2 and "usage: jupyter remoteapp grant IMAGE" in err
    code, _, err = cli("grant", VNCAPP, "alice", "--group", "g")
    assert code == 2 and "not both" in err
    code, _, err = cli("user", "create")
    assert code == 2 and "expected NAME" in err


def test_grant_and_revoke_have_an_option_for_every_policy_field():
    """The CLI's policy options are the REST API's policy fields (parsed by the same
    ``Policy.from_dict``): a new field cannot be forgotten here."""
    from remoteapp_server.cli.accounting import PolicyCommand
    from remoteapp_server.core.accounting.policy import POLICY_FIELDS, POLICY_FLAGS

    options = set(PolicyCommand.class_traits(config=True))
    wanted = {f for f in POLICY_FIELDS if not f.startswith("volume_")} | {"volume"}
    assert wanted <= options, wanted - options
    for command in ("Grant", "Revoke"):
        _, flags = PolicyCommand.policy_options(command)
        assert {flag.replace("-", "_") for flag in flags} >= set(POLICY_FLAGS)


def test_app_create_verify_refuses_images_without_labels(cli, derived_image):
    unlabelled = derived_image("LABEL org.example.other=1", base="scratch")
    code, _, err = cli("app", "create", unlabelled, "--verify")
    assert code == 1 and "carries no remoteapp labels" in one_error_line(err)
    assert cli("app", "list")[1] == ""
    # without --verify the operator is trusted (the image may be pulled later)
    assert cli("app", "create", unlabelled)[0] == 0


def test_images_lists_the_labelled_docker_images(cli, docker_client):
    code, out, _ = cli("images", db_url=None)
    assert code == 0
    rows = {line.split("\t")[0]: line.split("\t")[1:] for line in out.splitlines()}
    assert rows[VNCAPP] == ["vncapp", "Demo Desktop"]
    assert rows[WEBAPP] == ["webapp", "Demo Web App"]


def test_a_csv_accounting_is_read_only(cli, tmp_path):
    csv = tmp_path / "grants.csv"
    csv.write_text(
        "user.name,application.image,policy.app_license,policy.allow_home,policy.allow_view,"
        "policy.allow_common,policy.volume_source,policy.volume_target,policy.volume_mode,"
        "policy.allow_startup_data\n"
        f"alice,{VNCAPP},,true,false,false,,,,false\n"
    )
    code, out, _ = cli("user", "list", "--show-apps", db_url=str(csv))
    assert code == 0 and out.startswith("alice\n") and VNCAPP in out
    first_id = out.split()[1]
    assert cli("user", "list", "--show-apps", db_url=str(csv))[1].split()[1] == first_id
    code, _, err = cli("grant", WEBAPP, "alice", db_url=str(csv))
    assert code == 1 and "read-only accounting backend" in one_error_line(err)
