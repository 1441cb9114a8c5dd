"""The proxy's own HTTP/1.1 client (remoteapp_server/proxy/upstream.py) against scripted
upstreams on 127.0.0.1 that answer with exactly the bytes a test writes: connection-closing
servers (as busybox httpd), bodies until close, chunked bodies in tiny pieces, HEAD/204/304,
1xx answers, broken answers, stale keep-alive connections, the pool's limits.

The first part drives the client directly; the second goes through a real Jupyter server
with the proxy route (what a browser sees: status, headers, body, 502 JSON).
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Awaitable, Callable
from contextlib import closing

import aiohttp
import pytest
import pytest_asyncio
from yarl import URL

from remoteapp_server.core.errors import NotFound
from remoteapp_server.proxy.personal import proxy_handlers
from remoteapp_server.proxy.upstream import ProxyClient, UpstreamClient, UpstreamError

#: writes the answer to a request (method, its number on the connection); True: keep it open
Answer = Callable[[asyncio.StreamWriter, str, int], Awaitable[bool]]


def fixed(raw: bytes, keep: bool = True, piece: int = 0) -> Answer:
    """Answer with ``raw`` (in ``piece``-byte writes, if given); keep the connection or not."""

    async def answer(writer: asyncio.StreamWriter, method: str, nth: int) -> bool:
        if piece:
            for start in range(0, len(raw), piece):
                writer.write(raw[start : start + piece])
                await writer.drain()
                await asyncio.sleep(0)
        else:
            writer.write(raw)
        return keep

    return answer


class Scripted:
    """An upstream whose answers are scripted per request path (the last path segment)."""

    def __init__(self) -> None:
        self.answers: dict[str, Answer] = {}
        self.connections = 0
        self.open = 0  # connections open right now
        self.most_open = 0
        self.closed_by_peer = 0  # connections the client closed (EOF while waiting)
        self.requests: list[tuple[str, str, list[tuple[str, str]], bytes]] = []
        self.port = 0
        self._server: asyncio.AbstractServer | None = None

    async def start(self) -> Scripted:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.open += 1
        self.most_open = max(self.most_open, self.open)
        try:
            for nth in range(1_000_000):
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except asyncio.IncompleteReadError:
                    self.closed_by_peer += 1
                    return
                method, target, _ = head.split(b"\r\n", 1)[0].decode().split(" ")
                headers = []
                for line in head.decode("latin-1").split("\r\n")[1:]:
                    if line:
                        name, _, value = line.partition(":")
                        headers.append((name, value.strip()))
                lower = {name.lower(): value for name, value in headers}
                body = b""
                if "content-length" in lower:
                    body = await reader.readexactly(int(lower["content-length"]))
                elif lower.get("transfer-encoding") == "chunked":
                    while size := int((await reader.readline()).split(b";")[0], 16):
                        body += (await reader.readexactly(size + 2))[:-2]
                    await reader.readline()
                self.requests.append((method, target, headers, body))
                answer = self.answers[target.split("?")[0].rsplit("/", 1)[-1]]
                keep = await answer(writer, method, nth)
                await writer.drain()
                if not keep:
                    return
        except ConnectionError:
            pass
        finally:
            self.open -= 1
            writer.close()


@pytest_asyncio.fixture
async def scripted():
    upstream = await Scripted().start()
    yield upstream
    await upstream.stop()


@pytest_asyncio.fixture
async def client():
    upstream_client = UpstreamClient(connect_timeout=1.0)
    yield upstream_client
    await upstream_client.close()


async def get(client: UpstreamClient, upstream: Scripted, path: str, method: str = "GET", **kw):
    """One exchange: (status, headers, body); the connection goes back to the pool."""
    exchange = client.exchange("127.0.0.1", upstream.port)
    await exchange.send(method, path, kw.pop("headers", [("Host", "app")]), **kw)
    body = bytearray(exchange.read_now())
    while not exchange.done:
        body += await exchange.read()
    exchange.release()
    return exchange.status, exchange.headers, bytes(body)


def response(body: bytes, *headers: str, status: str = "200 OK", version: str = "1.1") -> bytes:
    lines = [f"HTTP/{version} {status}", *headers, "", ""]
    return "\r\n".join(lines).encode() + body


# -- the client ----------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_keep_alive_answers_share_one_connection(client, scripted):
    scripted.answers["a"] = fixed(response(b"x" * 1000, "Content-Length: 1000"))
    for _ in range(5):
        assert await get(client, scripted, "/a") == (200, [("Content-Length", "1000")], b"x" * 1000)
    assert scripted.connections == 1


@pytest.mark.asyncio
async def test_a_host_name_is_resolved(client, scripted):
    # localhost may also be ::1, where nothing listens: the next address is tried
    scripted.answers["a"] = fixed(response(b"named", "Content-Length: 5"))
    exchange = client.exchange("localhost", scripted.port)
    await exchange.send("GET", "/a", [])
    body = exchange.read_now()
    while not exchange.done:
        body += await exchange.read()
    assert (exchange.status, body) == (200, b"named")
    exchange.release()
    assert scripted.requests[0][2] == [("Host", f"localhost:{scripted.port}")]


@pytest.mark.asyncio
async def test_an_upstream_closing_every_connection(client, scripted):
    """busybox httpd: Connection: close after every answer, or HTTP/1.0 bodies until close."""
    scripted.answers["close"] = fixed(
        response(b"1" * 1024, "Connection: close", "Content-Length: 1024"), keep=False
    )
    scripted.answers["until-close"] = fixed(response(b"2" * 5000, version="1.0"), keep=False)
    for n in range(10):
        name = ("close", "until-close")[n % 2]
        status, _, body = await get(client, scripted, f"/{name}")
        assert (status, body) == (200, (b"1" * 1024, b"2" * 5000)[n % 2])
    assert scripted.connections == 10
    await asyncio.sleep(0.05)
    assert scripted.open == 0  # nothing kept that the upstream closed


@pytest.mark.asyncio
async def test_a_chunked_body_in_one_byte_pieces(client, scripted):
    body = b"".join(
        b"%x;ext=1\r\n%s\r\n" % (len(part), part) for part in (b"hello ", b"chunked " * 50, b"!")
    )
    scripted.answers["chunked"] = fixed(
        response(body + b"0\r\nX-Trailer: t\r\n\r\n", "Transfer-Encoding: chunked"), piece=1
    )
    scripted.answers["both"] = fixed(  # Transfer-Encoding wins over Content-Length
        response(b"3\r\nabc\r\n0\r\n\r\n", "Content-Length: 999", "Transfer-Encoding: chunked")
    )
    status, headers, received = await get(client, scripted, "/chunked")
    assert received == b"hello " + b"chunked " * 50 + b"!"
    assert ("Transfer-Encoding", "chunked") in headers
    assert (await get(client, scripted, "/both"))[2] == b"abc"
    assert scripted.connections == 1  # the end of a chunked body is known: kept alive


@pytest.mark.asyncio
async def test_answers_without_a_body(client, scripted):
    scripted.answers["file"] = fixed(response(b"", "Content-Length: 12345"))
    scripted.answers["no-content"] = fixed(response(b"", status="204 No Content"))
    scripted.answers["not-modified"] = fixed(
        response(b"", "ETag: v1", "Content-Length: 50", status="304 Not Modified")
    )
    assert await get(client, scripted, "/file", "HEAD") == (
        200,
        [("Content-Length", "12345")],
        b"",
    )
    assert (await get(client, scripted, "/no-content"))[::2] == (204, b"")
    assert (await get(client, scripted, "/not-modified"))[::2] == (304, b"")
    assert scripted.connections == 1  # and the connection carries the next request


@pytest.mark.asyncio
async def test_informational_answers_are_skipped(client, scripted):
    scripted.answers["hints"] = fixed(
        response(b"", "Link: </style.css>; rel=preload", status="103 Early Hints")
        + response(b"", status="100 Continue")
        + response(b"final", "Content-Length: 5")
    )
    assert (await get(client, scripted, "/hints"))[::2] == (200, b"final")


@pytest.mark.asyncio
async def test_the_request_goes_out_as_written(client, scripted):
    scripted.answers["echo"] = fixed(response(b"", "Content-Length: 0"))
    headers = [("X-First", "1"), ("x-lower", "a b"), ("X-First", "2"), ("Host", "example:1")]
    await get(client, scripted, "/a/%2Fb/../echo?q=%20&q=2", headers=headers)
    await get(client, scripted, "/echo", headers=[("X-No-Host", "1")])
    (method, target, sent, _), (_, _, without_host, _) = scripted.requests
    assert (method, target, sent) == ("GET", "/a/%2Fb/../echo?q=%20&q=2", headers)
    assert without_host == [("X-No-Host", "1"), ("Host", f"127.0.0.1:{scripted.port}")]


@pytest.mark.asyncio
async def test_answer_headers_keep_order_case_and_duplicates(client, scripted):
    scripted.answers["cookies"] = fixed(
        response(
            b"ok",
            "Set-Cookie: a=1",
            "x-odd-Case:  spaced\tout  ",
            "Set-Cookie: b=2",
            "Content-Length: 2",
        )
    )
    _, headers, _ = await get(client, scripted, "/cookies")
    assert headers == [
        ("Set-Cookie", "a=1"),
        ("x-odd-Case", "spaced out"),
        ("Set-Cookie", "b=2"),
        ("Content-Length", "2"),
    ]


@pytest.mark.asyncio
async def test_uploads_stream_with_and_without_a_length(client, scripted):
    scripted.answers["upload"] = fixed(response(b"", "Content-Length: 0"))

    async def produce():
        for n in range(20):
            yield bytes([n]) * 50_000

    expected = b"".join(bytes([n]) * 50_000 for n in range(20))
    headers = [("Host", "app"), ("Content-Length", str(len(expected)))]
    await get(client, scripted, "/upload", "PUT", headers=headers, body=produce())
    await get(client, scripted, "/upload", "POST", body=produce(), chunked=True)
    (_, _, with_length, first), (_, _, chunked, second) = scripted.requests
    assert first == second == expected
    assert ("Transfer-Encoding", "chunked") in chunked and (
        "Transfer-Encoding",
        "chunked",
    ) not in with_length


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        (b"SSH-2.0-OpenSSH\r\n\r\n", "not an HTTP/1.x answer"),
        (b"HTTP/1.1 200 OK\r\nNo colon here\r\n\r\n", "bad header line"),
        (b"HTTP/1.1 200 OK\r\n Folded: x\r\n\r\n", "bad header line"),
        (b"HTTP/1.1 200 OK\r\nX-Split: a\rInjected: b\r\n\r\n", "bad header line"),
        (b"HTTP/1.1 200 OK\r\nX-Nul: a\x00b\r\n\r\n", "bad header line"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", "Content-Length"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\n", "Content-Length"),
        (b"", "without an answer"),
        (b"HTTP/1.1 200 OK\r\nContent-Le", "without an answer"),
    ],
)
@pytest.mark.asyncio
async def test_broken_answer_heads_are_errors(client, scripted, raw, problem):
    scripted.answers["bad"] = fixed(raw, keep=False)
    with pytest.raises(UpstreamError, match=problem):
        await get(client, scripted, "/bad")


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        (response(b"short", "Content-Length: 100"), "before the end of the body"),
        (response(b"5\r\nabc", "Transfer-Encoding: chunked"), "before the end of the body"),
        (response(b"0x5\r\nabcde\r\n0\r\n\r\n", "Transfer-Encoding: chunked"), "bad chunk size"),
        (
            response(b"2\r\nabcde\r\n0\r\n\r\n", "Transfer-Encoding: chunked"),
            "longer than its size",
        ),
    ],
)
@pytest.mark.asyncio
async def test_broken_bodies_are_errors(client, scripted, raw, problem):
    scripted.answers["bad"] = fixed(raw, keep=False)
    with pytest.raises(UpstreamError, match=problem):
        await get(client, scripted, "/bad")


@pytest.mark.asyncio
async def test_a_pooled_connection_the_upstream_drops_is_retried_once(client, scripted):
    async def idle_timeout(writer, method, nth):
        # the first request of a connection is answered with keep-alive; when the next one
        # arrives the upstream's idle timeout has just closed the connection: no answer
        if nth == 0:
            writer.write(response(b"ok", "Content-Length: 2"))
            return True
        return False

    scripted.answers["a"] = idle_timeout
    for _ in range(3):
        assert (await get(client, scripted, "/a"))[::2] == (200, b"ok")
    # one retry per stale connection: 1 + 2 x (the dropped one + its replacement)
    assert scripted.connections == 3 and len(scripted.requests) == 5
    # a POST may have been acted upon: never sent twice, its failure is the answer
    with pytest.raises(UpstreamError, match="without an answer"):
        await get(client, scripted, "/a", "POST")

    # nor an upload, whose body cannot be sent again
    async def one_chunk():
        yield b"data"

    await get(client, scripted, "/a")
    with pytest.raises(UpstreamError, match="without an answer"):
        await get(client, scripted, "/a", "PUT", body=one_chunk(), chunked=True)


@pytest.mark.asyncio
async def test_idle_connections_close_after_the_keepalive_timeout(scripted):
    scripted.answers["a"] = fixed(response(b"a", "Content-Length: 1"))
    client = UpstreamClient(keepalive_timeout=0.2)
    await asyncio.gather(*(get(client, scripted, "/a") for _ in range(3)))
    assert scripted.open == 3
    await asyncio.sleep(0.5)
    assert scripted.open == 0 and scripted.closed_by_peer == 3
    await get(client, scripted, "/a")
    await client.close()
    await asyncio.sleep(0.05)
    assert scripted.open == 0


@pytest.mark.asyncio
async def test_connections_per_host_are_limited(scripted):
    async def slow(writer, method, nth):
        await asyncio.sleep(0.05)
        writer.write(response(b"s", "Content-Length: 1"))
        return True

    scripted.answers["slow"] = slow
    client = UpstreamClient(limit_per_host=2)
    results = await asyncio.gather(*(get(client, scripted, "/slow") for _ in range(6)))
    assert [r[2] for r in results] == [b"s"] * 6
    assert scripted.most_open == 2 and scripted.connections == 2
    await client.close()


@pytest.mark.asyncio
async def test_new_connections_are_paced(scripted):
    """No burst of new connections beyond ``pace`` waiting for their answers: a forking
    server with a short listen backlog (busybox httpd) would drop some for a second."""
    busy = most_busy = 0

    async def slow(writer, method, nth):
        nonlocal busy, most_busy
        busy += 1
        most_busy = max(most_busy, busy)
        await asyncio.sleep(0.03)
        writer.write(response(b"s", "Connection: close", "Content-Length: 1"))
        busy -= 1
        return False

    scripted.answers["slow"] = slow
    client = UpstreamClient(pace=4, pace_wait=5.0)
    started = time.monotonic()
    results = await asyncio.gather(*(get(client, scripted, "/slow") for _ in range(12)))
    assert [r[2] for r in results] == [b"s"] * 12
    assert most_busy == 4 and scripted.connections == 12
    assert time.monotonic() - started < 2  # three rounds of 30 ms, not the 5 s wait
    await client.close()


@pytest.mark.asyncio
async def test_pacing_holds_a_request_back_at_most_pace_wait(scripted):
    """Long polls (answers that take minutes) do not block new requests."""
    release = asyncio.Event()

    async def long_poll(writer, method, nth):
        await release.wait()
        writer.write(response(b"p", "Content-Length: 1"))
        return True

    scripted.answers["poll"] = long_poll
    client = UpstreamClient(pace=2, pace_wait=0.05)
    polls = [asyncio.ensure_future(get(client, scripted, "/poll")) for _ in range(6)]
    for _ in range(100):
        if len(scripted.requests) == 6:
            break
        await asyncio.sleep(0.01)
    assert len(scripted.requests) == 6  # within about 4 x 50 ms
    release.set()
    assert [r[2] for r in await asyncio.gather(*polls)] == [b"p"] * 6
    await client.close()


@pytest.mark.asyncio
async def test_closing_an_exchange_stops_a_download(client, scripted):
    stopped = asyncio.Event()

    async def endless(writer, method, nth):
        writer.write(response(b"", "Content-Length: 1000000000000"))
        try:
            while True:
                writer.write(b"z" * 65536)
                await writer.drain()
        except ConnectionError:
            stopped.set()
        return False

    scripted.answers["endless"] = endless
    exchange = client.exchange("127.0.0.1", scripted.port)
    await exchange.send("GET", "/endless", [])
    received = 0
    while received < 5_000_000:
        received += len(await exchange.read())
    exchange.close()
    await asyncio.wait_for(stopped.wait(), 5)


@pytest.mark.asyncio
async def test_a_slow_reader_pauses_the_upstream(client, scripted):
    """Flat memory: the client buffers about 1 MiB, not the whole download."""
    sent = 0

    async def big(writer, method, nth):
        nonlocal sent
        writer.write(response(b"", f"Content-Length: {64 << 20}"))
        for _ in range(64 * 16):
            writer.write(b"b" * 65536)
            await writer.drain()
            sent += 65536
        return True

    scripted.answers["big"] = big
    exchange = client.exchange("127.0.0.1", scripted.port)
    await exchange.send("GET", "/big", [])
    await asyncio.sleep(0.3)  # not reading
    assert sent < 16 << 20  # client buffer + socket buffers, far from 64 MiB
    received = 0
    while not exchange.done:
        received += len(await exchange.read())
    assert received == 64 << 20
    exchange.release()


@pytest.mark.asyncio
async def test_unreachable_and_unresponsive_upstreams(client):
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        free = sock.getsockname()[1]
    with pytest.raises(ConnectionRefusedError):
        await client.exchange("127.0.0.1", free).send("GET", "/", [])
    listener = socket.socket()  # a full listen queue: connecting hangs
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    fillers = []
    for _ in range(4):
        filler = socket.socket()
        filler.setblocking(False)
        filler.connect_ex(listener.getsockname())
        fillers.append(filler)
    client.connect_timeout = 0.3
    started = time.monotonic()
    try:
        with pytest.raises(TimeoutError):
            await client.exchange(*listener.getsockname()).send("GET", "/", [])
    finally:
        for sock in [*fillers, listener]:
            sock.close()
    assert time.monotonic() - started < 2


# -- through the proxy ---------------------------------------------------------------------------


class AnyUser:
    def __init__(self, target: str):
        self.target = target

    async def resolve(self, user, url_id: str) -> str:
        if url_id != "app":
            raise NotFound(url_id)
        return self.target

    def forget(self, url_id: str) -> None:
        pass


@pytest.fixture
def proxied(jp_serverapp, jp_base_url, http_server_client, jp_asyncio_loop):
    """(the proxy URL of a path of the scripted upstream, the upstream, a client session)"""
    upstream = jp_asyncio_loop.run_until_complete(Scripted().start())
    client = ProxyClient(connect_timeout=1.0)
    jp_serverapp.web_app.add_handlers(
        ".*$", proxy_handlers(jp_base_url, AnyUser(upstream.url), client)
    )

    async def session():
        return aiohttp.ClientSession(auto_decompress=False)

    http = jp_asyncio_loop.run_until_complete(session())
    url = http_server_client.get_url(jp_base_url) + "remoteapp/containers/app/"

    def at(path: str) -> URL:
        return URL(url + path, encoded=True)  # as written: jp_base_url has a %40

    yield at, upstream, http
    jp_asyncio_loop.run_until_complete(http.close())
    jp_asyncio_loop.run_until_complete(client.close())
    jp_asyncio_loop.run_until_complete(upstream.stop())


async def test_proxied_answers_of_a_connection_closing_upstream(proxied, jp_auth_header):
    at, upstream, http = proxied
    upstream.answers["close"] = fixed(
        response(b"c" * 1024, "Connection: close", "Content-Length: 1024", "X-App: 1"), keep=False
    )
    upstream.answers["until-close"] = fixed(response(b"u" * 300_000, version="1.0"), keep=False)
    upstream.answers["chunked"] = fixed(
        response(b"4\r\nabcd\r\n3\r\nefg\r\n0\r\n\r\n", "Transfer-Encoding: chunked"), piece=3
    )
    for _ in range(12):
        async with http.get(at("close"), headers=jp_auth_header) as answer:
            assert (answer.status, await answer.read()) == (200, b"c" * 1024)
            assert answer.headers["X-App"] == "1" and answer.headers["Content-Length"] == "1024"
            assert "close" not in answer.headers.get("Connection", "")  # the client's stays open
    async with http.get(at("until-close"), headers=jp_auth_header) as answer:
        assert (answer.status, await answer.read()) == (200, b"u" * 300_000)
    async with http.get(at("chunked"), headers=jp_auth_header) as answer:
        assert (answer.status, await answer.read()) == (200, b"abcdefg")
    async with http.head(at("close"), headers=jp_auth_header) as answer:
        assert answer.status == 200 and answer.headers["Content-Length"] == "1024"
        assert await answer.read() == b""
    # a new connection for each answer that closed it; the chunked one was kept for the HEAD
    assert upstream.connections == 14


async def test_proxied_broken_answers(proxied, jp_auth_header):
    at, upstream, http = proxied
    upstream.answers["garbage"] = fixed(b"SSH-2.0-OpenSSH_9\r\n\r\n", keep=False)
    upstream.answers["hangs-up"] = fixed(b"", keep=False)
    upstream.answers["truncated"] = fixed(
        response(b"x" * 100, "Content-Length: 100000"), keep=False
    )
    upstream.answers["fine"] = fixed(response(b"fine", "Content-Length: 4"))
    for name in ("garbage", "hangs-up"):
        async with http.get(at(name), headers=jp_auth_header) as answer:
            assert answer.status == 502
            reply = await answer.json()
            assert reply["status"] == 502 and "answered badly" in reply["message"]
    with pytest.raises(aiohttp.ClientPayloadError):  # not a complete-looking short body
        async with http.get(at("truncated"), headers=jp_auth_header) as answer:
            assert answer.status == 200
            await answer.read()
    async with http.get(at("fine"), headers=jp_auth_header) as answer:
        assert (answer.status, await answer.read()) == (200, b"fine")


async def test_proxied_chunked_upload_reaches_the_upstream(proxied, jp_auth_header):
    at, upstream, http = proxied
    upstream.answers["upload"] = fixed(response(b"ok", "Content-Length: 2"))

    async def produce():
        for n in range(8):
            yield bytes([65 + n]) * 100_000

    async with http.post(
        at("upload?keep=1&x=%2F"), data=produce(), headers=jp_auth_header
    ) as answer:
        assert (answer.status, await answer.read()) == (200, b"ok")
    method, target, headers, body = upstream.requests[-1]
    assert (method, target.rsplit("/", 1)[-1]) == ("POST", "upload?keep=1&x=%2F")
    assert body == b"".join(bytes([65 + n]) * 100_000 for n in range(8))
    assert ("Transfer-Encoding", "chunked") in headers
    assert not [v for n, v in headers if n.lower() == "authorization"]
