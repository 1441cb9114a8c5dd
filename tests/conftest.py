"""Shared fixtures: a real docker engine, the locally built demo images, a test realm."""

from __future__ import annotations

import asyncio
import os
import struct
import uuid

import docker
import pytest
import pytest_asyncio
from traitlets.config import Config

from remoteapp_server.core.accounting import Grant, Policy
from remoteapp_server.core.containers import AsyncDocker, ContainerManager, ContainerOptions

WEBAPP = "remoteapp/demo-webapp:latest"
VNCAPP = "remoteapp/demo-vnc:latest"
NAMESPACE = "eu.simphony-project.docker."

#: containers of a test run carry their own realm, so cleanup never touches anything else
REALM = f"remoteapp-test-{os.getpid()}"


def realm_containers(docker_client) -> list:
    """Every container of this test run, running or not."""
    return docker_client.containers.list(
        all=True, filters={"label": f"{NAMESPACE}runinfo.realm={REALM}"}
    )


def server_config(accounting_url, *, identity_provider_class=None, **remoteapp) -> Config:
    """A pytest-jupyter server with the extension, this run's realm, its accounting at
    ``accounting_url`` and a short stop timeout; ``remoteapp``: more ``c.RemoteApp`` traits.
    ``identity_provider_class``: e.g. fake_hub's JupyterHub-like token identities."""
    server_app: dict = {"jpserver_extensions": {"remoteapp_server": True}}
    if identity_provider_class is not None:
        server_app["identity_provider_class"] = identity_provider_class
    return Config(
        {
            "ServerApp": server_app,
            "RemoteApp": {
                "accounting_url": str(accounting_url),
                "realm": REALM,
                "stop_timeout": 1,
                **remoteapp,
            },
        }
    )


@pytest.fixture(scope="session")
def docker_client():
    try:
        client = docker.from_env()
        client.ping()
    except Exception as exc:  # the suite is about real docker: say so loudly
        pytest.fail(f"a docker engine is required for these tests ({exc}); run .ci/run")
    for tag in (WEBAPP, VNCAPP):
        try:
            client.images.get(tag)
        except docker.errors.ImageNotFound:
            pytest.fail(f"test image {tag} is missing: build it with images/build")
    yield client
    for container in realm_containers(client):
        container.remove(force=True)
    client.close()


@pytest.fixture(scope="session")
def postgres_cluster():
    """A private PostgreSQL server (see postgres_helpers); skipped without the binaries,
    except under CI, where a missing PostgreSQL is a failure."""
    from postgres_helpers import PostgresCluster, find_bindir, missing_reason

    reason = missing_reason()
    if reason is not None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI runs the PostgreSQL tests: {reason}")
        pytest.skip(reason)
    cluster = PostgresCluster(find_bindir())
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def postgres_url(postgres_cluster) -> str:
    """The URL of a new, empty database on the private PostgreSQL server."""
    with postgres_cluster.database() as url:
        yield url.render_as_string(hide_password=False)


@pytest.fixture
def options():
    return ContainerOptions(realm=REALM, start_timeout=30, stop_timeout=2)


@pytest_asyncio.fixture
async def manager(docker_client, options):
    manager = ContainerManager(AsyncDocker(), options)
    yield manager
    for container in await manager.list():
        await manager.stop(container.url_id)
    manager.docker.close()


def make_grant(image: str = WEBAPP, policy: Policy | None = None, user: str = "alice") -> Grant:
    return Grant(mapping_id=uuid.uuid4().hex, image=image, policy=policy or Policy(), user=user)


@pytest.fixture
def derived_image(docker_client):
    """Build ``FROM <demo image>`` + extra Dockerfile lines, in well under a second."""
    import io

    made = []

    def build(lines: str, base: str = WEBAPP) -> str:
        tag = f"remoteapp-test/derived-{uuid.uuid4().hex[:12]}:latest"
        dockerfile = f"FROM {base}\n{lines}\n".encode()
        docker_client.images.build(fileobj=io.BytesIO(dockerfile), tag=tag, rm=True)
        made.append(tag)
        return tag

    yield build
    for tag in made:
        docker_client.images.remove(tag, force=True)


async def rfb_server_init(ws_url) -> tuple[bytes, int, int]:
    """Do an RFB 3.8 handshake (security None) over a websocket.

    Returns the server's version line and the framebuffer width and height from its
    ServerInit message: what a VNC viewer sees.
    """
    from tornado.websocket import websocket_connect

    conn = await websocket_connect(ws_url, subprotocols=["binary"])
    buffer = bytearray()

    async def read(count: int) -> bytes:
        while len(buffer) < count:
            message = await asyncio.wait_for(conn.read_message(), 10)
            if message is None:
                raise ConnectionError("websocket closed during the RFB handshake")
            buffer.extend(message if isinstance(message, bytes) else message.encode())
        data = bytes(buffer[:count])
        del buffer[:count]
        return data

    try:
        version = await read(12)
        await conn.write_message(b"RFB 003.008\n", binary=True)
        (count,) = await read(1)
        types = await read(count)
        assert 1 in types, f"security type None not offered: {list(types)}"
        await conn.write_message(b"\x01", binary=True)
        assert await read(4) == b"\x00\x00\x00\x00", "security handshake failed"
        await conn.write_message(b"\x01", binary=True)  # ClientInit, shared
        width, height = struct.unpack(">HH", await read(4))
        return version, width, height
    finally:
        conn.close()
