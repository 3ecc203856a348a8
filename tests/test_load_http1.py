"""The load generator's response parser and request encoding, without IO."""

from __future__ import annotations

import pytest

from natsgate.load.http1 import ProtocolError, Response, ResponseParser
from natsgate.load.plan import LoadPlan, RequestSpec, prepare_request, split_plan, split_target


def parse(data: bytes, *, chunks: int = 1, want_body: bool = True, head: bool = False) -> Response:
    """Feed ``data`` in ``chunks`` pieces (1 = at once, 0 = byte by byte)."""
    parser = ResponseParser()
    parser.start(want_body=want_body, head_request=head)
    step = 1 if chunks == 0 else max(1, -(-len(data) // chunks))
    response = None
    for offset in range(0, len(data), step):
        assert response is None, "response completed before all bytes were fed"
        response = parser.feed(data[offset : offset + step])
    assert response is not None
    return response


LENGTH = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: b\r\n\r\nhello"
CHUNKED = (
    b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nTrailer: x\r\n\r\n"
)


@pytest.mark.parametrize("chunks", [1, 2, 3, 0])
def test_content_length_in_any_split(chunks: int) -> None:
    assert parse(LENGTH, chunks=chunks) == Response(200, True, b"hello")


@pytest.mark.parametrize("chunks", [1, 2, 5, 0])
def test_chunked_in_any_split(chunks: int) -> None:
    assert parse(CHUNKED, chunks=chunks) == Response(201, True, b"abcde")


def test_body_not_kept_unless_wanted() -> None:
    assert parse(LENGTH, want_body=False) == Response(200, True, None)


def test_chunked_overrides_content_length() -> None:
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\nTransfer-Encoding: chunked\r\n\r\n"
    data = head + b"1\r\nx\r\n0\r\n\r\n"
    assert parse(data) == Response(200, True, b"x")


def test_connection_close_and_http10() -> None:
    closing = b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
    assert parse(closing) == Response(200, False, b"")
    old = b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n"
    assert parse(old).keep_alive is False
    kept = b"HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n"
    assert parse(kept).keep_alive is True


def test_no_body_for_head_204_304() -> None:
    assert parse(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", head=True).body == b""
    assert parse(b"HTTP/1.1 204 No Content\r\n\r\n").status == 204
    assert parse(b"HTTP/1.1 304 Not Modified\r\nContent-Length: 7\r\n\r\n").status == 304


def test_interim_response_skipped() -> None:
    data = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    assert parse(data) == Response(200, True, b"ok")


def test_body_until_close() -> None:
    parser = ResponseParser()
    parser.start(want_body=True)
    assert parser.feed(b"HTTP/1.1 200 OK\r\n\r\npart one, ") is None
    assert parser.feed(b"part two") is None
    assert parser.feed_eof() == Response(200, False, b"part one, part two")


def test_eof_mid_response_is_protocol_error() -> None:
    parser = ResponseParser()
    parser.start()
    assert parser.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc") is None
    with pytest.raises(ProtocolError):
        parser.feed_eof()


@pytest.mark.parametrize(
    "data",
    [
        b"HTTP/2 200 OK\r\n\r\n",
        b"HTTP/1.1 2000 OK\r\n\r\n",
        b"HTTP/1.1 abc OK\r\n\r\n",
        b"garbage\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nName : v\r\n\r\n",
        b"HTTP/1.1 200 OK\r\n folded: v\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nx",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nxy\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nxEXTRA",
    ],
)
def test_malformed_responses(data: bytes) -> None:
    parser = ResponseParser()
    parser.start()
    with pytest.raises(ProtocolError):
        parser.feed(data)


def test_head_too_large() -> None:
    parser = ResponseParser()
    parser.start()
    with pytest.raises(ProtocolError):
        parser.feed(b"HTTP/1.1 200 OK\r\nX: " + b"a" * 70_000)


def test_data_with_no_request_in_flight() -> None:
    parser = ResponseParser()
    with pytest.raises(ProtocolError):
        parser.feed(b"HTTP/1.1 200 OK\r\n\r\n")


def test_request_encoding() -> None:
    spec = RequestSpec("POST", "/echo?x=1", body=b"abc", headers=(("X-Trace", "1"),))
    prepared = prepare_request(spec, "127.0.0.1:8080", "/api")
    assert prepared.data == (
        b"POST /api/echo?x=1 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nX-Trace: 1\r\n"
        b"Content-Length: 3\r\n\r\nabc"
    )
    get = prepare_request(RequestSpec("GET", "/"), "h")
    assert get.data == b"GET / HTTP/1.1\r\nHost: h\r\n\r\n"


def test_response_checks() -> None:
    exact = prepare_request(RequestSpec("GET", "/", expect_body=b"ok"), "h")
    assert exact.want_body
    assert exact.check(200, b"ok") is None
    assert exact.check(500, b"ok") == "status"
    assert exact.check(200, b"no") == "body"
    contains = prepare_request(RequestSpec("GET", "/", expect_contains=b"id"), "h")
    assert contains.check(200, b'{"id": 1}') is None
    assert contains.check(200, b"{}") == "body"


def test_specs_and_plans_validated() -> None:
    with pytest.raises(ValueError):
        RequestSpec("get", "/")
    with pytest.raises(ValueError):
        RequestSpec("GET", "no-slash")
    with pytest.raises(ValueError):
        RequestSpec("GET", "/", headers=(("Bad\r\nName", "v"),))
    flow = (RequestSpec("GET", "/"),)
    with pytest.raises(ValueError):
        LoadPlan("http://h:1", flow)  # neither iterations nor duration
    with pytest.raises(ValueError):
        LoadPlan("https://h:1", flow, iterations=1)
    with pytest.raises(ValueError):
        LoadPlan("http://h:1", (), iterations=1)


def test_split_is_exact() -> None:
    flow = (RequestSpec("GET", "/"),)
    parts = split_plan(LoadPlan("http://h:1", flow, concurrency=10, iterations=101, workers=3))
    assert [part.iterations for part in parts] == [34, 34, 33]
    assert sum(part.concurrency for part in parts) == 10
    # Never more workers than flows in flight.
    assert (
        len(split_plan(LoadPlan("http://h:1", flow, concurrency=1, iterations=9, workers=4))) == 1
    )
    rated = split_plan(LoadPlan("http://h:1", flow, rate=300, duration=1, workers=3))
    assert [part.rate for part in rated] == [100, 100, 100]
    assert [part.phase for part in rated] == [0, 1 / 300, 2 / 300]


def test_split_target() -> None:
    assert split_target("http://h:8/a/b?q=1") == ("http://h:8", "/a/b?q=1")
    assert split_target("http://h:8") == ("http://h:8", "/")
