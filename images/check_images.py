#!/usr/bin/env python3
"""Smoke test of the demo images built by images/build.

Runs each image like remoteapp does (docker-py, init=True, the JPY_*/URL_ID
environment, port 8888 published on 127.0.0.1) and checks:

- GET <prefix>/ answers 200 (time from `run` to the 200 is reported);
- webapp: the page shows the HTML-escaped user name; large-10MiB.txt is intact;
- vnc: a websocket to <prefix>/websockify (subprotocol "binary") speaks RFB 3.8,
  and ServerInit reports the X11_WIDTH x X11_HEIGHT passed in;
- `stop(timeout=10)` returns quickly (time reported).

Needs docker (docker-py) and tornado, e.g. the project venv:
    .venv/bin/python images/check_images.py [webapp] [vnc]
Containers are removed afterwards; the images are left alone.
"""

import asyncio
import struct
import sys
import time
import urllib.error
import urllib.request

import docker
from tornado.websocket import websocket_connect

WEBAPP = "remoteapp/demo-webapp:latest"
VNC = "remoteapp/demo-vnc:latest"
BASE = "/user/al%40ice/remoteapp"  # as a proxy forwards it: percent-encoded
URL_ID = "abc123"
PREFIX = f"{BASE}/containers/{URL_ID}"
USER = "al<b>ice"


def run(client, image, **env):
    environment = {"JPY_BASE_USER_URL": BASE, "URL_ID": URL_ID, "JPY_USER": USER, **env}
    t0 = time.monotonic()
    c = client.containers.run(
        image,
        detach=True,
        init=True,
        environment=environment,
        ports={"8888/tcp": ("127.0.0.1", None)},
    )
    c.reload()
    port = int(c.attrs["NetworkSettings"]["Ports"]["8888/tcp"][0]["HostPort"])
    return c, port, t0


def wait_200(port, path, t0, timeout=30.0):
    url = f"http://127.0.0.1:{port}{path}"
    while time.monotonic() - t0 < timeout:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return time.monotonic() - t0, r.read()
        except (urllib.error.URLError, ConnectionError):
            pass
        time.sleep(0.02)
    raise AssertionError(f"no 200 from {url} within {timeout} s")


def get(port, path):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as r:
        return r.status, r.read()


def stop(c):
    t = time.monotonic()
    c.stop(timeout=10)
    dt = time.monotonic() - t
    c.remove(force=True)
    return dt


async def rfb_size(url):
    """RFB 3.8 handshake with security type None; returns ServerInit (w, h)."""
    ws = await websocket_connect(url, subprotocols=["binary"], connect_timeout=10)
    buf = bytearray()

    async def need(n):
        while len(buf) < n:
            msg = await asyncio.wait_for(ws.read_message(), 10)
            assert msg is not None, "websocket closed"
            buf.extend(msg if isinstance(msg, bytes) else msg.encode())
        out = bytes(buf[:n])
        del buf[:n]
        return out

    try:
        assert ws.selected_subprotocol == "binary", ws.selected_subprotocol
        version = await need(12)
        assert version == b"RFB 003.008\n", version
        await ws.write_message(b"RFB 003.008\n", binary=True)
        types = await need((await need(1))[0])
        assert 1 in types, types
        await ws.write_message(bytes([1]), binary=True)
        assert struct.unpack(">I", await need(4))[0] == 0, "security result"
        await ws.write_message(bytes([1]), binary=True)  # ClientInit, shared
        return struct.unpack(">HH", await need(4))
    finally:
        ws.close()


def check_webapp(client):
    c, port, t0 = run(client, WEBAPP)
    try:
        dt, body = wait_200(port, PREFIX + "/", t0)
        assert b"remoteapp demo web app" in body, body
        assert b"al&lt;b&gt;ice" in body and b"al<b>ice" not in body, body
        status, data = get(port, PREFIX + "/large-10MiB.txt")
        assert data == b"".join(b"%09d\n" % i for i in range(1 << 20)), "large file"
        print(f"webapp: run -> 200 in {dt:.2f} s; page and 10 MiB file OK")
    finally:
        print(f"webapp: stop took {stop(c):.2f} s")


def check_vnc(client):
    c, port, t0 = run(client, VNC, X11_WIDTH="800", X11_HEIGHT="600")
    try:
        dt, body = wait_200(port, PREFIX + "/", t0)
        assert b"vnc.html?autoconnect=true" in body, body
        status, body = get(port, PREFIX + "/vnc.html")
        assert b"noVNC" in body
        w, h = asyncio.run(rfb_size(f"ws://127.0.0.1:{port}{PREFIX}/websockify"))
        assert (w, h) == (800, 600), (w, h)
        print(f"vnc: run -> 200 in {dt:.2f} s; vnc.html OK; RFB 003.008, ServerInit {w}x{h}")
    finally:
        print(f"vnc: stop took {stop(c):.2f} s")


def main(argv):
    client = docker.from_env()
    for name in argv or ["webapp", "vnc"]:
        {"webapp": check_webapp, "vnc": check_vnc}[name](client)
    print("OK")


if __name__ == "__main__":
    main(sys.argv[1:])
