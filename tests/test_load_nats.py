"""The direct-NATS load driver against a real nats-server: the catalog service, responders
that answer wrongly, late or never, and the error window of a run."""

from __future__ import annotations

import asyncio
import itertools
import socket
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from typing import Any

import pytest
from nats.aio.msg import Msg

from natsgate import catalog
from natsgate.load import ERROR_KINDS, LoadPlan, LoadResult, RequestSpec, run_nats_load
from natsgate.load.recorder import ErrorTimes, thin_error_times
from natsgate.natsconn import Client, HeaderLines, connect, header_lines
from natsgate.natsserver import NatsServer
from natsgate.service import ServeConfig, ServiceServer

pytestmark = pytest.mark.timeout(60)

# A responder's answer to a message: (header lines, body), or None to never answer.
Answer = tuple[list[tuple[str, str]], bytes] | None
Handler = Callable[[Msg], Answer]

CATALOG_FLOW = (
    RequestSpec("GET", "/items/1", expect_body=catalog.expected_item_body("1")),
    RequestSpec("GET", "/items?x=1", expect_body=catalog.expected_list_body("x=1")),
    RequestSpec(
        "GET", "/items/error", expect_status=404, expect_body=catalog.expected_error_body()
    ),
)


class Hosts:
    """An event loop in a thread hosting the catalog service and test responders."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.seen: list[Msg] = []
        self._service: ServiceServer | None = None
        self._clients: list[Client] = []

    def run(self, coro: Coroutine[Any, Any, Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(10)

    def catalog(self) -> None:
        self._service = ServiceServer(
            catalog.service, ServeConfig(http=None, nats_urls=(self.url,))
        )
        self.run(self._service.start())

    def responder(self, prefix: str, handler: Handler) -> None:
        """Answer every message on ``prefix.>`` with ``handler``'s answer."""
        self.run(self._subscribe(prefix, handler))

    def close(self) -> None:
        async def stop() -> None:
            for client in self._clients:
                await client.close()
            if self._service is not None:
                await self._service.stop()

        self.run(stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()

    async def _subscribe(self, prefix: str, handler: Handler) -> None:
        nc = await connect([self.url], name="test-responder")
        self._clients.append(nc)

        async def on_message(msg: Msg) -> None:
            self.seen.append(msg)
            answer = handler(msg)
            if answer is not None:
                headers, body = answer
                await nc.publish(msg.reply, body, headers=HeaderLines(headers))

        await nc.subscribe(prefix + ".>", cb=on_message)
        await nc.flush()


@pytest.fixture
def hosts(shared_nats: NatsServer) -> Iterator[Hosts]:
    hosted = Hosts(shared_nats.url)
    yield hosted
    hosted.close()


def plan(url: str, flow: tuple[RequestSpec, ...] = CATALOG_FLOW, **fields: Any) -> LoadPlan:
    return LoadPlan(url, flow, **fields)


def status(code: int, body: bytes = b"ok") -> Answer:
    return [("Http-Status", str(code))], body


def errors_only(result: LoadResult, kind: str) -> dict[str, int]:
    expected = dict.fromkeys(ERROR_KINDS, 0)
    expected[kind] = result.requests
    return expected


def test_catalog_counts_are_exact(hosts: Hosts) -> None:
    hosts.catalog()
    progressed: list[int] = []
    result = run_nats_load(
        plan(hosts.url, concurrency=3, iterations=20), [hosts.url], "catalog", progressed.append
    )
    assert (result.iterations, result.requests, result.ok) == (20, 60, 60)
    assert result.errors == dict.fromkeys(ERROR_KINDS, 0)
    assert sum(progressed) == 60
    assert result.histogram.get_total_count() == 60
    assert result.first_error_at is None and result.error_times == []


def test_catalog_in_worker_processes(hosts: Hosts) -> None:
    hosts.catalog()
    result = run_nats_load(
        plan(hosts.url, concurrency=4, iterations=11, workers=2), [hosts.url], "catalog"
    )
    assert (result.iterations, result.requests, result.ok) == (11, 33, 33)
    assert len(result.workers) == 2


def test_request_is_built_as_the_gateway_builds_it(hosts: Hosts) -> None:
    hosts.responder("shape", lambda msg: status(200))
    spec = RequestSpec("POST", "/items/a.b?x=1&y", body=b"{}", headers=(("X-Tag", "a"),))
    result = run_nats_load(plan(hosts.url, (spec,), iterations=1), [hosts.url], "shape")
    assert result.ok == 1
    msg = hosts.seen[0]
    assert msg.subject == "shape.POST.items.a~2Eb"
    assert msg.data == b"{}"
    assert header_lines(msg.headers) == [
        ("Http-Method", "POST"),
        ("Http-Path", "/items/a.b"),
        ("Http-Query", "x=1&y"),
        ("X-Tag", "a"),
    ]


def test_wrong_body_and_wrong_status(hosts: Hosts) -> None:
    hosts.responder("wrongbody", lambda msg: status(200, b"nope"))
    hosts.responder("wrongstatus", lambda msg: status(500))
    spec = (RequestSpec("GET", "/x", expect_body=b"ok"),)
    body = run_nats_load(
        plan(hosts.url, spec, concurrency=2, iterations=5), [hosts.url], "wrongbody"
    )
    assert body.requests == 5 and body.errors == errors_only(body, "body")
    bad = run_nats_load(
        plan(hosts.url, spec, concurrency=2, iterations=5), [hosts.url], "wrongstatus"
    )
    assert bad.requests == 5 and bad.errors == errors_only(bad, "status")


def test_undecodable_reply_is_protocol_error(hosts: Hosts) -> None:
    hosts.responder("garbled", lambda msg: ([("Http-Status", "abc")], b""))
    result = run_nats_load(plan(hosts.url, iterations=2), [hosts.url], "garbled")
    assert result.requests == 6 and result.errors == errors_only(result, "protocol")


def test_no_responders_is_a_503(hosts: Hosts) -> None:
    result = run_nats_load(plan(hosts.url, concurrency=2, iterations=4), [hosts.url], "nobody")
    assert result.requests == 12 and result.errors == errors_only(result, "status")
    expecting = (RequestSpec("GET", "/x", expect_status=503),)
    answered = run_nats_load(plan(hosts.url, expecting, iterations=3), [hosts.url], "nobody")
    assert answered.ok == 3


def test_silent_responder_is_timeout(hosts: Hosts) -> None:
    hosts.responder("silent", lambda msg: None)
    flow = (RequestSpec("GET", "/x"),)
    result = run_nats_load(
        plan(hosts.url, flow, concurrency=2, iterations=4, timeout=0.2), [hosts.url], "silent"
    )
    assert result.requests == 4 and result.errors == errors_only(result, "timeout")


def test_unreachable_server_is_connect_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        url = f"nats://127.0.0.1:{sock.getsockname()[1]}"  # bound, not listening: refused
        flow = (RequestSpec("GET", "/x"),)
        result = run_nats_load(plan(url, flow, iterations=5, connect_timeout=0.3), [url], "svc")
    assert result.requests == 5 and result.errors == errors_only(result, "connect")


def test_open_loop_is_refused(hosts: Hosts) -> None:
    with pytest.raises(ValueError, match="HTTP-only"):
        run_nats_load(plan(hosts.url, rate=100, duration=1), [hosts.url], "catalog")


def test_error_window(hosts: Hosts) -> None:
    """Answers 500 from 0.3 s to 0.6 s after the first request: the window is found."""
    started: list[float] = []

    def handler(msg: Msg) -> Answer:
        now = time.monotonic()
        if not started:
            started.append(now)
        return status(500 if 0.3 <= now - started[0] < 0.6 else 200)

    hosts.responder("flaky", handler)
    flow = (RequestSpec("GET", "/x"),)
    result = run_nats_load(plan(hosts.url, flow, concurrency=4, duration=1.0), [hosts.url], "flaky")
    assert result.errors["status"] > 0 and result.ok > 0
    assert result.first_error_at is not None and result.last_error_at is not None
    assert 0.2 <= result.first_error_at <= 0.5
    assert 0.4 <= result.last_error_at <= 0.8
    assert len(result.error_times) == result.errors["status"]
    assert {kind for _, kind in result.error_times} == {"status"}
    assert result.error_times[0][0] == result.first_error_at
    again = LoadResult.from_json(result.to_json())
    assert again.error_times == result.error_times
    assert (again.first_error_at, again.last_error_at) == (
        result.first_error_at,
        result.last_error_at,
    )


def test_error_times_stay_bounded() -> None:
    times = ErrorTimes(limit=10)
    for n in range(1000):
        times.add(n / 1000, "timeout")
    assert (times.first, times.last) == (0.0, 0.999)
    assert 5 <= len(times.times) < 10
    stride = round(times.times[1][0] - times.times[0][0], 6)
    assert all(round(b[0] - a[0], 6) == stride for a, b in itertools.pairwise(times.times))
    merged = thin_error_times([(0.5, "status"), (0.1, "connect"), (0.3, "status")], limit=2)
    assert merged == [(0.1, "connect"), (0.5, "status")]
