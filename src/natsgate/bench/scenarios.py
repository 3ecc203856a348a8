"""The benchmark's scenarios: the original experiment's three, and fairer ones.

A scenario names a workload (a flow of requests and how many are in flight or
at what rate) independently of the transport; the runner prefixes each path
with the route of the transport under test, so every transport sees exactly
the same requests and the same expected answers::

    seed-sequential   50,000 x [GET /items, GET /items/1, GET /items/999 -> 404], 1 in flight
    seed-payload      50,000 x [POST /echo (1 KiB)] x 3, 1 in flight
    seed-parallel     50,000 x [GET /items, ...], 2,500 in flight
    keepalive-c64     the seed flow for a fixed time, 64 in flight

Figures the original published for the seed scenarios are kept beside them so
the report can show the claim next to what we measured.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal

from natsgate import catalog
from natsgate.bench.schema import FlowStep, Published
from natsgate.load import RequestSpec

__all__ = ["SCENARIOS", "Scenario", "payload_body", "scenario_flow"]

PAYLOAD_BYTES = 1024


@dataclass(frozen=True, slots=True)
class Step:
    """One request of a flow, before the transport's route prefix is added."""

    method: str
    path: str
    body: bytes = b""
    expect_status: int = 200
    expect_body: bytes | None = None
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    title: str
    description: str
    steps: tuple[Step, ...]
    concurrency: int = 1
    iterations: int | None = None
    duration: float | None = None
    rate: float | None = None
    published: Published | None = None
    min_iterations: int = field(default=20)

    @property
    def mode(self) -> Literal["closed", "open"]:
        return "open" if self.rate else "closed"

    def scaled(self, scale: float) -> Scenario:
        """The same workload with counts (and durations) multiplied by ``scale``."""
        iterations = None
        if self.iterations is not None:
            iterations = max(self.min_iterations, round(self.iterations * scale))
        duration = None if self.duration is None else max(1.0, self.duration * scale)
        concurrency = self.concurrency
        if iterations is not None:
            concurrency = min(concurrency, iterations)
        return replace(self, iterations=iterations, duration=duration, concurrency=concurrency)

    def flow_steps(self) -> list[FlowStep]:
        return [
            FlowStep(
                method=s.method, path=s.path, body_bytes=len(s.body), expect_status=s.expect_status
            )
            for s in self.steps
        ]


def payload_body() -> bytes:
    """1 KiB holding every byte value, so a transport that is not binary-safe shows."""
    return bytes(range(256)) * (PAYLOAD_BYTES // 256)


def scenario_flow(scenario: Scenario, prefix: str) -> tuple[RequestSpec, ...]:
    """The load generator's flow for ``scenario`` through the route at ``prefix``."""
    return tuple(
        RequestSpec(
            method=s.method,
            target=prefix + s.path,
            body=s.body,
            headers=s.headers,
            expect_status=s.expect_status,
            expect_body=s.expect_body,
        )
        for s in scenario.steps
    )


def _seed_steps() -> tuple[Step, ...]:
    known, unknown = catalog.KNOWN_ITEM_ID, catalog.UNKNOWN_ITEM_ID
    return (
        Step("GET", "/items", expect_body=catalog.expected_list_body("")),
        Step("GET", f"/items/{known}", expect_body=catalog.expected_item_body(known)),
        Step(
            "GET",
            f"/items/{unknown}",
            expect_status=404,
            expect_body=catalog.expected_error_body(),
        ),
    )


def _payload_steps() -> tuple[Step, ...]:
    body = payload_body()
    echo = Step(
        "POST",
        "/echo",
        body=body,
        expect_body=body,
        headers=(("Content-Type", "application/octet-stream"),),
    )
    return (echo, echo, echo)


_SEQUENTIAL_NOTE = (
    "Express proxy -> Go service, 50,000 requests one at a time; the HTTP hop opened "
    "a new connection per call; the article rounds 12 vs 5 minutes to 3x"
)

SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario(
            name="seed-sequential",
            title="Sequential, no payload (the original's first test)",
            description="The original flow of 3 GETs per iteration, one flow in flight.",
            steps=_seed_steps(),
            iterations=50_000,
            published=Published(
                http_minutes=12.0, nats_minutes=5.0, ratio=12.0 / 5.0, note=_SEQUENTIAL_NOTE
            ),
        ),
        Scenario(
            name="seed-payload",
            title="Sequential, 1 KiB payload (the original's second test)",
            description="Three POST /echo of 1 KiB per iteration, bodies checked on return.",
            steps=_payload_steps(),
            iterations=50_000,
            published=Published(
                http_minutes=12.0,
                nats_minutes=5.0,
                ratio=12.0 / 5.0,
                note="as sequential, with ~1 KB of payload per request (figures read off a chart)",
            ),
        ),
        Scenario(
            name="seed-parallel",
            title="Parallel, 2,500 in flight (the original's third test)",
            description="The original flow with 2,500 flows in flight (a sliding window).",
            steps=_seed_steps(),
            concurrency=2_500,
            iterations=50_000,
            published=Published(
                http_minutes=18.0,
                nats_minutes=1.6,
                ratio=18.0 / 1.6,
                note="bench-rest limit 2,500; the proxy's listen backlog was far below 2,500",
            ),
        ),
        Scenario(
            name="keepalive-c64",
            title="Closed loop, 64 in flight, time-boxed",
            description="The seed flow for a fixed time with 64 flows in flight: a load "
            "where neither the generator's window nor a listen backlog decides the result.",
            steps=_seed_steps(),
            concurrency=64,
            duration=20.0,
        ),
    )
}
