"""Test services and a raw HTTP client for the gateway tests (no tests in here).

::

    raw_request() --HTTP/1.1--> Gateway --HTTP--> InspectUpstream  (aiohttp server)
                                        --NATS--> InspectResponder (nats-py, subject t.>)

Both services answer the same way: a JSON report of what they received
(method, path, query, header lines, body as hex), with fixed reply headers;
the request header ``X-Want`` asks for a special answer (204, empty, binary,
stall, late, service-error, bad-status).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from aiohttp.web_request import BaseRequest
from nats.aio.msg import Msg

from natsgate.gateway import Gateway
from natsgate.mapping import parse_service_request, reply_headers
from natsgate.natsconn import Client, HeaderLines, connect, header_lines
from natsgate.routes import Config, parse_config

__test__ = False

# Reply headers both services send, multi-value and hop-by-hop included.
REPLY_HEADERS = [
    ("Content-Type", "application/json"),
    ("Set-Cookie", "a=1; Path=/"),
    ("Set-Cookie", "b=2; Path=/"),
    ("X-Reply", "v:1 Zoë"),
    ("Connection", "X-Hop"),
    ("X-Hop", "dropped"),
    ("Keep-Alive", "timeout=5"),
]
BINARY = bytes(range(256)) * 4
STALL_SECONDS = 30.0
LATE_SECONDS = 0.8


@dataclass
class RawResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        values = self.all(name)
        return values[0] if values else None

    def all(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k.lower() == name.lower()]

    def json(self) -> Any:
        return json.loads(self.body)


class RawConnection:
    """One client connection that writes requests byte for byte."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, url: str) -> RawConnection:
        host, port = url.removeprefix("http://").rsplit(":", 1)
        reader, writer = await asyncio.open_connection(host, int(port))
        return cls(reader, writer)

    async def close(self) -> None:
        self.writer.close()
        await self.writer.wait_closed()

    async def send(
        self,
        method: str,
        target: str,
        headers: Sequence[tuple[str, str]] = (),
        body: bytes = b"",
        *,
        chunks: Sequence[bytes] | None = None,
    ) -> RawResponse:
        lines = [f"{method} {target} HTTP/1.1", "Host: gw.test"]
        lines += [f"{k}: {v}" for k, v in headers]
        if chunks is not None:
            lines.append("Transfer-Encoding: chunked")
        elif body or method in ("POST", "PUT", "PATCH"):
            lines.append(f"Content-Length: {len(body)}")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode()
        if chunks is not None:
            body = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks) + b"0\r\n\r\n"
        self.writer.write(head + body)
        return await asyncio.wait_for(self._read(method), 10)

    async def receive(self, method: str) -> RawResponse:
        """Read one response (to a request written some other way)."""
        return await asyncio.wait_for(self._read(method), 10)

    async def _read(self, method: str) -> RawResponse:
        head = await self.reader.readuntil(b"\r\n\r\n")
        status_line, *header_text = head.decode("utf-8").split("\r\n")
        status = int(status_line.split(" ", 2)[1])
        headers = []
        for line in header_text:
            if line:
                name, _, value = line.partition(":")
                headers.append((name, value.strip()))
        response = RawResponse(status, headers, b"")
        length = response.header("Content-Length")
        if method != "HEAD" and status not in (204, 304) and length:
            response.body = await self.reader.readexactly(int(length))
        return response


async def raw_request(
    url: str,
    method: str,
    target: str,
    headers: Sequence[tuple[str, str]] = (),
    body: bytes = b"",
    *,
    chunks: Sequence[bytes] | None = None,
) -> RawResponse:
    """One request on a new connection."""
    conn = await RawConnection.open(url)
    try:
        return await conn.send(method, target, headers, body, chunks=chunks)
    finally:
        await conn.close()


def report(
    method: str, path: str, query: str, headers: list[tuple[str, str]], body: bytes
) -> bytes:
    return json.dumps(
        {"method": method, "path": path, "query": query, "headers": headers, "body": body.hex()}
    ).encode()


def special(want: str | None) -> tuple[int, list[tuple[str, str]], bytes] | None:
    """The answer ``X-Want`` asks for, shared by both services (None: the report)."""
    if want == "204":
        return 204, [("X-Reply", "none")], b""
    if want == "empty":
        return 200, [("X-Reply", "empty")], b""
    if want == "binary":
        return 200, [("Content-Type", "application/octet-stream")], BINARY
    return None


# -- the HTTP upstream -----------------------------------------------------------


@asynccontextmanager
async def inspect_upstream() -> AsyncIterator[str]:
    """An aiohttp server on a free port that reports what it received; yields its URL."""

    async def handle(request: BaseRequest) -> web.StreamResponse:
        body = await request.read()
        want = request.headers.get("X-Want")
        if want in ("stall", "late"):
            await asyncio.sleep(STALL_SECONDS if want == "stall" else LATE_SECONDS)
        if want == "slow":
            await asyncio.sleep(1.0)
        answer = special(want)
        if answer is None:
            path, _, query = request.raw_path.partition("?")
            answer = 200, REPLY_HEADERS, report(request.method, path, query, _lines(request), body)
        status, headers, data = answer
        peer = request.transport.get_extra_info("peername") if request.transport else None
        headers = [*headers, ("X-Upstream-Peer", f"{peer[0]}:{peer[1]}" if peer else "?")]
        return web.Response(status=status, headers=_multi(headers), body=data)

    server = web.Server(handle, access_log=None)
    listener = await asyncio.get_running_loop().create_server(server, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        listener.close()
        await server.shutdown(0.1)


def _lines(request: BaseRequest) -> list[tuple[str, str]]:
    return list(request.headers.items())


def _multi(headers: list[tuple[str, str]]) -> Any:
    from multidict import CIMultiDict

    return CIMultiDict(headers)


# -- the NATS responder -------------------------------------------------------------


class InspectResponder:
    """Subscribes ``t.>`` and ``orders.get.*``; records subjects; answers by ``X-Want``."""

    def __init__(self, nc: Client) -> None:
        self.nc = nc
        self.subjects: list[str] = []
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        for subject in ("t.>", "orders.get.*"):
            await self.nc.subscribe(subject, cb=self._spawn)

    async def _spawn(self, msg: Msg) -> None:
        task = asyncio.create_task(self._answer(msg))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _answer(self, msg: Msg) -> None:
        self.subjects.append(msg.subject)
        lines = header_lines(msg.headers)
        request = parse_service_request(lines)
        want = next((v for k, v in request.headers if k.lower() == "x-want"), None)
        if want in ("stall", "late", "slow"):
            seconds = {"stall": STALL_SECONDS, "late": LATE_SECONDS, "slow": 1.0}[want]
            await asyncio.sleep(seconds)
        if want == "service-error":
            error = [("Nats-Service-Error-Code", "429"), ("Nats-Service-Error", "slow down")]
            await self.nc.publish(msg.reply, b"", headers=HeaderLines(error))
            return
        if want == "bad-status":
            await self.nc.publish(msg.reply, b"x", headers=HeaderLines([("Http-Status", "abc")]))
            return
        answer = special(want)
        if answer is None:
            body = report(request.method, request.path, request.query, lines, msg.data)
            answer = 200, REPLY_HEADERS, body
        status, headers, data = answer
        await self.nc.publish(msg.reply, data, headers=HeaderLines(reply_headers(status, headers)))

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


@asynccontextmanager
async def inspect_responder(nats_url: str) -> AsyncIterator[InspectResponder]:
    nc = await connect([nats_url], name="inspect-responder")
    responder = InspectResponder(nc)
    await responder.start()
    try:
        yield responder
    finally:
        await responder.stop()
        await nc.close()


# -- the gateway -------------------------------------------------------------------


def config_for(nats_url: str, upstream: str, *, trusted: str = "10.99.0.0/16") -> Config:
    """The test route table: /h and /hc over HTTP, /n and a template over NATS."""
    import tomllib

    text = f"""
    [gateway]
    listen = "127.0.0.1:0"
    trusted_proxies = ["{trusted}"]
    max_body = 200000
    shutdown_timeout = 2.0
    [nats]
    servers = ["{nats_url}"]
    name = "gateway-under-test"
    [[route]]
    prefix = "/h"
    upstream = "{upstream}"
    timeout = 0.5
    [[route]]
    prefix = "/hc"
    upstream = "{upstream}"
    keepalive = false
    timeout = 0.5
    [[route]]
    prefix = "/n"
    subject = "t"
    timeout = 0.5
    [[route]]
    method = "GET"
    path = "/orders/{{id}}"
    subject = "orders.get.{{id}}"
    timeout = 0.5
    [[route]]
    prefix = "/dead"
    upstream = "http://127.0.0.1:1"
    [[route]]
    prefix = "/nobody"
    subject = "nobody.home"
    [[route]]
    prefix = "/n/patient"
    subject = "t.patient"
    timeout = 5.0
    [[route]]
    prefix = "/h/patient"
    upstream = "{upstream}/h/patient"
    timeout = 5.0
    """
    return parse_config(tomllib.loads(text))


@asynccontextmanager
async def running_gateway(config: Config) -> AsyncIterator[Gateway]:
    gateway = Gateway(config)
    await gateway.start()
    try:
        yield gateway
    finally:
        await gateway.stop(timeout=1.0)
