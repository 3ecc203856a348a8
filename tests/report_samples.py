"""Realistic ``report.json`` contents for the report's tests, built to follow the schema.

``make_report()`` gives three seed scenarios (http, http-close, nats; 3 rounds), an
open-loop scenario with corrected histograms, direct baselines in one scenario, a
concurrency and a rate sweep, and errors in the parallel http-close trials. Keyword
arguments turn each part off so the report can be tried on any subset.
"""

from __future__ import annotations

import random
import statistics
from collections.abc import Sequence
from typing import Any, cast

from hdrh.histogram import HdrHistogram

from natsgate.bench.schema import (
    SCHEMA_VERSION,
    Figure,
    Percentiles,
    ProcessUsage,
    Published,
    Ratio,
    Report,
    Scenario,
    Sweep,
    SweepPoint,
    TimelinePoint,
    TransportSummary,
    Trial,
)

SEED_TRANSPORTS = ("http", "http-close", "nats")
PROCESSES = ("nats-server", "service", "gateway", "load")

# Typical request rate (closed loop) and median latency (us) per scenario and transport.
_BASE: dict[str, dict[str, tuple[float, float]]] = {
    "seed-sequential": {
        "http": (3400.0, 280.0),
        "http-close": (2100.0, 460.0),
        "nats": (2600.0, 370.0),
        "direct-http": (9000.0, 105.0),
        "direct-nats": (4500.0, 210.0),
    },
    "seed-payload": {
        "http": (3100.0, 310.0),
        "http-close": (1900.0, 500.0),
        "nats": (2450.0, 395.0),
    },
    "seed-parallel": {
        "http": (11800.0, 4100.0),
        "http-close": (4700.0, 9800.0),
        "nats": (19600.0, 2400.0),
    },
    "open-rate": {
        "http": (2000.0, 300.0),
        "http-close": (2000.0, 520.0),
        "nats": (2000.0, 390.0),
    },
}

_PUBLISHED: dict[str, Published] = {
    "seed-sequential": {
        "http_minutes": 12.0,
        "nats_minutes": 5.0,
        "ratio": 2.4,
        "note": "50,000 requests, sequential, no payload",
    },
    "seed-payload": {
        "http_minutes": 12.0,
        "nats_minutes": 5.0,
        "ratio": 2.4,
        "note": "50,000 requests, sequential, with ~1 KB payload",
    },
    "seed-parallel": {
        "http_minutes": 18.0,
        "nats_minutes": 1.6,
        "ratio": 11.25,
        "note": "50,000 requests, 2,500 concurrent",
    },
}

_TITLES = {
    "seed-sequential": ("Sequential, no payload", "closed", 1, None, 2000),
    "seed-payload": ("Sequential, ~1 KB payload", "closed", 1, None, 2000),
    "seed-parallel": ("Parallel, 2,500 flows in flight", "closed", 2500, None, 5000),
    "open-rate": ("Open loop at 2,000 requests/s", "open", 64, 2000.0, None),
}


def make_report(
    *,
    rounds: int = 3,
    scenarios: Sequence[str] = ("seed-sequential", "seed-payload", "seed-parallel", "open-rate"),
    transports: Sequence[str] = SEED_TRANSPORTS,
    direct: bool = True,
    errors: bool = True,
    sweeps: bool = True,
    seed: int = 7,
    speed: float = 1.0,
) -> Report:
    """A whole report; ``speed`` scales every rate (to make a second, different run)."""
    rng = random.Random(seed)
    built = [
        _scenario(name, rng, rounds, _transports_for(name, transports, direct), errors, speed)
        for name in scenarios
    ]
    return {
        "schema": SCHEMA_VERSION,
        "meta": _meta(rounds),
        "scenarios": built,
        "sweeps": [_concurrency_sweep(rng, speed), _rate_sweep(rng)] if sweeps else [],
    }


def _transports_for(name: str, transports: Sequence[str], direct: bool) -> list[str]:
    chosen = list(transports)
    if direct and name == "seed-sequential":
        chosen += ["direct-http", "direct-nats"]
    return chosen


def _meta(rounds: int) -> Any:
    return {
        "started": "2026-12-03T16:00:00Z",
        "finished": "2026-12-03T16:21:40Z",
        "duration_seconds": 1300.4,
        "git_revision": "7f5cd0e1a2b3c4d5e6f708192a3b4c5d6e7f8091",
        "command": ["natsgate", "bench", "--scale", "0.04", "--out", "runs/dev"],
        "settings": {"scale": 0.04, "trials": rounds, "cluster": 1, "nats_url": None},
        "versions": {
            "python": "3.11.2",
            "natsgate": "0.1.0",
            "nats-server": "2.10.22",
            "nats-py": "2.16.0",
            "aiohttp": "3.10.5",
            "uvloop": "0.21.0",
        },
        "machine": {
            "cpu_model": "Intel(R) Xeon(R) CPU @ 2.20GHz",
            "cores": 2,
            "kernel": "6.1.0-18-amd64",
            "memory_bytes": 8 * 1024**3,
            "platform": "Linux-6.1.0-18-amd64-x86_64-with-glibc2.36",
        },
    }


def _scenario(
    name: str, rng: random.Random, rounds: int, transports: list[str], errors: bool, speed: float
) -> Scenario:
    title, mode, concurrency, rate, iterations = _TITLES[name]
    trials = [
        _trial(name, transport, rnd, rng, errors, speed)
        for rnd in range(rounds)
        for transport in transports
    ]
    scenario: Scenario = {
        "name": name,
        "title": title,
        "description": f"{title}: 3 GETs per iteration (/items, /items/1, /items/error).",
        "mode": cast(Any, mode),
        "concurrency": concurrency,
        "rate": rate,
        "iterations": iterations,
        "duration": 10.0 if iterations is None else None,
        "flow": [
            {"method": "GET", "path": "/items", "body_bytes": 0, "expect_status": 200},
            {"method": "GET", "path": "/items/1", "body_bytes": 0, "expect_status": 200},
            {"method": "GET", "path": "/items/error", "body_bytes": 0, "expect_status": 404},
        ],
        "trials": trials,
        "summary": {t: _summary([x for x in trials if x["transport"] == t]) for t in transports},
        "ratios": _ratios(trials, rng),
    }
    if name in _PUBLISHED:
        scenario["published"] = _PUBLISHED[name]
    return scenario


def _trial(
    name: str, transport: str, rnd: int, rng: random.Random, errors: bool, speed: float
) -> Trial:
    base_rate, base_p50 = _BASE[name][transport]
    _, mode, concurrency, rate, iterations = _TITLES[name]
    open_loop = mode == "open"
    rps = base_rate * (1.0 if open_loop else speed * rng.uniform(0.93, 1.07))
    wall = 10.0 if iterations is None else iterations * 3 / rps
    requests = round(rps * wall)
    failed = _errors(name, transport, requests, rng) if errors else {}
    ok = requests - sum(failed.values())
    histogram, mean = _histogram(ok, base_p50 / speed, rng)
    corrected, corrected_mean = (
        _histogram(ok, base_p50 * 1.3, rng, 3.0) if open_loop else (None, 0.0)
    )
    usage = _processes(name, transport, wall, rng)
    bottleneck = max(usage, key=lambda p: usage[p]["cpu_seconds"])
    return {
        "transport": cast(Any, transport),
        "round": rnd,
        "mode": cast(Any, mode),
        "concurrency": concurrency,
        "rate": rate,
        "iterations": iterations if iterations is not None else requests // 3,
        "requests": requests,
        "ok": ok,
        "errors": failed,
        "wall_seconds": round(wall, 3),
        "requests_per_second": requests / wall,
        "latency_us": _percentiles(histogram, mean),
        "latency_corrected_us": None
        if corrected is None
        else _percentiles(corrected, corrected_mean),
        "histogram": histogram.encode().decode("ascii"),
        "histogram_corrected": None if corrected is None else corrected.encode().decode("ascii"),
        "timeline": _timeline(wall, rps, base_p50, failed, rng),
        "processes": usage,
        "bottleneck": bottleneck,
        "generator_saturated": usage["load"]["cpu_percent_of_core"] > 90.0,
    }


def _errors(name: str, transport: str, requests: int, rng: random.Random) -> dict[str, int]:
    if name == "seed-parallel" and transport == "http-close":
        return {"connect": rng.randint(300, 900), "timeout": rng.randint(5, 40)}
    return {}


def _histogram(
    count: int, p50: float, rng: random.Random, tail: float = 1.0
) -> tuple[HdrHistogram, float]:
    """A log-normal body with a thin slow tail, recorded with counts (fast for many samples)."""
    histogram = HdrHistogram(1, 60_000_000, 3)
    samples = max(1, min(count, 2000))
    weight, extra = divmod(count, samples)
    total = 0.0
    for index in range(samples):
        value = rng.lognormvariate(0.0, 0.35) * p50
        if rng.random() < 0.01:
            value *= rng.uniform(3.0, 12.0) * tail
        times = weight + (1 if index < extra else 0)
        histogram.record_value(max(1, int(value)), times)
        total += int(value) * times
    return histogram, (total / count if count else 0.0)


def _percentiles(histogram: HdrHistogram, mean: float) -> Percentiles:
    enough = histogram.get_total_count() >= 10_000
    values = histogram.get_percentile_to_value_dict([50.0, 90.0, 99.0, 99.9])
    return {
        "p50": float(values[50.0]),
        "p90": float(values[90.0]),
        "p99": float(values[99.0]),
        "p99_9": float(values[99.9]) if enough else None,
        "max": float(histogram.get_max_value()),
        "mean": mean,
    }


def _timeline(
    wall: float, rps: float, p50: float, failed: dict[str, int], rng: random.Random
) -> list[TimelinePoint]:
    seconds = max(1, int(wall))
    spread = sum(failed.values()) // seconds
    return [
        {
            "t": float(second),
            "requests": int(rps * rng.uniform(0.9, 1.1)),
            "errors": spread + (rng.randint(0, 3) if spread else 0),
            "p50_us": p50 * rng.uniform(0.95, 1.05),
            "p99_us": p50 * rng.uniform(2.5, 4.0),
        }
        for second in range(seconds)
    ]


def _processes(
    name: str, transport: str, wall: float, rng: random.Random
) -> dict[str, ProcessUsage]:
    parallel = name == "seed-parallel"
    share = {
        "nats-server": 0.25 if "nats" in transport else 0.01,
        "service": 0.55 if parallel else 0.35,
        "gateway": 0.97 if parallel else (0.01 if transport.startswith("direct") else 0.75),
        "load": 0.93 if parallel and transport == "nats" else 0.45,
    }
    usage: dict[str, ProcessUsage] = {}
    for process in PROCESSES:
        percent = share[process] * 100 * rng.uniform(0.95, 1.03)
        usage[process] = {
            "pids": [1000 + PROCESSES.index(process)],
            "cpu_seconds": round(percent / 100 * wall, 3),
            "cpu_percent_of_core": percent,
            "peak_rss_bytes": rng.randint(20, 90) * 1024 * 1024,
            "ctx_switches_voluntary": rng.randint(1000, 90000),
            "ctx_switches_involuntary": rng.randint(10, 900),
            "open_sockets": rng.randint(2, 40),
        }
    return usage


def _figure(values: list[float]) -> Figure:
    return {
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
        "values": values,
    }


def _summary(trials: list[Trial]) -> TransportSummary:
    return {
        "requests_per_second": _figure([t["requests_per_second"] for t in trials]),
        "p50_us": _figure([t["latency_us"]["p50"] for t in trials]),
        "p99_us": _figure([t["latency_us"]["p99"] for t in trials]),
        "wall_seconds": _figure([t["wall_seconds"] for t in trials]),
        "errors": sum(sum(t["errors"].values()) for t in trials),
    }


def _ratios(trials: list[Trial], rng: random.Random) -> dict[str, Ratio]:
    rates: dict[str, list[float]] = {}
    for trial in trials:
        rates.setdefault(trial["transport"], []).append(trial["requests_per_second"])
    pairs = [("nats", "http"), ("nats", "http-close"), ("http", "http-close")]
    pairs += [("direct-http", "http"), ("direct-nats", "nats")]
    ratios: dict[str, Ratio] = {}
    for numerator, denominator in pairs:
        if numerator in rates and denominator in rates:
            ratios[f"{numerator}/{denominator}"] = _bootstrap(
                rates[numerator], rates[denominator], numerator, denominator, rng
            )
    return ratios


def _bootstrap(
    top: list[float], bottom: list[float], numerator: str, denominator: str, rng: random.Random
) -> Ratio:
    draws = sorted(
        statistics.median(rng.choices(top, k=len(top)))
        / statistics.median(rng.choices(bottom, k=len(bottom)))
        for _ in range(400)
    )
    return {
        "median": statistics.median(top) / statistics.median(bottom),
        "ci_low": draws[9],
        "ci_high": draws[389],
        "numerator": cast(Any, numerator),
        "denominator": cast(Any, denominator),
    }


def _concurrency_sweep(rng: random.Random, speed: float) -> Sweep:
    peak = {"http": 12000.0, "http-close": 4900.0, "nats": 20000.0}
    points: list[SweepPoint] = []
    for transport, top in peak.items():
        for x in (1, 10, 50, 200):
            rps = top * speed * min(1.0, (x / 50) ** 0.6) * rng.uniform(0.95, 1.05)
            points.append(
                {
                    "transport": cast(Any, transport),
                    "x": float(x),
                    "requests_per_second": rps,
                    "p50_us": x / rps * 1e6,
                    "p99_us": x / rps * 3.2e6,
                    "errors": 0,
                }
            )
    return {"name": "concurrency", "kind": "concurrency", "points": points}


def _rate_sweep(rng: random.Random) -> Sweep:
    knee = {"http": 9000.0, "http-close": 3500.0, "nats": 15000.0}
    points: list[SweepPoint] = []
    for transport, limit in knee.items():
        for x in (1000, 2000, 4000, 8000):
            load = min(x / limit, 0.98)
            points.append(
                {
                    "transport": cast(Any, transport),
                    "x": float(x),
                    "requests_per_second": min(x, limit) * rng.uniform(0.98, 1.0),
                    "p50_us": 300 / (1 - load),
                    "p99_us": 1100 / (1 - load) ** 1.5,
                    "errors": 0 if x < limit else int(x * 0.01),
                }
            )
    return {"name": "rate", "kind": "rate", "points": points}
