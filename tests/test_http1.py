"""The one HTTP/1 response parser (remoteapp_server/proxy/http1.py, llhttp via httptools),
fed byte strings in every split, and the readiness probe that uses it against real sockets."""

from __future__ import annotations

import asyncio

import pytest

from remoteapp_server.core.containers.readiness import http_status
from remoteapp_server.proxy.http1 import ParseError, ResponseParser


def parse(raw: bytes, method: str = "GET", piece: int = 0) -> tuple[ResponseParser, bytes]:
    parser = ResponseParser(method)
    body = bytearray()
    pieces = [raw[i : i + piece] for i in range(0, len(raw), piece)] if piece else [raw]
    for data in pieces:
        for part in parser.feed(data):
            body += part
    return parser, bytes(body)


@pytest.mark.parametrize("piece", [0, 1, 7])
def test_a_content_length_body(piece):
    raw = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\nX-A: 1\r\n\r\n0123456789"
    parser, body = parse(raw, piece=piece)
    assert (parser.status, parser.reason, body) == (200, "OK", b"0123456789")
    assert parser.headers == [("Content-Length", "10"), ("X-A", "1")]
    assert parser.complete and parser.reusable


def test_body_pieces_after_the_head_are_the_objects_the_socket_gave():
    parser = ResponseParser()
    assert parser.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nab") == [b"ab"]
    piece = bytes(range(65, 70))
    assert parser.feed(piece)[0] is piece  # counted, not copied
    assert parser.feed(b"xyZZ") == [b"x"] and parser.complete
    assert parser.junk and not parser.reusable  # bytes after the answer


@pytest.mark.parametrize("piece", [0, 1, 3])
def test_a_chunked_body_with_extensions_and_trailers(piece):
    raw = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5;ext=1\r\nhello\r\n1\r\n \r\n6\r\nworld!\r\n0\r\nX-Trailer: t\r\n\r\n"
    )
    parser, body = parse(raw, piece=piece)
    assert body == b"hello world!" and parser.complete and parser.reusable
    assert ("X-Trailer", "t") not in parser.headers


def test_a_body_until_close():
    parser, body = parse(b"HTTP/1.0 200 OK\r\n\r\nsome")
    assert parser.feed(b" more") == [b" more"]
    assert not parser.complete and parser.feed_eof() and parser.complete
    assert body == b"some" and not parser.reusable


def test_a_truncated_body_is_not_complete():
    parser, _ = parse(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort")
    assert not parser.feed_eof()
    parser, _ = parse(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab")
    assert not parser.feed_eof()
    assert not ResponseParser().feed_eof()  # nothing at all


@pytest.mark.parametrize(
    ("raw", "method"),
    [
        (b"HTTP/1.1 200 OK\r\nContent-Length: 12345\r\n\r\n", "HEAD"),
        (b"HTTP/1.1 204 No Content\r\n\r\n", "GET"),
        (b"HTTP/1.1 304 Not Modified\r\nContent-Length: 50\r\n\r\n", "GET"),
    ],
)
def test_answers_without_a_body(raw, method):
    parser, body = parse(raw, method)
    assert parser.complete and body == b"" and parser.reusable
    parser.feed(b"unexpected")
    assert not parser.reusable


def test_informational_answers_are_skipped():
    raw = (
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\n"
        b"HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok"
    )
    for piece in (0, 1):
        parser, body = parse(raw, piece=piece)
        assert (parser.status, parser.headers, body) == (201, [("Content-Length", "2")], b"ok")


def test_a_101_hands_over_what_follows_the_head():
    raw = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
    parser, body = parse(raw + b"\x81\x02hi")
    assert (parser.status, parser.upgraded, body) == (101, b"\x81\x02hi", b"")
    assert not parser.reusable


def test_keep_alive_follows_version_and_connection():
    def reusable(head: bytes) -> bool:
        return parse(head + b"\r\nContent-Length: 0\r\n\r\n")[0].reusable

    assert reusable(b"HTTP/1.1 200 OK")
    assert not reusable(b"HTTP/1.1 200 OK\r\nConnection: close")
    assert not reusable(b"HTTP/1.0 200 OK")
    assert reusable(b"HTTP/1.0 200 OK\r\nConnection: keep-alive")


def test_leniencies():
    parser, body = parse(b"HTTP/1.1 200 OK\nContent-Length: 2\n\nok")  # bare LF
    assert (parser.status, body) == (200, b"ok")
    parser, body = parse(  # Transfer-Encoding wins over Content-Length
        b"HTTP/1.1 200 OK\r\nContent-Length: 999\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"3\r\nabc\r\n0\r\n\r\n"
    )
    assert body == b"abc" and parser.complete


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        (b"SSH-2.0-OpenSSH_9\r\n\r\n", "not an HTTP/1.x answer: b'SSH-2.0-OpenSSH_9\\r'"),
        (b"HTTP/2 200\r\n\r\n", "not an HTTP/1.x answer"),
        (b"HTTP/1.1 200 OK\r\nNo colon\r\n\r\n", "bad header line"),
        (b"HTTP/1.1 200 OK\r\nX: a\rB: c\r\n\r\n", "bad header line"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n", "Content-Length"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n", "Content-Length"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "bad chunk size"),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nabc\r\n",
            "longer than its size",
        ),
    ],
)
def test_broken_answers(raw, problem):
    with pytest.raises(ParseError, match=problem.replace("\\", "\\\\").replace("(", r"\(")):
        parse(raw)


def test_a_head_that_never_ends_is_refused():
    parser = ResponseParser(max_head=1000)
    parser.feed(b"HTTP/1.1 200 OK\r\n")
    with pytest.raises(ParseError, match="too long"):
        for _ in range(100):
            parser.feed(b"X-Pad: " + b"p" * 50 + b"\r\n")


# -- the readiness probe -----------------------------------------------------------------------


async def serve(answer: bytes, close_at_once: bool = False):
    """A server answering every connection with ``answer``; returns (url, server)."""

    async def handle(reader, writer):
        if not close_at_once:
            await reader.readuntil(b"\r\n\r\n")
            for start in range(0, len(answer), 5):  # in small pieces
                writer.write(answer[start : start + 5])
                await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/app/?x=1", server


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("answer", "status"),
    [
        (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 200),
        (b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 302 Found\r\nLocation: /\r\n\r\n", 302),
        (b"HTTP/1.0 503 Service Unavailable\r\n\r\nwait", 503),
        (b"SSH-2.0-OpenSSH_9\r\n", None),
        (b"HTTP/1.1 200 OK\r\nContent-Le", None),  # closed mid-head
        (b"", None),
    ],
)
async def test_http_status(answer, status):
    url, server = await serve(answer)
    async with server:
        assert await http_status(url) == status


@pytest.mark.asyncio
async def test_http_status_of_a_port_that_closes_at_once_or_is_closed():
    url, server = await serve(b"", close_at_once=True)  # as docker-proxy before the app listens
    async with server:
        assert await http_status(url) is None
    assert await http_status(url) is None  # nothing listens any more


@pytest.mark.asyncio
async def test_http_status_times_out():
    async def silent(reader, writer):
        await reader.read()  # until the probe gives up and closes

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    async with server:
        url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/"
        assert await http_status(url, timeout=0.2) is None
