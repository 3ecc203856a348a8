"""A minimal HTTP/1.1 client connection: one request in flight, keep-alive, no library.

::

    owner ──send(bytes, callback)──> Http1Connection ──transport.write──> server
                                          │ data_received
                                          v
                                    ResponseParser  (no IO: bytes in, Response out)
                                          │ complete / ProtocolError / EOF / expire()
    owner <──callback(status, body, error)┘   error is None, "protocol" or "timeout"

The callback runs synchronously inside ``data_received``, so an owner can write the
next request at once, without a task switch. Framing follows RFC 9112 6.3: no body for
HEAD, 1xx, 204 and 304; chunked wins over Content-Length; otherwise Content-Length;
otherwise the body runs until the server closes the connection.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from typing import NamedTuple, cast

__all__ = [
    "ConnectError",
    "Http1Connection",
    "ProtocolError",
    "Response",
    "ResponseCallback",
    "ResponseParser",
    "open_connection",
]

# (status, body or None, error class or None)
ResponseCallback = Callable[[int, bytes | None, str | None], None]

_MAX_HEAD = 64 * 1024
_MAX_CHUNK_LINE = 4096
_WHITESPACE = b" \t"

# Parser states.
_IDLE, _HEAD, _NO_BODY, _LENGTH, _CHUNK_SIZE, _CHUNK_DATA, _CHUNK_END, _TRAILERS, _UNTIL_EOF = (
    range(9)
)


class ProtocolError(Exception):
    """The server's bytes are not a valid HTTP/1.1 response."""


class ConnectError(Exception):
    """The TCP connection could not be opened in time."""


class Response(NamedTuple):
    status: int
    keep_alive: bool
    body: bytes | None


class ResponseParser:
    """Incremental response parser for one request at a time; call ``start`` per request."""

    __slots__ = (
        "_body",
        "_buf",
        "_head_request",
        "_keep_alive",
        "_last_head",
        "_last_parse",
        "_remaining",
        "_state",
        "_status",
        "_want_body",
    )

    def __init__(self) -> None:
        self._buf = bytearray()
        self._state = _IDLE
        self._remaining = 0
        self._status = 0
        self._keep_alive = True
        self._body: bytearray | None = None
        self._want_body = False
        self._head_request = False
        # The previous head and what it parsed to: a server repeats itself byte for byte
        # (the Date field changes once a second), and equal bytes parse the same.
        self._last_head = b""
        self._last_parse: tuple[int, bool, int | None, bool] = (0, False, None, False)

    def start(self, *, head_request: bool = False, want_body: bool = False) -> None:
        self._state = _HEAD
        self._head_request = head_request
        self._want_body = want_body
        self._body = bytearray() if want_body else None

    def feed(self, data: bytes) -> Response | None:
        """Consume bytes; return the response once complete, None while more are needed."""
        if self._state == _IDLE:
            if data:
                raise ProtocolError("data received with no request in flight")
            return None
        if self._state == _HEAD and not self._buf:
            # Fast path: a whole Content-Length response in one read, parsed without copies.
            end = data.find(b"\r\n\r\n")
            if end >= 0:
                self._frame(*self._parse_head_cached(data[:end]))
                if self._state == _LENGTH and len(data) - end - 4 == self._remaining:
                    self._state = _IDLE
                    body = data[end + 4 :] if self._body is not None else None
                    self._body = None
                    return Response(self._status, self._keep_alive, body)
                data = data[end + 4 :]
        self._buf += data
        while True:
            state = self._state
            if state == _HEAD:
                if not self._read_head():
                    return None
            elif state == _NO_BODY:
                return self._finish()
            elif state in (_LENGTH, _CHUNK_DATA):
                if not self._read_counted():
                    return None
                if state == _LENGTH:
                    return self._finish()
                self._state = _CHUNK_END
            elif state == _CHUNK_SIZE:
                if not self._read_chunk_size():
                    return None
            elif state == _CHUNK_END:
                if len(self._buf) < 2:
                    return None
                if self._buf[:2] != b"\r\n":
                    raise ProtocolError("chunk data not followed by CRLF")
                del self._buf[:2]
                self._state = _CHUNK_SIZE
            elif state == _TRAILERS:
                end = self._buf.find(b"\r\n")
                if end < 0:
                    self._need_more(_MAX_HEAD, "trailer line too long")
                    return None
                del self._buf[: end + 2]
                if end == 0:
                    return self._finish()
            else:  # _UNTIL_EOF
                if self._body is not None:
                    self._body += self._buf
                self._buf.clear()
                return None

    def feed_eof(self) -> Response:
        """The server closed the connection: complete a read-until-close body, else fail."""
        if self._state == _UNTIL_EOF:
            return self._finish()
        raise ProtocolError("connection closed before the response was complete")

    def _need_more(self, limit: int, message: str) -> None:
        if len(self._buf) > limit:
            raise ProtocolError(message)

    def _read_head(self) -> bool:
        end = self._buf.find(b"\r\n\r\n")
        if end < 0:
            self._need_more(_MAX_HEAD, "response head too large")
            return False
        head = bytes(self._buf[:end])
        del self._buf[: end + 4]
        self._frame(*self._parse_head_cached(head))
        return True

    def _frame(self, length: int | None, chunked: bool) -> None:
        """Choose how the body is delimited (RFC 9112 6.3)."""
        status = self._status
        if 100 <= status < 200:
            return  # interim response (RFC 9110 15.2): the final one follows
        if self._head_request or status in (204, 304):
            self._state = _NO_BODY
        elif chunked:
            self._state = _CHUNK_SIZE
        elif length is not None:
            self._state = _LENGTH
            self._remaining = length
        else:
            self._state = _UNTIL_EOF
            self._keep_alive = False

    def _parse_head_cached(self, head: bytes) -> tuple[int | None, bool]:
        if head == self._last_head:
            self._status, self._keep_alive, length, chunked = self._last_parse
            return length, chunked
        length, chunked = self._parse_head(head)
        self._last_head = head
        self._last_parse = (self._status, self._keep_alive, length, chunked)
        return length, chunked

    def _parse_head(self, head: bytes) -> tuple[int | None, bool]:
        """Status line and the framing fields; returns (Content-Length, chunked)."""
        line, _, fields = head.partition(b"\r\n")
        if not line.startswith(b"HTTP/1.") or line[7:8] not in (b"0", b"1") or line[8:9] != b" ":
            raise ProtocolError(f"bad status line {line[:40]!r}")
        code = line[9:12]
        if len(code) != 3 or not code.isdigit() or line[12:13] not in (b"", b" "):
            raise ProtocolError(f"bad status code in {line[:40]!r}")
        self._status = int(code)
        self._keep_alive = line[7:8] == b"1"
        length: int | None = None
        coding: bytes | None = None
        for field in fields.lower().split(b"\r\n") if fields else ():
            name, sep, value = field.partition(b":")
            if not sep or not name or name[-1] in _WHITESPACE or name[0] in _WHITESPACE:
                raise ProtocolError(f"bad header line {field[:40]!r}")
            if name == b"content-length":
                value = value.strip()
                if not value.isdigit() or (length is not None and int(value) != length):
                    raise ProtocolError(f"bad Content-Length {value[:20]!r}")
                length = int(value)
            elif name == b"transfer-encoding":
                coding = value.rstrip()
            elif name == b"connection":
                tokens = {token.strip() for token in value.split(b",")}
                if b"close" in tokens:
                    self._keep_alive = False
                elif b"keep-alive" in tokens:
                    self._keep_alive = True
        if coding is None:
            return length, False
        # RFC 9112 6.3: Transfer-Encoding overrides Content-Length; not chunked last: until close.
        return None, coding.endswith(b"chunked")

    def _read_counted(self) -> bool:
        buf = self._buf
        take = min(self._remaining, len(buf))
        if take:
            if self._body is not None:
                self._body += buf[:take]
            del buf[:take]
            self._remaining -= take
        return self._remaining == 0

    def _read_chunk_size(self) -> bool:
        end = self._buf.find(b"\r\n")
        if end < 0:
            self._need_more(_MAX_CHUNK_LINE, "chunk size line too long")
            return False
        size_text = bytes(self._buf[:end]).partition(b";")[0].strip()
        del self._buf[: end + 2]
        try:
            size = int(size_text, 16)
        except ValueError:
            raise ProtocolError(f"bad chunk size {size_text[:20]!r}") from None
        if size < 0:
            raise ProtocolError("negative chunk size")
        if size == 0:
            self._state = _TRAILERS
        else:
            self._state = _CHUNK_DATA
            self._remaining = size
        return True

    def _finish(self) -> Response:
        if self._buf:
            raise ProtocolError("bytes after the end of the response")
        self._state = _IDLE
        body = None if self._body is None else bytes(self._body)
        self._body = None
        return Response(self._status, self._keep_alive, body)


class Http1Connection(asyncio.Protocol):
    """One keep-alive client connection; ``closed`` turns true once it cannot be reused."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.deadline_ns = 0
        self._parser = ResponseParser()
        self._callback: ResponseCallback | None = None

    @property
    def busy(self) -> bool:
        return self._callback is not None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is no subclass
        sock = self.transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def send(
        self,
        data: bytes,
        callback: ResponseCallback,
        deadline_ns: int,
        *,
        head_request: bool = False,
        want_body: bool = False,
    ) -> None:
        """Write one request; ``callback`` runs once with its outcome."""
        assert self.transport is not None and not self.closed and self._callback is None
        self._callback = callback
        self.deadline_ns = deadline_ns
        self._parser.start(head_request=head_request, want_body=want_body)
        self.transport.write(data)

    def data_received(self, data: bytes) -> None:
        try:
            response = self._parser.feed(data)
        except ProtocolError:
            self._fail("protocol")
            return
        if response is None:
            return
        callback = self._callback
        self._callback = None
        if not response.keep_alive:
            self.close()
        if callback is not None:
            callback(response.status, response.body, None)

    def eof_received(self) -> bool | None:
        return None  # let the transport close; connection_lost settles the request

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        callback = self._callback
        if callback is None:
            return
        self._callback = None
        try:
            response = self._parser.feed_eof()
        except ProtocolError:
            callback(0, None, "protocol")
            return
        callback(response.status, response.body, None)

    def expire(self) -> None:
        """The request in flight ran out of time: abort the connection, report a timeout."""
        self._fail("timeout")

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    def _fail(self, error: str) -> None:
        callback = self._callback
        self._callback = None
        self.closed = True
        if self.transport is not None:
            self.transport.abort()
        if callback is not None:
            callback(0, None, error)


async def open_connection(host: str, port: int, timeout: float) -> Http1Connection:
    """Connect within ``timeout`` seconds or raise ConnectError."""
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(timeout):
            _, protocol = await loop.create_connection(Http1Connection, host, port)
    except (OSError, TimeoutError) as exc:
        raise ConnectError(f"{host}:{port}: {exc!r}") from exc
    return protocol
