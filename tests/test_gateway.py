"""The gateway against real services: table-driven cases over both transports.

A real nats-server, a real aiohttp upstream and a real nats-py responder on
loopback; requests are written byte for byte by a raw HTTP/1.1 client so the
gateway sees exactly the target and header lines of each case.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from natsgate.gateway import Gateway
from natsgate.natsconn import connect
from natsgate.natsserver import NatsServer
from test_gateway_support import (
    BINARY,
    REPLY_HEADERS,
    InspectResponder,
    RawConnection,
    config_for,
    inspect_responder,
    inspect_upstream,
    raw_request,
    running_gateway,
)

TRANSPORTS = ["/h", "/n"]


@dataclass
class Stack:
    url: str
    gateway: Gateway
    responder: InspectResponder
    spied: list[str]


@pytest.fixture
async def stack(shared_nats: NatsServer) -> AsyncIterator[Stack]:
    spy = await connect([shared_nats.url], name="spy")
    spied: list[str] = []

    async def record(msg: object) -> None:
        spied.append(msg.subject)  # type: ignore[attr-defined]

    await spy.subscribe(">", cb=record)
    async with (
        inspect_upstream() as upstream,
        inspect_responder(shared_nats.url) as responder,
        running_gateway(config_for(shared_nats.url, upstream)) as gateway,
    ):
        yield Stack(gateway.url, gateway, responder, spied)
    await spy.close()


# -- subjects -----------------------------------------------------------------------

SUBJECT_CASES = [
    # target, status, subject the responder sees
    ("/n", 200, "t.GET"),
    ("/n/items", 200, "t.GET.items"),
    ("/n/a.b", 200, "t.GET.a~2Eb"),
    ("/n/a*b", 200, "t.GET.a~2Ab"),
    ("/n/%3E", 200, "t.GET.~3E"),
    ("/n/a%20b", 200, "t.GET.a~20b"),
    ("/n/a%2Fb", 200, "t.GET.a~2Fb"),
    ("/n/%2E%2E/x", 200, "t.GET.~2E~2E.x"),
    ("/n/../x", 200, "t.GET.~2E~2E.x"),
    ("/n/Zo%C3%AB", 200, "t.GET.Zo~C3~AB"),
    ("/n/a//b", 400, None),
    ("/n/a/", 400, None),
    ("/n/a%zz", 400, None),
    ("/n/" + "x" * 1100, 414, None),
    ("/orders/a.b%2A", 200, "orders.get.a~2Eb~2A"),
    ("/orders/a%2Fb", 200, "orders.get.a~2Fb"),
    ("/orders/%3E", 200, "orders.get.~3E"),
]


@pytest.mark.parametrize(("target", "status", "subject"), SUBJECT_CASES)
async def test_subject_is_escaped_and_confined(
    stack: Stack, target: str, status: int, subject: str | None
) -> None:
    response = await raw_request(stack.url, "GET", target)

    assert response.status == status, response.body
    if subject is None:
        assert response.json()["error"]
        assert stack.responder.subjects == []
    else:
        assert stack.responder.subjects == [subject]
        raw_path = target.split("/orders")[-1] if target.startswith("/orders") else target[2:]
        expected_path = target if target.startswith("/orders") else (raw_path or "/")
        assert response.json()["path"] == expected_path
    await asyncio.sleep(0.05)
    outside = [s for s in stack.spied if not s.startswith(("t.", "orders.get.", "_INBOX."))]
    assert outside == []


HTTP_PATH_CASES = [
    ("/h", "/"),
    ("/h/a%2Fb", "/a%2Fb"),
    ("/h/a//b/", "/a//b/"),
    ("/h/a..b/.c/..d", "/a..b/.c/..d"),
    ("/h/%2E%2E%2E", "/%2E%2E%2E"),
    ("/h/Zo%C3%AB", "/Zo%C3%AB"),
]


@pytest.mark.parametrize(("target", "upstream_path"), HTTP_PATH_CASES)
async def test_http_path_after_prefix_is_forwarded_raw(
    stack: Stack, target: str, upstream_path: str
) -> None:
    response = await raw_request(stack.url, "GET", target)

    assert response.status == 200
    assert response.json()["path"] == upstream_path


DOT_SEGMENTS = ["/..", "/../x", "/.", "/a/./b", "/%2E%2E/x", "/%2e%2E", "/.%2e/x", "/a/%2E"]


@pytest.mark.parametrize("path", DOT_SEGMENTS)
async def test_dot_segments_never_reach_an_http_upstream(stack: Stack, path: str) -> None:
    # /h/patient forwards to <upstream>/h/patient: a ".." would climb out of it.
    response = await raw_request(stack.url, "GET", "/h/patient" + path)

    assert response.status == 400
    assert "'..' segment" in response.json()["error"]


ROUTING_CASES = [
    ("GET", "/nx", 404),
    ("GET", "/nobodyx/y", 404),
    ("GET", "/", 404),
    ("POST", "/orders/1", 405),
    ("GET", "/orders/1/more", 404),
]


@pytest.mark.parametrize(("method", "target", "status"), ROUTING_CASES)
async def test_routing_misses(stack: Stack, method: str, target: str, status: int) -> None:
    response = await raw_request(stack.url, method, target)

    assert response.status == status
    assert response.header("Content-Type") == "application/json"
    assert "error" in response.json()
    assert stack.responder.subjects == []


# -- headers ------------------------------------------------------------------------


@dataclass
class HeaderCase:
    name: str
    send: list[tuple[str, str]]
    expect: list[tuple[str, str]]  # lines the service must see, in this order
    absent: tuple[str, ...] = ()  # names the service must not see


HEADER_CASES = [
    HeaderCase(
        "hop-by-hop",
        [
            ("Connection", "keep-alive, X-Secret"),
            ("X-Secret", "s"),
            ("Keep-Alive", "timeout=5"),
            ("TE", "trailers"),
            ("Proxy-Authorization", "Basic eA=="),
            ("X-Keep", "1"),
        ],
        [("X-Keep", "1")],
        ("connection", "x-secret", "keep-alive", "te", "proxy-authorization"),
    ),
    HeaderCase(
        "reserved",
        [
            ("Http-Method", "DELETE"),
            ("Http-Path", "/evil"),
            ("Http-Status", "200"),
            ("Nats-Msg-Id", "x"),
            ("Status", "503"),
            ("Natsgate-Route", "x"),
        ],
        [],
        ("http-status", "nats-msg-id", "status", "natsgate-route"),
    ),
    HeaderCase(
        "forwarded-untrusted",
        [("X-Forwarded-For", "1.2.3.4"), ("X-Forwarded-Host", "evil"), ("Forwarded", "for=x")],
        [
            ("X-Forwarded-For", "127.0.0.1"),
            ("X-Forwarded-Proto", "http"),
            ("X-Forwarded-Host", "gw.test"),
        ],
        ("forwarded",),
    ),
    HeaderCase("multi-value", [("X-Tag", "a"), ("X-Tag", "b")], [("X-Tag", "a"), ("X-Tag", "b")]),
    HeaderCase(
        "colon-non-ascii",
        [("X-Url", "http://a:1/b?c=d"), ("X-Name", "Zoë ünï")],
        [("X-Url", "http://a:1/b?c=d"), ("X-Name", "Zoë ünï")],
    ),
    HeaderCase("trace", [("traceparent", "00-abc-def-01")], [("traceparent", "00-abc-def-01")]),
]


@pytest.mark.parametrize("prefix", TRANSPORTS)
@pytest.mark.parametrize("case", HEADER_CASES, ids=lambda c: c.name)
async def test_request_headers(stack: Stack, prefix: str, case: HeaderCase) -> None:
    response = await raw_request(stack.url, "GET", prefix + "/x", case.send)

    assert response.status == 200
    seen = [tuple(line) for line in response.json()["headers"]]
    names = [k.lower() for k, _ in seen]
    wanted = {k.lower() for k, _ in case.expect}
    assert [line for line in seen if line[0].lower() in wanted] == case.expect
    assert not set(case.absent) & set(names)
    assert response.json()["method"] == "GET"
    assert response.json()["path"] == "/x"


@pytest.mark.parametrize("prefix", TRANSPORTS)
async def test_forwarded_chain_kept_from_trusted_proxy(
    shared_nats: NatsServer, prefix: str
) -> None:
    send = [("X-Forwarded-For", "1.2.3.4"), ("X-Forwarded-Host", "public.example")]
    async with (
        inspect_upstream() as upstream,
        inspect_responder(shared_nats.url),
        running_gateway(config_for(shared_nats.url, upstream, trusted="127.0.0.1/32")) as gw,
    ):
        response = await raw_request(gw.url, "GET", prefix + "/x", send)

    seen = dict(tuple(line) for line in response.json()["headers"])
    assert seen["X-Forwarded-For"] == "1.2.3.4, 127.0.0.1"
    assert seen["X-Forwarded-Host"] == "public.example"


@pytest.mark.parametrize("prefix", TRANSPORTS)
async def test_response_headers(stack: Stack, prefix: str) -> None:
    response = await raw_request(stack.url, "GET", prefix + "/x")

    assert response.status == 200
    assert response.all("Set-Cookie") == ["a=1; Path=/", "b=2; Path=/"]
    assert response.header("X-Reply") == "v:1 Zoë"
    assert response.header("Content-Type") == "application/json"
    for name in ("X-Hop", "Keep-Alive", "Http-Status"):
        assert response.header(name) is None
    assert response.header("Connection") in (None, "keep-alive")
    assert len(REPLY_HEADERS) == 7


QUERY_CASES = ["a=1&a=2", "a=&b=", "c=%26d&e", "x=%20y+z", "q=Zo%C3%AB&&k"]


@pytest.mark.parametrize("prefix", TRANSPORTS)
@pytest.mark.parametrize("query", QUERY_CASES)
async def test_query_string_byte_for_byte(stack: Stack, prefix: str, query: str) -> None:
    response = await raw_request(stack.url, "GET", f"{prefix}/x?{query}")

    assert response.status == 200
    assert response.json()["query"] == query


# -- bodies, HEAD, 204 ----------------------------------------------------------------


@dataclass
class BodyCase:
    name: str
    method: str
    want: str | None
    status: int
    body: bytes | None  # the response body; None: check the report instead
    content_length: str | None


BODY_CASES = [
    BodyCase("head", "HEAD", None, 200, b"", "nonzero"),
    BodyCase("204", "GET", "204", 204, b"", None),
    BodyCase("empty", "GET", "empty", 200, b"", "0"),
    BodyCase("binary", "GET", "binary", 200, BINARY, str(len(BINARY))),
]


@pytest.mark.parametrize("prefix", TRANSPORTS)
@pytest.mark.parametrize("case", BODY_CASES, ids=lambda c: c.name)
async def test_response_bodies(stack: Stack, prefix: str, case: BodyCase) -> None:
    headers = [("X-Want", case.want)] if case.want else []
    conn = await RawConnection.open(stack.url)
    try:
        response = await conn.send(case.method, prefix + "/x", headers)
        # The next answer on the same connection proves nothing extra was written.
        follow_up = await conn.send("GET", prefix + "/x")
    finally:
        await conn.close()

    assert response.status == case.status
    assert response.body == case.body
    length = response.header("Content-Length")
    if case.content_length == "nonzero":
        assert length is not None and int(length) > 0
    else:
        assert length == case.content_length
    assert follow_up.status == 200 and follow_up.json()["path"] == "/x"


@pytest.mark.parametrize("prefix", TRANSPORTS)
async def test_binary_request_body_unchanged(stack: Stack, prefix: str) -> None:
    headers = [("Content-Type", "application/octet-stream")]
    response = await raw_request(stack.url, "POST", prefix + "/upload", headers, BINARY)

    assert response.status == 200
    assert bytes.fromhex(response.json()["body"]) == BINARY
    assert response.json()["method"] == "POST"


@pytest.mark.parametrize("prefix", TRANSPORTS)
@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
async def test_body_over_route_limit_is_413(stack: Stack, prefix: str, chunked: bool) -> None:
    body = b"x" * 200_001
    if chunked:
        chunks = [body[i : i + 50_000] for i in range(0, len(body), 50_000)]
        response = await raw_request(stack.url, "POST", prefix + "/x", chunks=chunks)
    else:
        response = await raw_request(stack.url, "POST", prefix + "/x", body=body)

    assert response.status == 413
    assert "limit" in response.json()["error"]
    assert stack.responder.subjects == []


async def test_keepalive_connection_serves_many_requests(stack: Stack) -> None:
    conn = await RawConnection.open(stack.url)
    try:
        statuses = [
            (await conn.send("GET", f"{p}/k{i}")).status for i in range(5) for p in TRANSPORTS
        ]
    finally:
        await conn.close()

    assert statuses == [200] * 10
