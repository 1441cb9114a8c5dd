#!/usr/bin/env python3
"""A WebSocket echo server for the benchmarks, standard library only (runs in a container
made from remoteapp/demo-vnc, whose Debian python3 has no third-party packages).

Listens on 0.0.0.0:$PORT (8888). Any path: a GET without ``Upgrade`` answers 200 on a
keep-alive connection (the readiness check of remoteapp; ``.../1k`` and ``.../256k`` give
bodies of that size for the keep-alive rows of the HTTP benchmark), a WebSocket upgrade is
accepted (first offered subprotocol echoed back) and every data frame comes back with the
same opcode and payload; an upgrade whose query has ``stream=<size>x<rate>`` is a steady
stream instead (a desktop's screen updates): ``rate`` binary frames of ``size`` bytes per
second, each starting with its scheduled send time (``!d``, seconds since the epoch) and
its number (``!Q``), whatever the client sends but a close. Unmasking
XORs whole payloads as big integers, so the echo costs microseconds per 64 KiB frame.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import re
import struct
import time

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def unmask(payload: bytes, mask: bytes) -> bytes:
    n = len(payload)
    if n == 0:
        return payload
    key = (mask * (n // 4 + 1))[:n]
    value = int.from_bytes(payload, "little") ^ int.from_bytes(key, "little")
    return value.to_bytes(n, "little")


def frame_head(first: int, length: int) -> bytes:
    if length < 126:
        return bytes((first, length))
    if length < 1 << 16:
        return struct.pack("!BBH", first, 126, length)
    return struct.pack("!BBQ", first, 127, length)


#: bodies by the last path segment; anything else answers a short text
BODIES = {"1k": bytes(1024), "256k": bytes(256 * 1024)}


async def read_head(reader: asyncio.StreamReader) -> tuple[str, dict[str, str]]:
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
    lines = head.split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return lines[0], headers


async def serve_http(reader, writer, request_line: str, headers) -> bool:
    """A GET with keep-alive (unlike busybox httpd): the bodies of the HTTP benchmark."""
    path = request_line.split(" ")[1] if request_line.count(" ") >= 2 else "/"
    body = BODIES.get(path.split("?")[0].rstrip("/").rsplit("/", 1)[-1])
    if body is None:
        body = b"remoteapp benchmark websocket echo\n"
    writer.write(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
        b"Content-Length: %d\r\n\r\n" % len(body)
    )
    writer.write(body)
    await writer.drain()
    return headers.get("connection", "").lower() != "close"


async def read_frame(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    b0, b1 = await reader.readexactly(2)
    length = b1 & 0x7F
    if length == 126:
        (length,) = struct.unpack("!H", await reader.readexactly(2))
    elif length == 127:
        (length,) = struct.unpack("!Q", await reader.readexactly(8))
    mask = await reader.readexactly(4) if b1 & 0x80 else b""
    payload = await reader.readexactly(length)
    if mask:
        payload = unmask(payload, mask)
    return b0, payload


async def stream(reader, writer, size: int, rate: float) -> None:
    """``rate`` frames of ``size`` bytes per second, on schedule (late ones go at once,
    stamped with the time they were due: the stamp measures every delay on the way)."""
    loop = asyncio.get_running_loop()
    closed = asyncio.Event()

    async def watch() -> None:  # a close from the client ends the stream
        try:
            while True:
                b0, payload = await read_frame(reader)
                if b0 & 0x0F == 0x8:
                    writer.write(frame_head(0x88, len(payload)) + payload)
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        closed.set()

    watcher = asyncio.ensure_future(watch())
    size = max(size, 16)
    head, pad = frame_head(0x82, size), bytes(size - 16)
    interval = 1.0 / rate
    wall, start = time.time(), loop.time()
    number = 0
    try:
        while not closed.is_set():
            wait = start + number * interval - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
                if closed.is_set():
                    break
            writer.write(head + struct.pack("!dQ", wall + number * interval, number) + pad)
            await writer.drain()
            number += 1
    finally:
        watcher.cancel()


async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while True:
        b0, payload = await read_frame(reader)
        opcode = b0 & 0x0F
        if opcode == 0x9:  # ping -> pong
            b0 = (b0 & 0xF0) | 0xA
        elif opcode == 0xA:  # unsolicited pong: ignore
            continue
        writer.write(frame_head(b0, len(payload)) + payload)
        await writer.drain()
        if opcode == 0x8:  # close: echoed, done
            return


async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            request_line, headers = await read_head(reader)
            if headers.get("upgrade", "").lower() != "websocket":
                if not await serve_http(reader, writer, request_line, headers):
                    return
                continue
            accept = base64.b64encode(
                hashlib.sha1(headers["sec-websocket-key"].encode() + _GUID).digest()
            )
            response = [
                b"HTTP/1.1 101 Switching Protocols",
                b"Upgrade: websocket",
                b"Connection: Upgrade",
                b"Sec-WebSocket-Accept: " + accept,
            ]
            protocols = headers.get("sec-websocket-protocol")
            if protocols:
                response.append(b"Sec-WebSocket-Protocol: " + protocols.split(",")[0].encode())
            writer.write(b"\r\n".join(response) + b"\r\n\r\n")
            await writer.drain()
            wanted = re.search(r"[?&]stream=(\d+)x([\d.]+)", request_line.split(" ")[1])
            if wanted:
                await stream(reader, writer, int(wanted[1]), float(wanted[2]))
            else:
                await echo(reader, writer)
            return
    except (asyncio.IncompleteReadError, ConnectionError, KeyError, ValueError):
        pass
    finally:
        writer.close()


async def main() -> None:
    port = int(os.environ.get("PORT", "8888"))
    server = await asyncio.start_server(handle, "0.0.0.0", port, limit=1 << 20)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
