"""The load generator against real servers on loopback (aiohttp, and a raw one that misbehaves).

The servers run on an event loop in a thread of the test process; the generator's worker
runs in another thread (or in spawned processes for ``workers=2``).
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Iterator

import pytest
from aiohttp import web

from natsgate.load import ERROR_KINDS, LoadPlan, LoadResult, RequestSpec, run_load

pytestmark = pytest.mark.timeout(60)

HELLO = b"hello"


class Servers:
    """An event loop in a thread hosting the test servers; ``close`` stops them all."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.requests = 0
        self.peers: set[tuple[str, int]] = set()
        self.first_at: float | None = None
        self._cleanups: list[Callable[[], Awaitable[None]]] = []

    def call(self, coro: Awaitable[str]) -> str:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(10)  # type: ignore[arg-type]

    def aiohttp(self) -> str:
        return self.call(self._start_app())

    def raw(self, reply: bytes) -> str:
        """A server that answers every request with ``reply`` and then closes."""
        return self.call(self._start_raw(reply))

    def close(self) -> None:
        async def cleanup() -> None:
            for step in reversed(self._cleanups):
                await step()

        asyncio.run_coroutine_threadsafe(cleanup(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()

    async def _start_app(self) -> str:
        app = web.Application()
        app.router.add_get("/hello", self._hello)
        app.router.add_get("/status/{code}", self._status)
        app.router.add_get("/stall", self._stall)
        app.router.add_get("/stall-once", self._stall_once)
        app.router.add_get("/close", self._close)
        app.router.add_get("/chunked", self._chunked)
        app.router.add_post("/echo", self._echo)
        app.router.add_get("/window", self._window)
        runner = web.AppRunner(
            app, access_log=None, shutdown_timeout=0.2, handler_cancellation=True
        )
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, backlog=4096)
        await site.start()
        self._cleanups.append(runner.cleanup)
        return f"http://127.0.0.1:{runner.addresses[0][1]}"

    async def _start_raw(self, reply: bytes) -> str:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(reply)
            await writer.drain()
            writer.close()

        server = await asyncio.start_server(handle, "127.0.0.1", 0)

        async def stop() -> None:
            server.close()
            await server.wait_closed()

        self._cleanups.append(stop)
        return f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"

    def _count(self, request: web.Request) -> None:
        self.requests += 1
        peer = request.transport.get_extra_info("peername") if request.transport else None
        if peer:
            self.peers.add(peer)

    async def _hello(self, request: web.Request) -> web.Response:
        self._count(request)
        return web.Response(body=HELLO)

    async def _status(self, request: web.Request) -> web.Response:
        return web.Response(status=int(request.match_info["code"]), body=HELLO)

    async def _stall(self, request: web.Request) -> web.Response:
        await asyncio.sleep(30)
        return web.Response(body=HELLO)

    async def _stall_once(self, request: web.Request) -> web.Response:
        self._count(request)
        if self.requests == 300:
            await asyncio.sleep(0.3)
        return web.Response(body=HELLO)

    async def _close(self, request: web.Request) -> web.Response:
        self._count(request)
        response = web.Response(body=HELLO)
        response.force_close()
        return response

    async def _chunked(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        response.enable_chunked_encoding()
        await response.prepare(request)
        for part in (b"one,", b"two,", b"three"):
            await response.write(part)
        await response.write_eof()
        return response

    async def _echo(self, request: web.Request) -> web.Response:
        return web.Response(body=await request.read())

    async def _window(self, request: web.Request) -> web.Response:
        """500 from 0.3 s to 0.6 s after the first request, 200 otherwise."""
        now = time.monotonic()
        if self.first_at is None:
            self.first_at = now
        failing = 0.3 <= now - self.first_at < 0.6
        return web.Response(status=500 if failing else 200, body=HELLO)


@pytest.fixture
def servers() -> Iterator[Servers]:
    hosted = Servers()
    yield hosted
    hosted.close()


def get(target: str, **expect: object) -> RequestSpec:
    return RequestSpec("GET", target, **expect)  # type: ignore[arg-type]


def no_errors(result: LoadResult) -> bool:
    return result.errors == dict.fromkeys(ERROR_KINDS, 0)


def test_counts_are_exact(servers: Servers) -> None:
    url = servers.aiohttp()
    flow = (get("/hello", expect_body=HELLO), get("/hello"), get("/status/201", expect_status=201))
    seen: list[int] = []
    result = run_load(LoadPlan(url, flow, concurrency=7, iterations=50), seen.append)
    assert no_errors(result)
    assert (result.iterations, result.requests, result.ok) == (50, 150, 150)
    assert servers.requests == 100  # the /status requests are not counted by the server
    assert result.histogram.get_total_count() == 150
    assert sum(seen) == 150
    assert sum(second["requests"] for second in result.timeline) == 150
    assert result.corrected is None
    assert set(result.percentiles(corrected=True).values()) == {None}


def test_wrong_status_and_body_are_errors(servers: Servers) -> None:
    url = servers.aiohttp()
    flow = (
        get("/status/500"),
        get("/hello", expect_body=b"other"),
        get("/hello", expect_contains=b"ell"),
    )
    result = run_load(LoadPlan(url, flow, concurrency=2, iterations=10))
    assert result.errors["status"] == 10
    assert result.errors["body"] == 10
    assert result.ok == 10
    assert result.histogram.get_total_count() == 10  # successful requests only


def test_refused_port_is_connect_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = run_load(
        LoadPlan(f"http://127.0.0.1:{port}", (get("/"),), concurrency=3, iterations=9)
    )
    assert result.errors["connect"] == 9
    assert result.requests == 9 and result.ok == 0


def test_open_loop_errors(servers: Servers) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        refused = f"http://127.0.0.1:{probe.getsockname()[1]}"
    result = run_load(LoadPlan(refused, (get("/"),), rate=200, iterations=10))
    assert result.errors["connect"] == 10 and result.requests == 10
    closing = servers.aiohttp()
    result = run_load(
        LoadPlan(closing, (get("/close", expect_body=HELLO),), rate=200, iterations=10)
    )
    assert no_errors(result) and result.ok == 10


def test_stalled_server_is_timeout(servers: Servers) -> None:
    url = servers.aiohttp()
    result = run_load(LoadPlan(url, (get("/stall"),), concurrency=2, iterations=4, timeout=0.2))
    assert result.errors["timeout"] == 4
    assert result.ok == 0


def test_close_mid_response_is_protocol_error(servers: Servers) -> None:
    url = servers.raw(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly part of it")
    result = run_load(LoadPlan(url, (get("/"),), concurrency=2, iterations=6))
    assert result.errors["protocol"] == 6


def test_garbage_is_protocol_error(servers: Servers) -> None:
    url = servers.raw(b"SSH-2.0-OpenSSH\r\n\r\n")
    result = run_load(LoadPlan(url, (get("/"),), iterations=3))
    assert result.errors["protocol"] == 3


def test_body_until_close_from_raw_server(servers: Servers) -> None:
    url = servers.raw(b"HTTP/1.1 200 OK\r\n\r\nread until the server closes")
    flow = (get("/", expect_contains=b"until"),)
    result = run_load(LoadPlan(url, flow, iterations=5))
    assert no_errors(result) and result.ok == 5


def test_connection_close_reconnects(servers: Servers) -> None:
    url = servers.aiohttp()
    result = run_load(
        LoadPlan(url, (get("/close", expect_body=HELLO),), concurrency=2, iterations=20)
    )
    assert no_errors(result) and result.ok == 20
    assert len(servers.peers) == 20  # a new connection for every request


def test_keep_alive_reuses_connections(servers: Servers) -> None:
    url = servers.aiohttp()
    result = run_load(LoadPlan(url, (get("/hello"),), concurrency=3, iterations=60))
    assert no_errors(result) and result.ok == 60
    assert len(servers.peers) == 3


def test_chunked_response(servers: Servers) -> None:
    url = servers.aiohttp()
    result = run_load(
        LoadPlan(url, (get("/chunked", expect_body=b"one,two,three"),), iterations=10)
    )
    assert no_errors(result) and result.ok == 10


def test_post_body_echoed(servers: Servers) -> None:
    url = servers.aiohttp()
    body = bytes(range(256)) * 8
    flow = (RequestSpec("POST", "/echo", body=body, expect_body=body),)
    result = run_load(LoadPlan(url, flow, concurrency=4, iterations=40))
    assert no_errors(result) and result.ok == 40


def test_duration_and_timeline(servers: Servers) -> None:
    url = servers.aiohttp()
    result = run_load(LoadPlan(url, (get("/hello"),), concurrency=4, duration=1.2))
    assert no_errors(result) and result.ok > 0
    assert result.wall_seconds == pytest.approx(1.2, abs=0.05)
    assert [second["t"] for second in result.timeline] == list(range(len(result.timeline)))
    assert result.timeline[0]["p50_us"] is not None
    assert result.iterations == result.requests


def test_warmup_excluded_closed_loop(servers: Servers) -> None:
    url = servers.aiohttp()
    result = run_load(LoadPlan(url, (get("/hello"),), concurrency=2, iterations=30, warmup=0.3))
    assert (result.iterations, result.requests, result.ok) == (30, 30, 30)
    assert servers.requests > 30 + 10  # warmup requests were sent, and not counted
    assert result.histogram.get_total_count() == 30


def test_warmup_excluded_open_loop(servers: Servers) -> None:
    url = servers.aiohttp()
    result = run_load(LoadPlan(url, (get("/hello"),), rate=200, iterations=20, warmup=0.3))
    assert result.requests == 20 and result.ok == 20
    assert servers.requests >= 20 + 50
    assert result.corrected is not None and result.corrected.get_total_count() == 20


def test_workers_merge_exactly(servers: Servers) -> None:
    url = servers.aiohttp()
    flow = (get("/hello", expect_body=HELLO), get("/hello"))
    seen: list[int] = []
    result = run_load(LoadPlan(url, flow, concurrency=4, iterations=301, workers=2), seen.append)
    assert no_errors(result)
    assert (result.iterations, result.requests, result.ok) == (301, 602, 602)
    assert result.histogram.get_total_count() == result.ok
    assert sum(seen) == 602
    assert len(result.workers) == 2
    assert len({worker["pid"] for worker in result.workers}) == 2
    assert all(worker["cpu_user"] + worker["cpu_system"] > 0 for worker in result.workers)


def test_coordinated_omission_corrected(servers: Servers) -> None:
    """One 300 ms stall on the only connection: the queued requests show it when corrected."""
    url = servers.aiohttp()
    plan = LoadPlan(url, (get("/stall-once"),), rate=500, iterations=1000, max_connections=1)
    result = run_load(plan)
    assert no_errors(result) and result.ok == 1000
    assert result.corrected is not None
    corrected = result.percentiles(corrected=True)
    plain = result.percentiles()
    assert plain["max"] is not None and plain["max"] >= 290_000  # the stalled request itself
    assert plain["p99"] is not None and plain["p99"] < 100_000  # ... is one sample in 1000
    assert corrected["p99"] is not None and corrected["p99"] >= 200_000  # ~150 waited behind it
    assert plain["p99.9"] is None  # fewer than 10,000 samples


def test_open_loop_opens_connections_when_busy(servers: Servers) -> None:
    url = servers.aiohttp()
    plan = LoadPlan(url, (get("/stall"),), rate=100, duration=0.3, timeout=0.2, max_connections=50)
    result = run_load(plan)
    assert result.errors["timeout"] == result.requests > 20
    assert len(servers.peers) <= 50


def test_many_concurrent_flows(servers: Servers) -> None:
    url = servers.aiohttp()
    result = run_load(LoadPlan(url, (get("/hello"),), concurrency=2500, iterations=5000))
    assert no_errors(result) and result.ok == 5000
    assert len(servers.peers) == 2500


def test_json_round_trip(servers: Servers) -> None:
    url = servers.aiohttp()
    result = run_load(LoadPlan(url, (get("/hello"),), rate=300, iterations=30))
    data = json.loads(json.dumps(result.to_json()))
    assert set(data["percentiles"]) == {"p50", "p90", "p99", "p99.9", "max", "mean"}
    again = LoadResult.from_json(data)
    assert again.histogram.get_total_count() == 30
    assert again.corrected is not None and again.corrected.get_total_count() == 30
    assert again.percentiles() == result.percentiles()


def test_error_window(servers: Servers) -> None:
    url = servers.aiohttp()
    result = run_load(LoadPlan(url, (get("/window"),), concurrency=4, duration=1.0))
    assert result.errors["status"] > 0 and result.ok > 0
    assert result.first_error_at is not None and result.last_error_at is not None
    assert 0.2 <= result.first_error_at <= 0.5
    assert 0.4 <= result.last_error_at <= 0.8
    assert [kind for _, kind in result.error_times] == ["status"] * result.errors["status"]
    assert result.error_times[-1][0] == result.last_error_at
    assert LoadResult.from_json(result.to_json()).error_times == result.error_times


def test_starved_generator_is_flagged(servers: Servers) -> None:
    """Asked for far more than one Python process can send, the run says so."""
    url = servers.aiohttp()
    plan = LoadPlan(url, (get("/hello"),), rate=1_000_000, duration=0.5, max_connections=8)
    result = run_load(plan)
    assert result.generator_saturated
    assert result.achieved_rate is not None and result.achieved_rate < 990_000
    assert any("saturated" in note for note in result.notes)


def test_a_generator_with_headroom_is_not_flagged(servers: Servers) -> None:
    url = servers.aiohttp()
    plan = LoadPlan(url, (get("/hello"),), rate=50, duration=0.5)
    assert not run_load(plan).generator_saturated
