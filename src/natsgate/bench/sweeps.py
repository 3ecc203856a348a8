"""Sweeps: throughput against concurrency, and the highest sustainable rate.

Saturation and latency are measured separately, because a closed loop at full
speed says nothing about latency under a normal load::

    concurrency sweep   closed loop at 1, 4, 16, 64, 256, 1000, 2500 flows in flight
    instances sweep     closed loop at 64 flows in flight against 1, 2 and 4 service
                        instances (a fresh stack each: a queue group of N on NATS,
                        N upstreams round robin on HTTP)
    rate sweep          open loop: raise the rate until a transport stops keeping up
                        (achieved < 99% of target, or p99 over the bound, or errors),
                        bisect to its highest sustainable rate, then measure latency
                        at 25%, 50% and 75% of it, corrected for coordinated omission

Every point runs the transports back to back (rotated per point), so drift on
this shared machine spreads over all of them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from natsgate.bench import stats
from natsgate.bench.runner import BenchSettings, run_trial
from natsgate.bench.scenarios import Scenario
from natsgate.bench.schema import Sweep, SweepPoint, Transport, Trial
from natsgate.bench.stack import Stack

__all__ = [
    "CONCURRENCY_POINTS",
    "INSTANCE_POINTS",
    "SweepSettings",
    "concurrency_sweep",
    "instances_sweep",
    "rate_sweep",
]

logger = logging.getLogger("natsgate.bench")

CONCURRENCY_POINTS = (1, 4, 16, 64, 256, 1000, 2500)
INSTANCE_POINTS = (1, 2, 4)
LATENCY_FRACTIONS = (0.25, 0.5, 0.75)


@dataclass(frozen=True)
class SweepSettings:
    point_seconds: float = 5.0
    p99_bound_us: float = 50_000.0  # a rate whose p99 exceeds this is not sustainable
    start_rate: float = 500.0
    bisect_steps: int = 3


def _point(trial: Trial, x: float) -> SweepPoint:
    latency = trial["latency_corrected_us"] or trial["latency_us"]
    return SweepPoint(
        transport=trial["transport"],
        x=x,
        requests_per_second=trial["requests_per_second"],
        p50_us=latency["p50"],
        p99_us=latency["p99"],
        errors=sum(trial["errors"].values()),
    )


def concurrency_sweep(
    stack: Stack,
    scenario: Scenario,
    settings: BenchSettings,
    sweep: SweepSettings,
    points: Sequence[int] = CONCURRENCY_POINTS,
    on_trial: Callable[[Trial], None] | None = None,
) -> Sweep:
    """Closed-loop throughput of each transport at each concurrency."""
    result: list[SweepPoint] = []
    order = stats.interleaved_order(settings.transports, len(points), settings.order)
    for concurrency, transports in zip(points, order, strict=True):
        at = replace(
            scenario, concurrency=concurrency, iterations=None, duration=sweep.point_seconds
        )
        for transport in transports:
            trial = run_trial(stack, at, transport, 0, settings)  # type: ignore[arg-type]
            result.append(_point(trial, concurrency))
            if on_trial:
                on_trial(trial)
    return Sweep(name=f"{scenario.name}-concurrency", kind="concurrency", points=result)


def _sustainable(trial: Trial, target: float, sweep: SweepSettings) -> bool:
    latency = trial["latency_corrected_us"] or trial["latency_us"]
    achieved_ok = trial["requests_per_second"] >= 0.99 * target
    return (
        achieved_ok and latency["p99"] <= sweep.p99_bound_us and not any(trial["errors"].values())
    )


def _open_trial(
    stack: Stack,
    scenario: Scenario,
    transport: Transport,
    rate: float,
    settings: BenchSettings,
    sweep: SweepSettings,
) -> Trial:
    at = replace(scenario, rate=rate, iterations=None, duration=sweep.point_seconds)
    return run_trial(stack, at, transport, 0, settings)


def highest_sustainable_rate(
    stack: Stack,
    scenario: Scenario,
    transport: Transport,
    settings: BenchSettings,
    sweep: SweepSettings,
) -> tuple[float, list[SweepPoint]]:
    """Double the rate until it fails, then bisect between the last good and first bad."""
    probes: list[SweepPoint] = []
    good, bad = 0.0, sweep.start_rate
    while True:
        trial = _open_trial(stack, scenario, transport, bad, settings, sweep)
        probes.append(_point(trial, bad))
        if not _sustainable(trial, bad, sweep):
            break
        good, bad = bad, bad * 2
    for _ in range(sweep.bisect_steps):
        middle = (good + bad) / 2
        trial = _open_trial(stack, scenario, transport, middle, settings, sweep)
        probes.append(_point(trial, middle))
        if _sustainable(trial, middle, sweep):
            good = middle
        else:
            bad = middle
    logger.info("%s: highest sustainable rate %.0f req/s", transport, good)
    return good, probes


def rate_sweep(
    stack: Stack, scenario: Scenario, settings: BenchSettings, sweep: SweepSettings
) -> Sweep:
    """Each transport's highest sustainable rate, and its latency at fractions of it.

    The direct-NATS baseline has no open loop, so it sits this sweep out.
    """
    limits: dict[str, float] = {}
    points: list[SweepPoint] = []
    transports = [t for t in settings.transports if t != "direct-nats"]
    for transport in transports:
        limit, _probes = highest_sustainable_rate(stack, scenario, transport, settings, sweep)
        limits[transport] = limit
    for fraction in LATENCY_FRACTIONS:
        for transport in transports:
            rate = limits[transport] * fraction
            if rate <= 0:
                continue
            trial = _open_trial(stack, scenario, transport, rate, settings, sweep)
            points.append(_point(trial, rate))
    return Sweep(name=f"{scenario.name}-rate", kind="rate", points=points, limits=limits)


def instances_sweep(
    scenario: Scenario,
    settings: BenchSettings,
    sweep: SweepSettings,
    points: Sequence[int] = INSTANCE_POINTS,
) -> Sweep:
    """Closed-loop throughput of each transport as service instances are added.

    Each point starts a stack of its own, so it must run while no other stack
    is serving (an external NATS would otherwise see two queue groups' members).
    """
    at = replace(scenario, concurrency=64, iterations=None, duration=sweep.point_seconds)
    result: list[SweepPoint] = []
    for instances in points:
        stack = Stack(
            settings.out / f"instances-{instances}",
            nats_urls=list(settings.nats_urls),
            cluster=settings.cluster,
            service_instances=instances,
            gateway_workers=settings.gateway_workers,
            route_timeout=settings.timeout,
        )
        with stack:
            for transport in settings.transports:
                trial = run_trial(stack, at, transport, 0, settings)
                result.append(_point(trial, instances))
    return Sweep(name=f"{scenario.name}-instances", kind="instances", points=result)
