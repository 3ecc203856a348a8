"""Several HTTP upstreams behind one prefix route: round robin, ejection, rejoin.

::

    raw client --> Gateway /s (upstreams = [a, b]) --> Upstream a (aiohttp, counts requests)
                                                   --> Upstream b (stopped, then restarted
                                                                   on the same port)

Real sockets on loopback; the upstreams run in the test's event loop so the
test can stop one (its port then refuses connections) and bring it back.
"""

from __future__ import annotations

import asyncio
import time
import tomllib
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import pytest
from aiohttp import web
from aiohttp.web_request import BaseRequest

from natsgate.gateway import Gateway
from natsgate.routes import Config, parse_config
from test_gateway_support import RawConnection, raw_request, running_gateway


class Upstream:
    """An aiohttp server that answers its own name and records each request it serves."""

    def __init__(self, name: str, served: list[str]) -> None:
        self.name = name
        self.served = served
        self.port = 0
        self._server: web.Server | None = None
        self._listener: asyncio.AbstractServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self._server = web.Server(self._handle, access_log=None)
        loop = asyncio.get_running_loop()
        self._listener = await loop.create_server(
            self._server, "127.0.0.1", self.port, reuse_address=True
        )
        self.port = self._listener.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Close the listener and every connection: the port now refuses."""
        if self._listener is not None:
            self._listener.close()
            await self._listener.wait_closed()
        if self._server is not None:
            await self._server.shutdown(0.1)
        self._listener = self._server = None

    async def _handle(self, request: BaseRequest) -> web.StreamResponse:
        await request.read()
        self.served.append(self.name)
        return web.Response(text=self.name)


def _config(upstreams: list[str], keepalive: bool) -> Config:
    listed = ", ".join(f'"{url}"' for url in upstreams)
    text = f"""
    [gateway]
    listen = "127.0.0.1:0"
    [[route]]
    prefix = "/s"
    upstreams = [{listed}]
    keepalive = {str(keepalive).lower()}
    timeout = 2.0
    """
    return parse_config(tomllib.loads(text))


@pytest.fixture
async def pair() -> AsyncIterator[tuple[Upstream, Upstream, list[str]]]:
    served: list[str] = []
    a, b = Upstream("a", served), Upstream("b", served)
    await a.start()
    await b.start()
    try:
        yield a, b, served
    finally:
        await a.stop()
        await b.stop()


async def _healthy_gauge(gateway: Gateway) -> str:
    metrics = (await raw_request(gateway.url, "GET", "/metrics")).body.decode()
    line = next(x for x in metrics.splitlines() if x.startswith("natsgate_gateway_healthy_"))
    return line.rsplit(" ", 1)[1]


@pytest.mark.parametrize("keepalive", [True, False])
async def test_requests_alternate_between_upstreams(
    pair: tuple[Upstream, Upstream, list[str]], keepalive: bool
) -> None:
    a, b, served = pair
    async with running_gateway(_config([a.url, b.url], keepalive)) as gateway:
        conn = await RawConnection.open(gateway.url)
        bodies = [(await conn.send("POST", f"/s/{i}", body=b"x")).body for i in range(8)]
        await conn.close()

        assert bodies == [b"a", b"b"] * 4
        assert served == ["a", "b"] * 4
        assert await _healthy_gauge(gateway) == "2.0"


@pytest.mark.parametrize("keepalive", [True, False])
async def test_a_dead_upstream_leaves_rotation_and_rejoins(
    pair: tuple[Upstream, Upstream, list[str]], keepalive: bool
) -> None:
    a, b, served = pair
    async with AsyncExitStack() as stack:
        gateway = await stack.enter_async_context(
            running_gateway(_config([a.url, b.url], keepalive))
        )
        conn = await RawConnection.open(gateway.url)
        stack.push_async_callback(conn.close)

        # 300 sequential requests; b stops after 100, while requests keep coming.
        statuses = []
        stopping = None
        for i in range(300):
            if i == 100:
                stopping = asyncio.create_task(b.stop())
            statuses.append((await conn.send("GET", f"/s/{i}")).status)
        assert stopping is not None
        await stopping
        failed = sum(1 for s in statuses if s != 200)
        assert failed <= 2, statuses
        assert statuses.count(200) == 300 - failed
        assert "b" not in served[-150:]
        assert await _healthy_gauge(gateway) == "1.0"

        # Back on the same port: after its back-off a request probes b and it rejoins.
        await b.start()
        served.clear()
        deadline = time.monotonic() + 15
        while "b" not in served and time.monotonic() < deadline:
            assert (await conn.send("GET", "/s/again")).status == 200
            await asyncio.sleep(0.05)
        assert "b" in served
        assert await _healthy_gauge(gateway) == "2.0"
        served.clear()
        for i in range(6):
            assert (await conn.send("GET", f"/s/{i}")).status == 200
        assert sorted(served) == ["a"] * 3 + ["b"] * 3


async def test_every_upstream_down_is_a_fast_502_with_a_reason(
    pair: tuple[Upstream, Upstream, list[str]], caplog: pytest.LogCaptureFixture
) -> None:
    a, b, _ = pair
    async with running_gateway(_config([a.url, b.url], True)) as gateway:
        await a.stop()
        await b.stop()
        started = time.monotonic()
        first = await raw_request(gateway.url, "GET", "/s/x")
        rest = [await raw_request(gateway.url, "GET", "/s/x") for _ in range(20)]
        elapsed = time.monotonic() - started

        # The first request tried a, then b (connect failed, nothing sent): both out.
        assert first.status == 502
        assert first.json()["error"] == "upstream connection failed"  # the detail: in the log
        assert {r.status for r in rest} == {502}
        assert elapsed < 2.0  # generous: 21 answers without a single connect attempt
        assert await _healthy_gauge(gateway) == "0.0"

    taken_out = [r for r in caplog.records if "taken out of rotation" in r.getMessage()]
    failures = [r for r in caplog.records if "/s/x (route /s) -> 502" in r.getMessage()]
    assert len(taken_out) == 2
    assert "cannot connect to upstream" in failures[0].getMessage()
    assert "retried: cannot connect" in failures[0].getMessage()
    assert "all 2 upstreams refused connections; next retry in" in failures[1].getMessage()
    assert len(failures) == 21
