"""Container hardening, checked on the real containers (docker inspect and inside them).

What a container gets: ports on 127.0.0.1 only (none at all on an internal network),
never privileged, ``no-new-privileges``, a reduced capability set, a pids limit, and
exactly the bind mounts of its grant and the configured home -- never another host path,
whatever a grant's volume string or a user's request says.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import urllib.request
import uuid
from dataclasses import fields, replace

import pytest
import pytest_asyncio
from api_helpers import Api
from conftest import (
    NAMESPACE,
    REALM,
    VNCAPP,
    WEBAPP,
    make_grant,
    realm_containers,
    rfb_server_init,
    server_config,
)
from traitlets.config import Config

from remoteapp_server.config import RemoteApp
from remoteapp_server.core.accounting import Policy
from remoteapp_server.core.containers import (
    AsyncDocker,
    ContainerManager,
    ContainerOptions,
    StartFailed,
)
from remoteapp_server.core.containers.options import DEFAULT_CAP_DROP, DEFAULT_PIDS_LIMIT
from remoteapp_server.core.errors import BadRequest

#: capability bits (capabilities(7)) a container keeps with the default cap_drop
KEPT = {"CHOWN": 0, "DAC_OVERRIDE": 1, "FOWNER": 3, "FSETID": 4, "KILL": 5, "SETGID": 6}
KEPT |= {"SETUID": 7, "NET_BIND_SERVICE": 10}


def mask(*bits: int) -> int:
    return sum(1 << bit for bit in bits)


def fetch(url: str) -> int:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status


def proc_status(docker_client, container_id: str, pid: str = "1") -> dict[str, str]:
    code, out = docker_client.containers.get(container_id).exec_run(
        ["cat", f"/proc/{pid}/status"], user="0"
    )
    assert code == 0, out
    return dict(
        (key, value.strip())
        for key, _, value in (line.partition(":") for line in out.decode().splitlines())
    )


def sh(docker_client, container_id: str, script: str, user: str = "0") -> tuple[int, str]:
    code, out = docker_client.containers.get(container_id).exec_run(
        ["/bin/sh", "-c", script], user=user
    )
    return code, out.decode("utf-8", "replace")


def mounts_of(docker_client, container_id: str) -> list[tuple[str, str, str, bool]]:
    attrs = docker_client.containers.get(container_id).attrs
    return sorted((m["Type"], m["Source"], m["Destination"], m["RW"]) for m in attrs["Mounts"])


@pytest_asyncio.fixture
async def managers(docker_client):
    """``make(**options)`` → a ContainerManager of the test realm; containers removed after."""
    made = []

    def make(**overrides) -> ContainerManager:
        values = dict(realm=REALM, start_timeout=30, stop_timeout=1)
        values.update(overrides)
        manager = ContainerManager(AsyncDocker(), ContainerOptions(**values))
        made.append(manager)
        return manager

    yield make
    for manager in made:
        for container in await manager.list():
            await manager.stop(container.url_id)
        manager.docker.close()


# ------------------------------------------------------------------ defaults


@pytest.mark.asyncio
async def test_the_vnc_demo_runs_with_the_default_hardening(managers, docker_client):
    manager = managers()
    container = await manager.start(user="alice", grant=make_grant(VNCAPP), base_url="/user/alice/")
    # the app works: noVNC page and an RFB handshake through websockify
    assert await asyncio.to_thread(fetch, container.target + container.urlpath) == 200
    ws_url = container.target.replace("http", "ws") + container.urlpath + "websockify"
    version, _, _ = await rfb_server_init(ws_url)
    assert version == b"RFB 003.008\n"

    attrs = docker_client.containers.get(container.docker_id).attrs
    host = attrs["HostConfig"]
    assert host["Privileged"] is False
    assert host["SecurityOpt"] == ["no-new-privileges"]
    assert sorted(host["CapDrop"]) == sorted(DEFAULT_CAP_DROP)
    assert not host["CapAdd"]
    assert host["PidsLimit"] == DEFAULT_PIDS_LIMIT
    assert host["Init"] is True
    assert host["NetworkMode"] == "default" or host["NetworkMode"] == "bridge"
    for key in ("PidMode", "IpcMode", "UsernsMode", "UTSMode"):
        assert host.get(key) in ("", "private", "shareable", None), (key, host.get(key))
    assert not host["Devices"] and not host["Binds"] and not attrs["Mounts"]
    published = [b for ports in host["PortBindings"].values() for b in ports]
    assert published and {b["HostIp"] for b in published} == {"127.0.0.1"}
    live = [b for ports in attrs["NetworkSettings"]["Ports"].values() if ports for b in ports]
    assert live and {b["HostIp"] for b in live} == {"127.0.0.1"}

    # what the kernel says about the app's processes (the demo runs as root inside)
    status = proc_status(docker_client, container.docker_id)
    assert status["Uid"].split()[0] == "0"
    assert int(status["CapBnd"], 16) == mask(*KEPT.values())
    assert int(status["CapEff"], 16) == mask(*KEPT.values())
    assert status["NoNewPrivs"] == "1"
    assert status["Seccomp"] == "2", "docker's seccomp profile is not applied"


@pytest.mark.parametrize("cap_drop", [DEFAULT_CAP_DROP, ()], ids=["default", "nothing"])
@pytest.mark.asyncio
async def test_dropped_capabilities_are_really_gone_inside(managers, docker_client, cap_drop):
    # the web app as root (an operator's extra_create_kwargs), so that root's
    # capabilities inside are exactly the container's
    manager = managers(cap_drop=list(cap_drop), extra_create_kwargs={"user": "0"})
    container = await manager.start(user="alice", grant=make_grant(), base_url="/")
    assert proc_status(docker_client, container.docker_id)["Uid"].split()[0] == "0"
    probes = {
        "MKNOD": "mknod /tmp/dev-null c 1 3",
        "SYS_CHROOT": "chroot / true",
        "NET_RAW": "ping -c 1 -W 1 127.0.0.1",
    }
    for cap, script in probes.items():
        code, out = sh(docker_client, container.docker_id, script)
        if cap in cap_drop:
            assert code != 0, f"{cap} was not dropped: {script} -> {out}"
        else:
            assert code == 0, f"{cap} kept, yet {script} failed: {out}"
    # what the default keeps works: root can chown, as su/gosu-style entrypoints do
    code, out = sh(docker_client, container.docker_id, "mkdir /tmp/d && chown 123:456 /tmp/d")
    assert code == 0, out


@pytest.mark.asyncio
async def test_a_su_style_image_works_with_the_default_and_not_with_drop_all(
    managers, derived_image, docker_client
):
    """An entrypoint that starts as root, chowns its data and switches to a user (su,
    gosu) keeps working with the default capabilities; ``cap_drop=["ALL"]`` really
    takes CHOWN/SETUID away from it."""
    image = derived_image(
        "USER 0:0\n"
        'RUN echo "app:x:65534:65534::/:/bin/sh" > /etc/passwd'
        ' && echo "app:x:65534:" > /etc/group\n'
        'CMD ["/bin/sh", "-c", "mkdir -p /appdata && chown app:app /appdata && '
        'exec su -s /bin/sh app -c /usr/local/bin/remoteapp-webapp-start"]'
    )
    container = await managers().start(user="alice", grant=make_grant(image), base_url="/")
    assert container.status == "running"
    status = proc_status(docker_client, container.docker_id)
    httpd = sh(docker_client, container.docker_id, "pidof httpd")[1].split()
    assert httpd, "the app did not come up as a user"
    app = proc_status(docker_client, container.docker_id, httpd[0])
    assert app["Uid"].split()[0] == "65534" and int(app["CapEff"], 16) == 0
    assert int(status["CapBnd"], 16) == mask(*KEPT.values())

    strict = managers(cap_drop=["ALL"], start_timeout=10)
    with pytest.raises(StartFailed, match="Operation not permitted"):
        await strict.start(user="bob", grant=make_grant(image, user="bob"), base_url="/")
    assert await strict.list(user="bob") == []


@pytest.mark.asyncio
async def test_capabilities_and_pids_limit_are_configurable(managers, docker_client):
    manager = managers(
        cap_drop=["all"],
        cap_add=["cap_net_bind_service", "Kill"],
        pids_limit=40,
    )
    container = await manager.start(user="alice", grant=make_grant(), base_url="/")
    host = docker_client.containers.get(container.docker_id).attrs["HostConfig"]
    assert host["CapDrop"] == ["ALL"]
    assert sorted(host["CapAdd"]) == ["KILL", "NET_BIND_SERVICE"]
    assert host["PidsLimit"] == 40
    status = proc_status(docker_client, container.docker_id)
    assert int(status["CapBnd"], 16) == mask(KEPT["KILL"], KEPT["NET_BIND_SERVICE"])
    # the pids limit stops a burst of processes
    code, out = sh(
        docker_client,
        container.docker_id,
        "n=0; for i in $(seq 80); do sleep 5 >/dev/null 2>&1 & n=$((n+1)); done 2>&1; echo $n",
    )
    assert "fork" in out.lower() or "resource temporarily unavailable" in out.lower(), out
    sh(docker_client, container.docker_id, "pkill sleep || kill $(pidof sleep)")

    unlimited = managers(pids_limit=None)
    other = await unlimited.start(user="bob", grant=make_grant(user="bob"), base_url="/")
    host = docker_client.containers.get(other.docker_id).attrs["HostConfig"]
    assert host["PidsLimit"] in (None, 0, -1)
    assert sorted(host["CapDrop"]) == sorted(DEFAULT_CAP_DROP)


@pytest.mark.parametrize(
    "options, message",
    [
        (dict(cap_add=["SYS_GOD"]), "not a Linux capability"),
        (dict(cap_drop=[""]), "not a Linux capability"),
        (dict(cap_add=[7]), "not a Linux capability"),
        (dict(pids_limit=0), "pids_limit"),
        (dict(pids_limit=True), "pids_limit"),
        (dict(allowed_volume_roots=["srv/data"]), "absolute"),
        (dict(extra_create_kwargs={"labels": {}}), "extra_create_kwargs must not set labels"),
        (dict(extra_create_kwargs={"host_config": {}}), "host_config"),
        (dict(extra_create_kwargs={"environment": {"A": "1"}}), "environment"),
        (dict(extra_host_config={"cap_add": ["ALL"]}), "c.RemoteApp.cap_add"),
        (dict(extra_host_config={"port_bindings": {8888: 8888}}), "c.RemoteApp.host_ip"),
        (dict(extra_host_config={"pids_limit": -1}), "c.RemoteApp.pids_limit"),
    ],
)
def test_bad_hardening_options_are_refused_at_configuration(options, message):
    with pytest.raises(BadRequest, match=message):
        ContainerOptions(**options)


def test_every_container_option_is_a_trait_with_the_options_default():
    """ContainerOptions declares the options and their defaults; c.RemoteApp has a trait of
    the same name for each (help for --help-all), whose default is the option's."""
    traits = RemoteApp.class_traits(config=True)
    missing = [o.name for o in fields(ContainerOptions) if o.name not in traits]
    assert not missing, f"container options without a c.RemoteApp trait: {missing}"
    assert RemoteApp().container_options() == ContainerOptions()
    for option in fields(ContainerOptions):
        assert traits[option.name].default() == getattr(ContainerOptions(), option.name)


def test_the_traits_reach_the_container_options():
    defaults = RemoteApp().container_options()
    assert defaults.cap_drop == list(DEFAULT_CAP_DROP) and defaults.cap_add == []
    assert defaults.pids_limit == DEFAULT_PIDS_LIMIT and defaults.allowed_volume_roots == []
    assert defaults.host_ip == "127.0.0.1"
    config = Config(
        RemoteApp=dict(
            cap_drop=["ALL"],
            cap_add=["CAP_CHOWN"],
            pids_limit=None,
            allowed_volume_roots=["/srv/data/"],
        )
    )
    options = RemoteApp(config=config).container_options()
    assert (options.cap_drop, options.cap_add) == (["ALL"], ["CHOWN"])
    assert options.pids_limit is None
    assert options.allowed_volume_roots == ["/srv/data"]
    with pytest.raises(BadRequest, match="not a Linux capability"):
        RemoteApp(config=Config(RemoteApp=dict(cap_add=["SUPERUSER"]))).container_options()


@pytest.mark.parametrize(
    "options, warned",
    [
        (dict(extra_host_config={"privileged": True}), "privileged=True"),
        (dict(extra_host_config={"network_mode": "host"}), "network_mode='host'"),
        (dict(extra_host_config={"pid_mode": "host"}), "pid_mode='host'"),
        (dict(extra_host_config={"binds": ["/:/host"]}), "binds"),
        (dict(extra_host_config={"devices": ["/dev/fuse"]}), "devices"),
        (dict(extra_host_config={"security_opt": ["seccomp=unconfined"]}), "unconfined"),
        (dict(extra_host_config={"security_opt": ["no-new-privileges:false"]}), "no-new"),
        (dict(cap_add=["SYS_ADMIN"]), "cap_add"),
        (dict(host_ip="0.0.0.0"), "not on loopback"),
        (dict(host_ip="192.0.2.10"), "not on loopback"),
    ],
)
def test_weakened_isolation_is_never_silent(caplog, options, warned):
    with caplog.at_level(logging.WARNING, logger="remoteapp_server.core.containers.options"):
        ContainerOptions(**options)
    assert warned in caplog.text and "weaker isolation" in caplog.text


def test_the_defaults_and_harmless_options_warn_about_nothing(caplog):
    with caplog.at_level(logging.WARNING, logger="remoteapp_server.core.containers.options"):
        ContainerOptions()
        ContainerOptions(host_ip="::1")
        ContainerOptions(network_name="internal", use_internal_ip=True, host_ip="0.0.0.0")
        ContainerOptions(extra_host_config={"read_only": True, "security_opt": ["label=disable"]})
        ContainerOptions(cap_drop=["ALL"], cap_add=["CHOWN"], pids_limit=None)
    assert caplog.text == ""


@pytest.mark.asyncio
async def test_operator_security_options_and_mounts_add_to_the_defaults(
    managers, docker_client, tmp_path
):
    shared = tmp_path / "shared"
    shared.mkdir()
    from docker.types import Mount

    manager = managers(
        extra_host_config={
            "security_opt": ["label=disable"],
            "mounts": [Mount("/opt/shared", str(shared), type="bind", read_only=True)],
        }
    )
    data = tmp_path / "data"
    data.mkdir()
    grant = make_grant(policy=Policy.with_volume(f"{data}:/mnt/data:rw"))
    container = await manager.start(user="alice", grant=grant, base_url="/")
    host = docker_client.containers.get(container.docker_id).attrs["HostConfig"]
    assert sorted(host["SecurityOpt"]) == ["label=disable", "no-new-privileges"]
    assert mounts_of(docker_client, container.docker_id) == [
        ("bind", str(data), "/mnt/data", True),
        ("bind", str(shared), "/opt/shared", False),
    ]


# ------------------------------------------------------------------ networks


@pytest.fixture
def internal_network(docker_client):
    network = docker_client.networks.create(
        f"{REALM}-internal-{uuid.uuid4().hex[:6]}",
        internal=True,
        labels={f"{NAMESPACE}runinfo.realm": REALM},
    )
    yield network.name
    for container in docker_client.containers.list(all=True, filters={"network": network.id}):
        container.remove(force=True)
    network.remove()


@pytest.mark.asyncio
async def test_on_an_internal_network_nothing_is_published_on_the_host(
    managers, docker_client, internal_network
):
    manager = managers(network_name=internal_network, use_internal_ip=True, host_ip="0.0.0.0")
    container = await manager.start(user="alice", grant=make_grant(), base_url="/")
    attrs = docker_client.containers.get(container.docker_id).attrs
    assert not attrs["HostConfig"]["PortBindings"]
    assert not any(attrs["NetworkSettings"]["Ports"].values())
    assert attrs["HostConfig"]["NetworkMode"] == internal_network
    address = attrs["NetworkSettings"]["Networks"][internal_network]["IPAddress"]
    assert (container.host, container.port) == (address, 8888)
    assert await asyncio.to_thread(fetch, container.target + container.urlpath) == 200

    # without use_internal_ip, docker publishes nothing from an internal network either:
    # the start fails clearly and leaves nothing behind
    unreachable = managers(network_name=internal_network, start_timeout=5)
    with pytest.raises(StartFailed, match="no reachable address"):
        await unreachable.start(user="bob", grant=make_grant(user="bob"), base_url="/")
    assert await unreachable.list(user="bob") == []


# ------------------------------------------------------------------- volumes


def forged(policy: Policy, **fields) -> Policy:
    """A policy as a tampered accounting row could hold it: validation bypassed."""
    policy = replace(policy)
    for key, value in fields.items():
        object.__setattr__(policy, key, value)
    return policy


@pytest.mark.asyncio
async def test_mounts_are_exactly_the_grant_volume_and_the_home(managers, docker_client, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    homes = tmp_path / "homes"
    (homes / "alice").mkdir(parents=True)
    manager = managers(home_source=f"{homes}/{{user}}")
    policy = Policy.with_volume(f"{data}/:/mnt/data:ro", allow_home=True)
    container = await manager.start(user="alice", grant=make_grant(policy=policy), base_url="/")
    assert mounts_of(docker_client, container.docker_id) == [
        ("bind", str(data), "/mnt/data", False),
        ("bind", str(homes / "alice"), "/workspace", True),
    ]
    host = docker_client.containers.get(container.docker_id).attrs["HostConfig"]
    assert not host["Binds"] and not host["VolumesFrom"]


@pytest.mark.parametrize(
    "volume, refusal",
    [
        ("{tmp}/data/../secret:/mnt:ro", "'..'"),
        ("data:/mnt:ro", "absolute"),
        ("{tmp}/data:/mnt/../etc:rw", "'..'"),
    ],
)
def test_volume_strings_with_dot_segments_or_relative_paths_are_400(tmp_path, volume, refusal):
    with pytest.raises(BadRequest, match=refusal):
        Policy.with_volume(volume.format(tmp=tmp_path))


@pytest.mark.parametrize(
    "source, refusal",
    [
        ("{tmp}/data/../secret", "'..'"),
        ("secret", "not an absolute path"),
        ("./secret", "not an absolute path"),
        ("{tmp}/link-to-secret", "symbolic link"),
        ("{tmp}/link-to-root", "symbolic link"),
        ("{tmp}/linked-dir/inner", "symbolic link"),
        ("{tmp}/app.sock", "sockets"),
        ("/var/run/docker.sock", "never mounted"),
        ("/run/docker.sock", "never mounted"),
        ("/", "system path"),
        ("/etc", "system path"),
        ("/proc/1/root", "never mounted"),
        ("/usr/bin", "system path"),
        ("/root", "system path"),
        ("/var/lib/docker", "never mounted"),
    ],
)
@pytest.mark.asyncio
async def test_a_grant_can_never_mount_another_host_path(
    managers, docker_client, tmp_path, source, refusal
):
    """Whatever an accounting row holds, the container mounts the granted path literally
    or is not created at all."""
    (tmp_path / "data").mkdir()
    secret = tmp_path / "secret"
    secret.mkdir()
    (tmp_path / "link-to-secret").symlink_to(secret)
    (tmp_path / "link-to-root").symlink_to("/")
    (tmp_path / "real-dir" / "inner").mkdir(parents=True)
    (tmp_path / "linked-dir").symlink_to(tmp_path / "real-dir")
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(tmp_path / "app.sock"))
    try:
        policy = forged(
            Policy.with_volume(f"{tmp_path}/data:/mnt/data:rw"),
            volume_source=source.format(tmp=tmp_path),
        )
        manager = managers()
        with pytest.raises(BadRequest, match=refusal):
            await manager.start(user="alice", grant=make_grant(policy=policy), base_url="/")
        assert await manager.list() == []
    finally:
        server.close()


@pytest.mark.asyncio
async def test_allowed_volume_roots_bound_what_admins_can_grant(managers, docker_client, tmp_path):
    allowed = tmp_path / "allowed"
    (allowed / "project").mkdir(parents=True)
    (tmp_path / "allowed-not").mkdir()
    (tmp_path / "elsewhere").mkdir()
    manager = managers(allowed_volume_roots=[f"{allowed}/"])
    for outside in ("allowed-not", "elsewhere"):
        policy = Policy.with_volume(f"{tmp_path / outside}:/mnt/data:ro")
        with pytest.raises(BadRequest, match="allowed_volume_roots"):
            await manager.start(user="alice", grant=make_grant(policy=policy), base_url="/")
    assert await manager.list() == []
    policy = Policy.with_volume(f"{allowed / 'project'}:/mnt/data:ro")
    container = await manager.start(user="alice", grant=make_grant(policy=policy), base_url="/")
    assert mounts_of(docker_client, container.docker_id) == [
        ("bind", str(allowed / "project"), "/mnt/data", False)
    ]


@pytest.mark.parametrize("user", ["..", ".", "bob/../../etc", "a/b", " "])
@pytest.mark.asyncio
async def test_a_user_name_cannot_steer_the_home_mount(managers, tmp_path, user):
    homes = tmp_path / "homes"
    (homes / "a" / "b").mkdir(parents=True)
    (homes / "bob").mkdir()
    manager = managers(home_source=f"{homes}/{{user}}")
    grant = make_grant(policy=Policy(allow_home=True), user=user)
    with pytest.raises(BadRequest, match="cannot name a home directory"):
        await manager.start(user=user, grant=grant, base_url="/")
    assert await manager.list() == []


@pytest.mark.asyncio
async def test_a_home_replaced_by_a_symbolic_link_is_not_mounted(managers, tmp_path):
    homes = tmp_path / "homes"
    homes.mkdir()
    (homes / "mallory").symlink_to("/etc")
    manager = managers(home_source=f"{homes}/{{user}}/")
    grant = make_grant(policy=Policy(allow_home=True), user="mallory")
    with pytest.raises(BadRequest, match="symbolic link"):
        await manager.start(user="mallory", grant=grant, base_url="/")
    (homes / "file").write_text("not a directory")
    with pytest.raises(BadRequest, match="not a directory"):
        await managers(home_source=f"{homes}/file").start(user="mallory", grant=grant, base_url="/")
    assert await manager.list() == []


# ------------------------------------------------------ through the REST API


@pytest.fixture
def jp_server_config(tmp_path):
    return server_config(tmp_path / "remoteapp.sqlite", start_timeout=30)


@pytest.fixture
def api(jp_serverapp, http_server_client, jp_auth_header, jp_base_url, docker_client):
    yield Api(http_server_client, jp_base_url, dict(jp_auth_header))
    for container in realm_containers(docker_client):
        container.remove(force=True)


async def grant_via_api(api, image: str, **policy) -> str:
    code, me = await api.get("me")
    assert code == 200
    assert (await api.post("admin/users", {"name": me["name"]}))[0] in (201, 409)
    assert (await api.post("admin/applications", {"image": image}))[0] in (201, 409)
    code, body = await api.post(
        "admin/grants", {"image": image, "user": me["name"], "policy": policy}
    )
    assert code == 201, body
    return body["mapping_id"]


async def test_a_user_request_cannot_touch_mounts_env_ports_or_privileges(api, docker_client):
    vnc = await grant_via_api(api, VNCAPP)
    web = await grant_via_api(api, WEBAPP, allow_startup_data=True)
    refused = [
        {"mapping_id": vnc, "volumes": ["/:/host:rw"]},
        {"mapping_id": vnc, "privileged": True},
        {"mapping_id": vnc, "ports": {"8888/tcp": 80}},
        {"mapping_id": vnc, "environment": {"LD_PRELOAD": "/tmp/x.so"}},
        {"mapping_id": vnc, "image": "busybox"},
        {"mapping_id": vnc, "user": "root"},
        {"mapping_id": vnc, "configurables": {"volumes": ["/:/host"]}},
        {"mapping_id": vnc, "configurables": {"volume": "/:/host:rw"}},
        {"mapping_id": vnc, "configurables": {"privileged": True}},
        {"mapping_id": vnc, "configurables": {"cap_add": ["ALL"]}},
        {"mapping_id": vnc, "configurables": {"env": {"A": "1"}}},
        {"mapping_id": vnc, "configurables": {"JPY_USER": "root"}},
        {"mapping_id": vnc, "configurables": {"host_ip": "0.0.0.0"}},
        {"mapping_id": vnc, "configurables": {"resolution": {"width": 800}}},
        {"mapping_id": vnc, "configurables": {"resolution": "800x600\nLD_PRELOAD=x"}},
        {"mapping_id": vnc, "configurables": {"startupdata": "notes.txt"}},  # not allowed
        {"mapping_id": vnc, "configurables": ["resolution"]},
        {"mapping_id": web, "configurables": {"resolution": "800x600"}},  # not a VNC image
    ]
    for body in refused:
        code, answer = await api.post("containers", body)
        assert code == 400, (body, code, answer)
        assert answer["status"] == 400 and answer["message"]
    assert realm_containers(docker_client) == []

    # what a user can choose ends up as the image's own variables, nothing more
    code, started = await api.post(
        "containers", {"mapping_id": vnc, "configurables": {"resolution": "800x600"}}
    )
    assert code == 201, started
    [container] = realm_containers(docker_client)
    image_env = set(docker_client.images.get(VNCAPP).attrs["Config"].get("Env") or [])
    env = dict(e.split("=", 1) for e in container.attrs["Config"]["Env"] if e not in image_env)
    assert sorted(env) == [
        "JPY_BASE_USER_URL",
        "JPY_USER",
        "URL_ID",
        "USER",
        "X11_DEPTH",
        "X11_HEIGHT",
        "X11_WIDTH",
    ]
    assert (env["X11_WIDTH"], env["X11_HEIGHT"], env["URL_ID"]) == ("800", "600", started["url_id"])
    host = container.attrs["HostConfig"]
    assert host["Privileged"] is False and "no-new-privileges" in host["SecurityOpt"]
    assert not container.attrs["Mounts"]
    assert {b["HostIp"] for ports in host["PortBindings"].values() for b in ports} == {"127.0.0.1"}


async def test_grant_volumes_from_the_accounting_are_mounted_literally(
    api, docker_client, jp_root_dir, tmp_path
):
    data = tmp_path / "granted-data"  # tmp_path/data is pytest-jupyter's
    data.mkdir()
    for volume in (f"{data}/../granted-data:/mnt/data:ro", "data:/mnt/data:ro", "/a:/b"):
        code, body = await api.post(
            "admin/grants", {"image": WEBAPP, "user": "someone", "policy": {"volume": volume}}
        )
        assert code == 400, (volume, body)

    mapping_id = await grant_via_api(api, WEBAPP, volume=f"{data}:/mnt/data:ro", allow_home=True)
    code, started = await api.post("containers", {"mapping_id": mapping_id})
    assert code == 201, started
    [container] = realm_containers(docker_client)
    # personal mode: the home is the directory Jupyter serves, by its real path
    assert mounts_of(docker_client, container.id) == [
        ("bind", str(data), "/mnt/data", False),
        ("bind", os.path.realpath(jp_root_dir), "/workspace", True),
    ]
    assert (await api.delete(f"containers/{started['url_id']}"))[0] == 204

    # an admin may enter the docker socket as a volume, but it is never mounted
    for socket_path in ("/var/run/docker.sock", "/run/docker.sock"):
        socket_grant = await grant_via_api(api, WEBAPP, volume=f"{socket_path}:/sock:rw")
        code, body = await api.post("containers", {"mapping_id": socket_grant})
        assert code == 400 and "never mounted" in body["message"], body
    assert realm_containers(docker_client) == []
