"""HTTP/1.x answers, parsed by llhttp (Node.js's HTTP parser) through httptools.

The one response parser of the code base: the proxy's upstream client (:mod:`.upstream`), the
answer to a WebSocket upgrade (:mod:`.handler`) and the readiness probe
(``core/containers/readiness.py``) all read answers with :class:`ResponseParser`. No tornado
here: the core imports this module.

llhttp parses the status line, the headers and chunked bodies, and checks the framing
(Content-Length syntax and duplicates, chunk sizes, CRLFs). A body with a Content-Length, or
one that lasts until the upstream closes, llhttp would only count while httptools copies each
piece into a new bytes object: after the head such bytes are counted here and handed on as the
very objects the socket produced (a download moves from socket to socket without a copy).

What llhttp cannot know is said here: an answer to HEAD has no body whatever its headers say
(httptools has no "skip body" hook, so its head ends the answer), and an answer that lasts
until the upstream closes ends at :meth:`ResponseParser.feed_eof` (httptools has no
``llhttp_finish``).

Leniencies (``set_dangerous_leniencies``): a bare LF ends a line (RFC 9112 §2.2 allows it;
older servers send it), and Transfer-Encoding overrides Content-Length when both are sent
(RFC 9112 §6.3; the relay then drops the Content-Length). Neither opens request smuggling
here: the proxy is the only reader of these bytes and writes its own head to the client.
"""

from __future__ import annotations

import httptools

MAX_HEAD = 256 * 1024  # bytes of an answer's head (status line and headers)
_COUNT = -2  # _remaining: counting body bytes until the upstream closes


class ParseError(ValueError):
    """The bytes are not an HTTP/1.x answer, or its framing is broken."""


class ResponseParser:
    """The answer to one request, fed with what the connection delivers.

    ``feed(data)`` returns the body's pieces found in ``data``; ``head`` is set once the
    final head is in (informational 1xx answers are skipped, a 101 is final), ``complete``
    once the whole answer is. After a 101 with ``Upgrade``, ``upgraded`` holds the bytes
    that followed the head (the other protocol's). ``reusable``: the connection can carry
    another request (keep-alive, and nothing arrived after the answer).
    """

    __slots__ = (
        "_first",
        "_head_size",
        "_headers",
        "_informational",
        "_no_body",
        "_parser",
        "_pieces",
        "_reason",
        "_remaining",
        "complete",
        "headers",
        "http11",
        "junk",
        "keep_alive",
        "max_head",
        "reason",
        "status",
        "upgraded",
    )

    def __init__(self, method: str = "GET", *, max_head: int = MAX_HEAD) -> None:
        self._parser: httptools.HttpResponseParser | None = httptools.HttpResponseParser(self)
        self._parser.set_dangerous_leniencies(
            lenient_chunked_length=True, lenient_optional_cr_before_lf=True
        )
        self._no_body = method == "HEAD"
        self.max_head = max_head
        self.status = 0
        self.reason = ""
        self.http11 = True
        self.headers: list[tuple[str, str]] = []
        self.keep_alive = False
        self.complete = False
        self.junk = False  # bytes after the end of the answer
        self.upgraded: bytes | None = None
        self._headers: list[tuple[str, str]] = []
        self._reason = b""
        self._informational = False
        self._remaining: int | None = None  # body bytes still to count; None: llhttp parses
        self._pieces: list[bytes] = []
        self._head_size = 0
        self._first = b""

    @property
    def head(self) -> bool:
        """Whether the final head is in."""
        return self.status != 0

    @property
    def reusable(self) -> bool:
        return self.complete and self.keep_alive and not self.junk and self.upgraded is None

    def feed(self, data: bytes) -> list[bytes]:
        """The body pieces in ``data`` (often ``[data]`` itself). Raises :class:`ParseError`."""
        if self.complete:
            if data:
                self.junk = True
            return []
        remaining = self._remaining
        if remaining is not None and self._parser is None:  # counting, past the head
            if remaining == _COUNT or len(data) < remaining:
                if remaining != _COUNT:
                    self._remaining = remaining - len(data)
                return [data]
            self._remaining = 0
            self.complete = True
            if len(data) > remaining:
                self.junk = True
                data = data[:remaining]
            return [data] if data else []
        parser = self._parser
        assert parser is not None
        pieces = self._pieces = []
        if not self.status:
            if not self._first:
                self._first = data[:80]
            self._head_size += len(data)
        try:
            parser.feed_data(data)
        except httptools.HttpParserUpgrade as upgrade:
            self.upgraded = data[upgrade.args[0] :]
            self.complete = True
        except httptools.HttpParserError as exc:
            if not self.complete:  # else: what came after the answer is not for us
                self._parser = None
                raise self._error(parser, exc) from None
            self.junk = True
        if not self.status and self._head_size > self.max_head:
            self._parser = None
            raise ParseError("the answer's head is too long")
        if self.complete or (self.status and self._remaining is not None):
            self._parser = None  # llhttp is done (and the reference cycle broken)
        return pieces

    def feed_eof(self) -> bool:
        """The upstream closed: whether that completed the answer (a body until close)."""
        if not self.complete and self.status and self._remaining == _COUNT:
            self.complete = True
        self._parser = None
        return self.complete

    def _error(self, parser: httptools.HttpResponseParser, exc: Exception) -> ParseError:
        reason = str(exc)
        if self.status:  # in a chunked body
            if "chunk size" in reason:
                return ParseError(f"bad chunk size ({reason})")
            if "after chunk data" in reason:
                return ParseError(f"a chunk is longer than its size ({reason})")
            return ParseError(f"bad chunked body ({reason})")
        if not parser.get_status_code():
            line = self._first.split(b"\n", 1)[0]
            return ParseError(f"not an HTTP/1.x answer: {line!r} ({reason})")
        if "Content-Length" in reason:
            return ParseError(f"bad Content-Length ({reason})")
        return ParseError(f"bad header line ({reason})")

    # -- httptools callbacks ----------------------------------------------------------------

    def on_status(self, reason: bytes) -> None:
        self._reason += reason

    def on_header(self, name: bytes, value: bytes) -> None:
        if self.status:  # a trailer of a chunked body: dropped
            return
        text = value.decode("latin-1").strip(" \t")
        if "\t" in text:
            text = text.replace("\t", " ")
        self._headers.append((name.decode("latin-1"), text))

    def on_headers_complete(self) -> None:
        if self.complete:  # a second answer: not ours
            self.junk = True
            return
        parser = self._parser
        assert parser is not None
        status = parser.get_status_code()
        if 100 <= status < 200 and status != 101:  # 100 Continue, 103 Early Hints: skipped
            self._informational = True
            self._headers = []
            self._reason = b""
            return
        self.status, self.reason = status, self._reason.decode("latin-1")
        self.headers = self._headers
        self.http11 = parser.get_http_version() == "1.1"
        self.keep_alive = parser.should_keep_alive()
        if self._no_body or status in (101, 204, 304):
            self._remaining = 0
            self.complete = True
            return
        encoding = length = None
        for name, value in self.headers:
            key = name.lower()
            if key == "transfer-encoding":
                encoding = value
            elif key == "content-length":
                length = value
        if encoding is not None:
            if encoding.rsplit(",", 1)[-1].strip().lower() != "chunked":
                self._remaining = _COUNT  # another coding: the body lasts until close
        elif length is not None:
            self._remaining = int(length)  # llhttp checked it: digits, no duplicates
        else:
            self._remaining = _COUNT

    def on_body(self, body: bytes) -> None:
        if self.complete:  # after an answer that has no body (HEAD): not ours
            self.junk = True
            return
        remaining = self._remaining
        if remaining is not None and remaining > 0:
            self._remaining = remaining - len(body)
        self._pieces.append(body)

    def on_message_complete(self) -> None:
        if self._informational:
            self._informational = False
            return
        if self.complete:  # after HEAD: llhttp saw a body
            return
        self.complete = True
        if self._remaining is not None:
            self._remaining = 0
