"""Failure statuses of the gateway and its operations endpoints, against real services."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace

import pytest

from natsgate.gateway import Gateway
from natsgate.natsserver import NatsServer
from test_gateway_support import (
    LATE_SECONDS,
    RawConnection,
    config_for,
    inspect_responder,
    inspect_upstream,
    raw_request,
    running_gateway,
)


@pytest.fixture
async def gateway(shared_nats: NatsServer) -> AsyncIterator[Gateway]:
    async with (
        inspect_upstream() as upstream,
        inspect_responder(shared_nats.url),
        running_gateway(config_for(shared_nats.url, upstream)) as gw,
    ):
        yield gw


ERROR_CASES = [
    # target, X-Want, status, words in the JSON error
    ("/nobody/x", None, 503, "no service answers this route"),
    ("/n/x", "stall", 504, "upstream timed out"),
    ("/n/x", "service-error", 429, "slow down"),
    ("/n/x", "bad-status", 502, "upstream sent an invalid response"),
    ("/dead/x", None, 502, "upstream connection failed"),
    ("/h/x", "stall", 504, "upstream timed out"),
    ("/hc/x", "stall", 504, "upstream timed out"),
]


@pytest.mark.parametrize(("target", "want", "status", "words"), ERROR_CASES)
async def test_upstream_failures(
    gateway: Gateway, target: str, want: str | None, status: int, words: str
) -> None:
    headers = [("X-Want", want)] if want else []
    started = time.monotonic()
    response = await raw_request(gateway.url, "GET", target, headers)

    assert response.status == status
    assert response.header("Content-Type") == "application/json"
    assert words == response.json()["error"]
    assert response.header("Server") == "natsgate"
    assert time.monotonic() - started < 2.0
    assert gateway.nats is not None and gateway.nats.pending == {}


async def test_late_reply_is_dropped(gateway: Gateway) -> None:
    conn = await RawConnection.open(gateway.url)
    try:
        late = await conn.send("GET", "/n/x", [("X-Want", "late")])
        await asyncio.sleep(LATE_SECONDS)  # the late reply arrives meanwhile
        follow_up = await conn.send("GET", "/n/next")
    finally:
        await conn.close()

    assert late.status == 504
    assert follow_up.status == 200 and follow_up.json()["path"] == "/next"
    assert gateway.nats is not None and gateway.nats.pending == {}


async def test_over_max_payload_is_413_while_another_request_succeeds(gateway: Gateway) -> None:
    # The shared server's max_payload is 64 KiB; the route allows 200,000 bytes.
    big = raw_request(gateway.url, "POST", "/n/big", body=b"x" * 70_000)
    slow = raw_request(gateway.url, "GET", "/n/patient/ok", [("X-Want", "slow")])
    too_large, ok = await asyncio.gather(big, slow)

    assert too_large.status == 413
    assert "max_payload" in too_large.json()["error"]
    assert ok.status == 200 and ok.json()["path"] == "/ok"


async def test_http_route_takes_a_body_nats_cannot(gateway: Gateway) -> None:
    response = await raw_request(gateway.url, "POST", "/h/big", body=b"x" * 70_000)

    assert response.status == 200
    assert len(bytes.fromhex(response.json()["body"])) == 70_000


@pytest.mark.parametrize(("prefix", "connections"), [("/h", 1), ("/hc", 3)])
async def test_keepalive_false_opens_a_connection_per_request(
    gateway: Gateway, prefix: str, connections: int
) -> None:
    peers = set()
    for _ in range(3):
        response = await raw_request(gateway.url, "GET", prefix + "/x")
        assert response.status == 200
        peers.add(response.header("X-Upstream-Peer"))

    assert len(peers) == connections


MALFORMED_HEADERS = [
    (prefix, line)
    for prefix in ("/h", "/n")
    for line in (b"X-Fold: a\r\n b", b"X-Lf: a\nX-Injected: b", b"X-Nul: a\x00b")
]
# NATS headers are UTF-8; the HTTP route passes such bytes on as they came.
MALFORMED_HEADERS.append(("/n", b"X-Bin: \xff\xfe"))


@pytest.mark.parametrize(("prefix", "line"), MALFORMED_HEADERS)
async def test_malformed_header_never_reaches_a_service(
    gateway: Gateway, prefix: str, line: bytes
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", gateway.port)
    request = b"GET %s/x HTTP/1.1\r\nHost: h\r\n%s\r\nConnection: close\r\n\r\n"
    writer.write(request % (prefix.encode(), line))
    answer = await asyncio.wait_for(reader.read(), 5)
    writer.close()

    # A 400 from the parser or the mapping: the request was never forwarded.
    assert answer.split(b"\r\n", 1)[0].split(b" ")[1] == b"400"


# -- operations ---------------------------------------------------------------------


async def test_healthz_readyz_metrics(gateway: Gateway) -> None:
    await raw_request(gateway.url, "GET", "/n/x")
    await raw_request(gateway.url, "GET", "/nobody/x")

    health = await raw_request(gateway.url, "GET", "/healthz")
    ready = await raw_request(gateway.url, "GET", "/readyz")
    metrics = await raw_request(gateway.url, "GET", "/metrics")

    assert (health.status, health.json()) == (200, {"status": "ok"})
    assert (ready.status, ready.json()) == (200, {"status": "ready"})
    assert metrics.status == 200
    text = metrics.body.decode()
    assert 'natsgate_gateway_requests_total{route="/n",status="200",transport="nats"} 1.0' in text
    assert 'route="/nobody",status="503",transport="nats"} 1.0' in text
    assert (
        'natsgate_gateway_request_duration_seconds_count{route="/n",transport="nats"} 1.0' in text
    )
    assert "natsgate_gateway_in_flight_requests 0.0" in text
    assert "natsgate_gateway_nats_reconnects_total 0.0" in text


async def test_readyz_without_routes_is_503() -> None:
    from natsgate.routes import parse_config

    async with running_gateway(parse_config({"gateway": {"listen": "127.0.0.1:0"}})) as gw:
        response = await raw_request(gw.url, "GET", "/readyz")

    assert response.status == 503
    assert response.json()["reason"] == "no routes configured"


# -- clients that stall or leave ----------------------------------------------------


async def _metric_line(url: str, words: str) -> str:
    for _ in range(100):
        text = (await raw_request(url, "GET", "/metrics")).body.decode()
        lines = [line for line in text.splitlines() if words in line]
        if lines:
            return lines[0]
        await asyncio.sleep(0.05)
    raise AssertionError(f"no metric line with {words}")


@pytest.mark.parametrize("prefix", ["/h", "/n"])
async def test_client_gone_mid_body_is_one_info_line_and_499(
    gateway: Gateway, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    _reader, writer = await asyncio.open_connection("127.0.0.1", gateway.port)
    writer.write(
        f"POST {prefix}/echo HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\nabc".encode()
    )
    await writer.drain()
    await asyncio.sleep(0.1)
    writer.close()
    await writer.wait_closed()

    line = await _metric_line(gateway.url, f'route="{prefix}",status="499"')
    assert line.endswith(" 1.0")
    assert "500" not in caplog.text
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING or r.exc_info]
    gone = [r for r in caplog.records if "went away" in r.getMessage()]
    assert len(gone) == 1 and gone[0].levelno == logging.INFO
    assert gone[0].name == "natsgate.gateway"


@pytest.mark.parametrize("prefix", ["/h", "/n"])
async def test_stalled_body_is_408_within_body_timeout(
    shared_nats: NatsServer, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with inspect_upstream() as upstream:
        config = config_for(shared_nats.url, upstream)
        config = replace(config, gateway=replace(config.gateway, body_timeout=1.0))
        async with running_gateway(config) as gw:
            reader, writer = await asyncio.open_connection("127.0.0.1", gw.port)
            head = f"POST {prefix}/x HTTP/1.1\r\nHost: h\r\nContent-Length: 100\r\n\r\nabc"
            writer.write(head.encode())
            # Answered at once; aiohttp then lingers (reads what may still come) and closes.
            answer = await RawConnection(reader, writer).receive("POST")
            writer.close()

    assert answer.status == 408
    assert answer.header("Connection") == "close"
    assert "not received within 1s" in answer.json()["error"]
    lines = [r for r in caplog.records if "408" in r.getMessage()]
    assert len(lines) == 1 and not lines[0].exc_info


@asynccontextmanager
async def _gateway_with(nats_url: str, **settings: float) -> AsyncIterator[Gateway]:
    async with inspect_upstream() as upstream:
        config = config_for(nats_url, upstream)
        config = replace(config, gateway=replace(config.gateway, **settings))
        async with running_gateway(config) as gw:
            yield gw


@pytest.mark.parametrize("sent", [b"", b"GET /h/x HTTP/1.1\r\nHost: h\r\n"])
async def test_connection_without_a_request_head_is_closed(
    shared_nats: NatsServer, sent: bytes
) -> None:
    # keepalive_timeout (which aiohttp also runs from accept) is far off: the sweep closes it.
    async with _gateway_with(shared_nats.url, header_timeout=1.0, keepalive_timeout=60.0) as gw:
        reader, writer = await asyncio.open_connection("127.0.0.1", gw.port)
        writer.write(sent)
        started = time.monotonic()
        left = await asyncio.wait_for(reader.read(), 10)  # b"" once the gateway closes it
        writer.close()

    assert left == b""
    assert time.monotonic() - started >= 0.9


async def test_idle_keepalive_connection_is_closed_after_keepalive_timeout(
    shared_nats: NatsServer,
) -> None:
    async with _gateway_with(shared_nats.url, header_timeout=60.0, keepalive_timeout=1.0) as gw:
        conn = await RawConnection.open(gw.url)
        response = await conn.send("GET", "/h/x")
        left = await asyncio.wait_for(conn.reader.read(), 10)
        await conn.close()

    assert response.status == 200
    assert left == b""


async def test_busy_keepalive_connection_stays_open(shared_nats: NatsServer) -> None:
    async with _gateway_with(shared_nats.url, header_timeout=1.0, keepalive_timeout=2.0) as gw:
        conn = await RawConnection.open(gw.url)
        try:
            statuses = []
            for _ in range(8):  # 4 s: past both timeouts
                statuses.append((await conn.send("GET", "/h/x")).status)
                await asyncio.sleep(0.5)
        finally:
            await conn.close()

    assert statuses == [200] * 8


PARSER_ERRORS = [
    b"GET /h/x HTTP/1.1\r\nHost: h\r\nX-A: a\rSECRET\r\n\r\n",
    b"GET /h/x HTTP/1.1\r\nHost: h\r\nX-A: a\x00SECRET\r\n\r\n",
    b"GET /h/x HTTP/1.1\r\nHost: h\r\nX-A: a\r\n SECRET\r\n\r\n",
    b"GET /h/x HTTP/1.1\r\nHost: h\r\nBad Name: SECRET\r\n\r\n",
    b"POST /h/x HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
    b"POST /h/x HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n",
    b"POST /h/x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nSECRET\r\nab\r\n0\r\n\r\n",
    b"GET /SECRET" + b"a" * 10_000 + b" HTTP/1.1\r\nHost: h\r\n\r\n",
    b"GET /SECRET HTTP/9.9\r\nHost: h\r\n\r\n",
]


@pytest.mark.parametrize("request_bytes", PARSER_ERRORS)
async def test_parser_error_is_one_line_and_a_json_400(
    gateway: Gateway, request_bytes: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    reader, writer = await asyncio.open_connection("127.0.0.1", gateway.port)
    writer.write(request_bytes)
    response = await RawConnection(reader, writer).receive("GET")
    writer.close()

    assert response.status == 400
    assert response.header("Content-Type") == "application/json"
    assert response.json()["error"].startswith("malformed request: ")
    assert b"SECRET" not in response.body
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.WARNING]
    lines = [r.getMessage() for r in caplog.records if "malformed" in r.getMessage()]
    assert len(lines) == 1 and "\n" not in lines[0] and "SECRET" not in lines[0]
