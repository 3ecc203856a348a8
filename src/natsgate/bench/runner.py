"""Runs scenarios over every transport, in interleaved trials, and assembles the report.

::

    for scenario:                       seed-sequential, seed-payload, ...
        for round in 1..K:              transports interleaved per round (rotated)
            for transport:              http, http-close, nats (+ direct-http)
                UsageMonitor.start()    CPU/memory of nats-server, service, gateway
                run_load(plan)          the load generator, its own CPU recorded too
                UsageMonitor.stop()
                -> Trial
        -> Scenario: trials, summary per transport, ratios with bootstrap CI

A count-based scenario's iterations are divided among its K trials, so at
scale 1 each transport serves exactly the original's 50,000 iterations.
"""

from __future__ import annotations

import datetime as dt
import logging
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from natsgate.bench import meta, stats
from natsgate.bench.scenarios import Scenario, scenario_flow
from natsgate.bench.schema import (
    SCHEMA_VERSION,
    FailoverTrial,
    Percentiles,
    ProcessUsage,
    Report,
    Sweep,
    Transport,
    Trial,
)
from natsgate.bench.schema import Scenario as ScenarioReport
from natsgate.bench.stack import ROUTE_PREFIXES, Stack
from natsgate.bench.usage import UsageMonitor
from natsgate.load import LoadPlan, LoadResult, run_load, run_nats_load

__all__ = ["BenchSettings", "run_bench"]

logger = logging.getLogger("natsgate.bench")

GATEWAY_TRANSPORTS: tuple[Transport, ...] = ("http", "http-close", "nats")
RATIO_PAIRS: tuple[tuple[Transport, Transport], ...] = (
    ("nats", "http"),
    ("nats", "http-close"),
    ("http", "http-close"),
    ("http", "direct-http"),
    ("nats", "direct-nats"),
)

Progress = Callable[[str, int, int], Callable[[int], None]]


@dataclass(frozen=True)
class BenchSettings:
    scenarios: Sequence[Scenario]
    out: Path
    transports: Sequence[Transport] = GATEWAY_TRANSPORTS
    trials: int = 5
    order: str = "rotate"
    warmup: float = 1.0
    workers: int = 1
    timeout: float = 30.0
    nats_urls: Sequence[str] = ()
    cluster: int = 1
    service_instances: int = 1
    gateway_workers: int = 1
    scale: float = 1.0
    command: Sequence[str] = field(default_factory=lambda: list(sys.argv))


def _target(stack: Stack, transport: Transport) -> tuple[str, str]:
    """Base URL and path prefix that reach the service through ``transport``."""
    if transport == "direct-http":
        return stack.service_http_url, ""
    if transport == "direct-nats":
        return stack.nats_urls[0], ""
    return stack.gateway_url, ROUTE_PREFIXES[transport]


def _drive(
    stack: Stack, transport: Transport, plan: LoadPlan, progress: Callable[[int], None] | None
) -> LoadResult:
    """Run the load: over HTTP, or (the direct NATS baseline) as NATS requests."""
    if transport == "direct-nats":
        return run_nats_load(plan, stack.nats_urls, stack.subject_prefix, progress)
    return run_load(plan, progress=progress)


def _percentiles(result: LoadResult, corrected: bool = False) -> Percentiles:
    values = result.percentiles(corrected)
    return Percentiles(
        p50=values["p50"] or 0.0,
        p90=values["p90"] or 0.0,
        p99=values["p99"] or 0.0,
        p99_9=values["p99.9"],
        max=values["max"] or 0.0,
        mean=round(values["mean"] or 0.0, 1),
    )


def _load_usage(result: LoadResult) -> ProcessUsage:
    workers = result.workers
    cpu = sum(w["cpu_user"] + w["cpu_system"] for w in workers)
    return ProcessUsage(
        pids=[w["pid"] for w in workers],
        cpu_seconds=round(cpu, 3),
        cpu_percent_of_core=round(sum(w["cpu_percent_of_core"] for w in workers), 1),
        peak_rss_bytes=sum(w["max_rss_bytes"] for w in workers),
        ctx_switches_voluntary=sum(w["ctx_switches_voluntary"] for w in workers),
        ctx_switches_involuntary=sum(w["ctx_switches_involuntary"] for w in workers),
        open_sockets=0,
    )


def _bottleneck(processes: dict[str, ProcessUsage]) -> str | None:
    """The process that used the most CPU: the likeliest limit on a shared machine."""
    if not processes:
        return None
    return max(processes, key=lambda role: processes[role]["cpu_percent_of_core"])


def _trial_iterations(scenario: Scenario, trials: int, index: int) -> int | None:
    if scenario.iterations is None:
        return None
    share, rest = divmod(scenario.iterations, trials)
    return share + (1 if index < rest else 0)


def run_trial(
    stack: Stack,
    scenario: Scenario,
    transport: Transport,
    round_index: int,
    settings: BenchSettings,
    progress: Callable[[int], None] | None = None,
) -> Trial:
    url, prefix = _target(stack, transport)
    iterations = _trial_iterations(scenario, settings.trials, round_index)
    plan = LoadPlan(
        url=url,
        flow=scenario_flow(scenario, prefix),
        concurrency=scenario.concurrency,
        rate=scenario.rate,
        iterations=iterations,
        duration=scenario.duration,
        warmup=settings.warmup,
        workers=settings.workers,
        timeout=settings.timeout,
    )
    monitor = UsageMonitor(stack.pids())
    monitor.start()
    result = _drive(stack, transport, plan, progress)
    processes = monitor.stop()
    processes["load"] = _load_usage(result)
    for note in result.notes:
        logger.info("%s over %s: %s", scenario.name, transport, note)
    return Trial(
        transport=transport,
        round=round_index,
        mode=scenario.mode,
        concurrency=scenario.concurrency,
        rate=scenario.rate,
        iterations=result.iterations,
        requests=result.requests,
        ok=result.ok,
        errors=dict(result.errors),
        wall_seconds=round(result.wall_seconds, 4),
        requests_per_second=round(result.requests_per_second, 1),
        latency_us=_percentiles(result),
        latency_corrected_us=_percentiles(result, True) if result.corrected else None,
        histogram=result.histogram.encode().decode("ascii"),
        histogram_corrected=(
            result.corrected.encode().decode("ascii") if result.corrected else None
        ),
        timeline=cast(Any, result.timeline),
        processes=processes,
        bottleneck=_bottleneck(processes),
        generator_saturated=result.generator_saturated,
        first_error_at=result.first_error_at,
        last_error_at=result.last_error_at,
    )


def _requests_per_trial(scenario: Scenario, settings: BenchSettings, index: int) -> int:
    iterations = _trial_iterations(scenario, settings.trials, index)
    return (iterations or 0) * len(scenario.steps)


def run_scenario(
    stack: Stack, scenario: Scenario, settings: BenchSettings, progress: Progress | None
) -> ScenarioReport:
    trials: list[Trial] = []
    order = stats.interleaved_order(settings.transports, settings.trials, settings.order)
    for round_index, transports in enumerate(order):
        for transport in transports:
            label = f"{scenario.name} {transport} {round_index + 1}/{settings.trials}"
            total = _requests_per_trial(scenario, settings, round_index)
            advance = progress(label, total, round_index) if progress else None
            trial = run_trial(
                stack, scenario, cast(Transport, transport), round_index, settings, advance
            )
            trials.append(trial)
            errors = sum(trial["errors"].values())
            logger.info(
                "%s: %.0f req/s, p50 %.0f us, p99 %.0f us, %d errors",
                label,
                trial["requests_per_second"],
                trial["latency_us"]["p50"],
                trial["latency_us"]["p99"],
                errors,
            )
    report = ScenarioReport(
        name=scenario.name,
        title=scenario.title,
        description=scenario.description,
        mode=scenario.mode,
        concurrency=scenario.concurrency,
        rate=scenario.rate,
        iterations=scenario.iterations,
        duration=scenario.duration,
        flow=scenario.flow_steps(),
        trials=trials,
        summary=stats.summarize(trials),
        ratios=stats.ratios(trials, RATIO_PAIRS),
    )
    if scenario.published:
        report["published"] = scenario.published
    return report


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def run_bench(
    settings: BenchSettings,
    progress: Progress | None = None,
    sweeps: Sequence[Callable[[Stack], Sweep]] = (),
    failover: Callable[[Stack], list[FailoverTrial]] | None = None,
    after: Sequence[Callable[[], Sweep]] = (),
) -> Report:
    """Start the stack, run every scenario and sweep, stop the stack; return the report.

    ``after`` sweeps start stacks of their own, once the main one has stopped.
    """
    started, t0 = _now(), time.monotonic()
    machine = meta.machine()
    scenarios: list[ScenarioReport] = []
    swept: list[Sweep] = []
    failed_over: list[FailoverTrial] = []
    stack = Stack(
        settings.out,
        nats_urls=list(settings.nats_urls),
        cluster=settings.cluster,
        service_instances=settings.service_instances,
        gateway_workers=settings.gateway_workers,
        route_timeout=settings.timeout,
    )
    with stack:
        for scenario in settings.scenarios:
            scenarios.append(run_scenario(stack, scenario, settings, progress))
        for sweep in sweeps:
            swept.append(sweep(stack))
        if failover:
            failed_over = failover(stack)
    swept += [sweep() for sweep in after]
    report = Report(
        schema=SCHEMA_VERSION,
        meta={
            "started": started,
            "finished": _now(),
            "duration_seconds": round(time.monotonic() - t0, 1),
            "git_revision": meta.git_revision(),
            "command": list(settings.command),
            "settings": {
                "scenarios": [s.name for s in settings.scenarios],
                "transports": list(settings.transports),
                "scale": settings.scale,
                "trials": settings.trials,
                "order": settings.order,
                "warmup_seconds": settings.warmup,
                "load_workers": settings.workers,
                "request_timeout_seconds": settings.timeout,
                "nats": list(settings.nats_urls) or f"embedded ({settings.cluster} node(s))",
                "service_instances": settings.service_instances,
                "gateway_workers": settings.gateway_workers,
            },
            "versions": meta.versions(),
            "machine": machine,
        },
        scenarios=scenarios,
        sweeps=swept,
    )
    if failed_over:
        report["failover"] = failed_over
    return report
