"""The container manager against the real docker engine and the demo images."""

from __future__ import annotations

import asyncio
import urllib.request

import pytest
from conftest import REALM, VNCAPP, WEBAPP, make_grant, rfb_server_init

from remoteapp_server.core.accounting import Policy
from remoteapp_server.core.containers import (
    AsyncDocker,
    ContainerManager,
    ContainerOptions,
    StartFailed,
    escape_name,
)
from remoteapp_server.core.errors import (
    BadRequest,
    Exists,
    NotFound,
    OperationInProgress,
    Unavailable,
)


def fetch(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, response.read().decode("utf-8", "replace")


@pytest.mark.asyncio
async def test_webapp_answers_at_its_urlpath(manager, docker_client):
    events = []
    container = await manager.start(
        user="al@ice",
        grant=make_grant(user="al@ice"),
        base_url="/user/al@ice/",
        progress=events.append,
    )
    assert container.status == "running"
    assert container.urlpath == f"/user/al@ice/remoteapp/containers/{container.url_id}/"
    assert container.host == "127.0.0.1"
    status, body = await asyncio.to_thread(fetch, container.target + container.urlpath)
    assert status == 200
    assert "remoteapp demo web app" in body
    assert [e["stage"] for e in events] == ["image", "creating", "starting", "waiting", "ready"]

    env = dict(
        item.split("=", 1)
        for item in docker_client.containers.get(container.docker_id).attrs["Config"]["Env"]
    )
    assert env["JPY_USER"] == "al@ice"
    assert env["USER"] == "al@ice"
    assert env["URL_ID"] == container.url_id
    assert env["JPY_BASE_USER_URL"] == "/user/al@ice/remoteapp"
    assert "APP_LICENSE" not in env


@pytest.mark.asyncio
async def test_vnc_app_speaks_rfb_through_its_websocket(manager):
    container = await manager.start(
        user="bob",
        grant=make_grant(VNCAPP, user="bob"),
        base_url="/user/bob/",
        configurables={"resolution": "800x600"},
    )
    status, _ = await asyncio.to_thread(fetch, container.target + container.urlpath)
    assert status == 200
    ws_url = container.target.replace("http", "ws") + container.urlpath + "websockify"
    version, width, height = await rfb_server_init(ws_url)
    assert version == b"RFB 003.008\n"
    # the resolution configurable became the X display size
    assert (width, height) == (800, 600)


@pytest.mark.asyncio
async def test_default_resolution_applies_without_a_choice(manager):
    container = await manager.start(
        user="bob", grant=make_grant(VNCAPP, user="bob"), base_url="/user/bob/"
    )
    ws_url = container.target.replace("http", "ws") + container.urlpath + "websockify"
    _, width, height = await rfb_server_init(ws_url)
    assert (width, height) == (1280, 800)


@pytest.mark.asyncio
async def test_parallel_starts_of_one_mapping_give_one_container(manager):
    grant = make_grant()
    results = await asyncio.gather(
        *(manager.start(user="alice", grant=grant, base_url="/") for _ in range(20)),
        return_exceptions=True,
    )
    started = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, OperationInProgress)]
    assert len(started) == 1, results
    assert len(refused) == 19, results
    assert len(await manager.list(user="alice", mapping_id=grant.mapping_id)) == 1
    # once it runs, another start is refused as existing, naming where it runs
    with pytest.raises(Exists, match=started[0].url_id):
        await manager.start(user="alice", grant=grant, base_url="/")


@pytest.mark.asyncio
async def test_parallel_stops_of_one_container(manager):
    container = await manager.start(user="alice", grant=make_grant(), base_url="/")
    results = await asyncio.gather(
        *(manager.stop(container.url_id) for _ in range(5)), return_exceptions=True
    )
    assert results.count(True) == 1
    assert sum(isinstance(r, OperationInProgress) for r in results) == 4
    assert await manager.list(url_id=container.url_id) == []
    # stopping again is a no-op, not an error
    assert await manager.stop(container.url_id) is False
    with pytest.raises(NotFound):
        await manager.stop(container.url_id, missing_ok=False)


@pytest.mark.asyncio
async def test_a_new_manager_recovers_running_containers(manager, options):
    grant_a, grant_b = make_grant(), make_grant(VNCAPP, user="bob")
    first = await manager.start(user="alice", grant=grant_a, base_url="/user/alice/")
    second = await manager.start(user="bob", grant=grant_b, base_url="/user/bob/")

    restarted = ContainerManager(AsyncDocker(), ContainerOptions(realm=REALM))
    try:
        recovered = {c.url_id: c for c in await restarted.list()}
        assert set(recovered) == {first.url_id, second.url_id}
        again = recovered[first.url_id]
        assert (again.user, again.mapping_id, again.urlpath, again.target) == (
            "alice",
            grant_a.mapping_id,
            first.urlpath,
            first.target,
        )
        assert again.ui_name == "Demo Web App" and again.type == "webapp"
        assert [c.url_id for c in await restarted.list(user="bob")] == [second.url_id]
        assert (await restarted.get(second.url_id, user="bob")).type == "vncapp"
        with pytest.raises(NotFound):
            await restarted.get(second.url_id, user="alice")  # not hers
        assert await restarted.stop(first.url_id, user="alice") is True
        assert [c.url_id for c in await manager.list()] == [second.url_id]
    finally:
        restarted.docker.close()


@pytest.mark.asyncio
async def test_limits_volumes_and_hardening_are_applied(manager, docker_client, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "hello.txt").write_text("from the host")
    home = tmp_path / "homes" / "alice"
    home.mkdir(parents=True)
    manager.options.mem_limit = "256m"
    manager.options.cpu_limit = 0.5
    manager.options.home_source = str(tmp_path / "homes" / "{user}")
    policy = Policy.with_volume(
        f"{data}:/mnt/data:ro", allow_home=True, app_license="LICENSE-KEY-42"
    )
    container = await manager.start(user="alice", grant=make_grant(policy=policy), base_url="/")
    attrs = docker_client.containers.get(container.docker_id).attrs
    host = attrs["HostConfig"]
    assert host["Memory"] == 256 * 1024 * 1024
    assert host["NanoCpus"] == 500_000_000
    assert host["SecurityOpt"] == ["no-new-privileges"]
    assert host["Init"] is True
    assert not host["Privileged"]
    bindings = [b for ports in host["PortBindings"].values() for b in ports]
    assert bindings and all(b["HostIp"] == "127.0.0.1" for b in bindings)
    mounts = {m["Destination"]: m for m in attrs["Mounts"]}
    assert mounts["/mnt/data"]["Source"] == str(data) and mounts["/mnt/data"]["RW"] is False
    assert mounts["/workspace"]["Source"] == str(home) and mounts["/workspace"]["RW"] is True
    env = dict(item.split("=", 1) for item in attrs["Config"]["Env"])
    assert env["APP_LICENSE"] == "LICENSE-KEY-42"
    exit_code, output = docker_client.containers.get(container.docker_id).exec_run(
        ["cat", "/mnt/data/hello.txt"]
    )
    assert (exit_code, output) == (0, b"from the host")
    exit_code, _ = docker_client.containers.get(container.docker_id).exec_run(
        ["touch", "/mnt/data/new"]
    )
    assert exit_code != 0, "a read-only volume was writable"


@pytest.mark.asyncio
async def test_missing_host_paths_are_refused_and_not_created(manager, tmp_path):
    missing = tmp_path / "nope"
    policy = Policy.with_volume(f"{missing}:/mnt/data:rw")
    with pytest.raises(BadRequest, match="does not exist"):
        await manager.start(user="alice", grant=make_grant(policy=policy), base_url="/")
    assert not missing.exists()
    with pytest.raises(BadRequest, match="home_source"):
        await manager.start(
            user="alice", grant=make_grant(policy=Policy(allow_home=True)), base_url="/"
        )
    assert await manager.list() == []


@pytest.mark.parametrize(
    "volume",
    ["/a:/b", "/a:/b:xx", "rel:/b:ro", "/a::ro", "/a:rel:rw", "", "/a:/b:ro:extra", "/a:/../b:ro"],
)
def test_invalid_volume_strings_are_clear_errors(volume):
    with pytest.raises(BadRequest) as info:
        Policy.with_volume(volume or ":::")
    assert "volume" in info.value.message


@pytest.mark.parametrize(
    "value, message",
    [
        ("big", "expected WIDTHxHEIGHT"),
        ("100x100", "out of range"),
        ("99999x600", "out of range"),
        ("123456x600", "expected WIDTHxHEIGHT"),
        ("800x600x7", "colour depth"),
        (800, "expected WIDTHxHEIGHT"),
    ],
)
@pytest.mark.asyncio
async def test_bad_configurables_are_refused_before_anything_runs(manager, value, message):
    with pytest.raises(BadRequest, match=message):
        await manager.start(
            user="bob", grant=make_grant(VNCAPP), base_url="/", configurables={"resolution": value}
        )
    with pytest.raises(BadRequest, match="unknown configurable"):
        await manager.start(
            user="bob", grant=make_grant(), base_url="/", configurables={"resolution": "800x600"}
        )
    assert await manager.list() == []


@pytest.mark.asyncio
async def test_unknown_ids_are_clear_errors(manager):
    for url_id in ("0" * 32, "../etc", "a/b", "", "x" * 100):
        with pytest.raises(NotFound, match="no container"):
            await manager.get(url_id)
        with pytest.raises(NotFound):
            await manager.logs(url_id)
    with pytest.raises(NotFound, match="not available on this host"):
        await manager.get_image("remoteapp-test/does-not-exist:1")
    with pytest.raises(BadRequest, match="invalid docker image name"):
        await manager.get_image("Not A Valid/Image!")


@pytest.mark.asyncio
async def test_an_app_that_crashes_is_reported_and_removed(manager):
    manager.options.extra_create_kwargs = {"command": ["sh", "-c", "echo boom >&2; exit 3"]}
    with pytest.raises(StartFailed) as info:
        await manager.start(user="alice", grant=make_grant(), base_url="/")
    assert "exited with code 3" in info.value.message
    assert "boom" in info.value.message
    assert await manager.list() == []


@pytest.mark.asyncio
async def test_an_app_that_never_answers_times_out_and_is_removed(manager):
    manager.options.extra_create_kwargs = {"command": ["sleep", "60"]}
    manager.options.start_timeout = 2
    with pytest.raises(StartFailed, match="did not answer .* within 2 s"):
        await manager.start(user="alice", grant=make_grant(), base_url="/")
    assert await manager.list() == []


@pytest.mark.asyncio
async def test_pull_policies(manager):
    missing = make_grant("remoteapp-test/not-in-any-registry:1")
    manager.options.pull_policy = "never"
    with pytest.raises(NotFound, match="pull_policy is 'never'"):
        await manager.start(user="alice", grant=missing, base_url="/")
    # ifnotpresent pulls; there is no registry here, so the pull fails clearly
    manager.options.pull_policy = "ifnotpresent"
    events = []
    with pytest.raises((NotFound, BadRequest, Unavailable), match="pulling"):
        await manager.start(user="alice", grant=missing, base_url="/", progress=events.append)
    assert "pulling" in [e["stage"] for e in events]
    # skip does not look at the image at all and still starts a present one
    manager.options.pull_policy = "skip"
    container = await manager.start(user="alice", grant=make_grant(), base_url="/")
    assert container.status == "running"
    assert await manager.list() == [container]
    with pytest.raises(BadRequest, match="pull_policy must be one of"):
        ContainerOptions(pull_policy="sometimes")


@pytest.mark.asyncio
async def test_odd_user_names_get_safe_container_names(manager):
    user = "Émile O'Brien <x>@exa mple.com;rm -rf"
    container = await manager.start(user=user, grant=make_grant(user=user), base_url="/user/e/")
    assert container.user == user
    assert container.name.startswith(f"{REALM}-{escape_name(user)}-")
    assert all(c.isalnum() or c in "-_." for c in container.name)
    assert escape_name("Alice") != escape_name("alice")
    assert escape_name("a-b") != escape_name("a_b")
    logs = await manager.logs(container.url_id, user=user)
    assert isinstance(logs, str)


@pytest.mark.asyncio
async def test_broken_labels_never_break_listing(manager, derived_image):
    broken = derived_image(
        'LABEL eu.simphony-project.docker.icon_128="not base64 at all!" '
        'eu.simphony-project.docker.type="spaceship" '
        'eu.simphony-project.docker.ui_name="<b>Broken</b>" '
        'eu.simphony-project.docker.env.Bad_Name="" '
        'eu.simphony-project.docker.env.x11-width=""'
    )
    images = {image.name: image for image in await manager.list_images()}
    assert {WEBAPP, VNCAPP, broken} <= set(images)
    image = images[broken]
    assert image.icon_128 == "" and image.type == "vncapp"
    assert image.ui_name == "<b>Broken</b>"  # kept as text; the UI renders text
    assert [c.tag for c in image.configurables] == ["resolution"]
    assert len(image.problems) == 3
    assert images[VNCAPP].icon_128 and images[VNCAPP].type == "vncapp"
    # and the broken image still starts
    container = await manager.start(
        user="alice",
        grant=make_grant(broken),
        base_url="/",
        configurables={"resolution": "1024x768"},
    )
    assert container.status == "running"


@pytest.mark.asyncio
async def test_docker_unreachable_is_unavailable():
    manager = ContainerManager(AsyncDocker("unix:///nonexistent/docker.sock"))
    try:
        with pytest.raises(Unavailable, match="docker engine is not reachable"):
            await manager.list()
    finally:
        manager.docker.close()


@pytest.mark.asyncio
async def test_logs_of_a_running_app(manager):
    container = await manager.start(user="alice", grant=make_grant(VNCAPP), base_url="/")
    logs = await manager.logs(container.url_id, user="alice")
    assert logs.strip(), "the VNC app logs its start"
    with pytest.raises(BadRequest):
        await manager.logs(container.url_id, tail=0)
