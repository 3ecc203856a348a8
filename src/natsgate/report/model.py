"""Figures derived from a report, shared by every rendering.

The renderers never walk ``report.json`` themselves: they ask this module for
a scenario's transports (in a fixed reading order), merged latency histograms,
process usage, errors and ratios, so a report with any subset of transports,
one round or no sweeps reads the same way everywhere::

    Scenario --trials_of(transport)--> [Trial] --merged_histogram--> HdrHistogram
                                               --latency------------> Percentiles
                                               --process_usage------> {process: Usage}
             --ratio(num, den)-----> RatioFigure (from "ratios", else from medians)
"""

from __future__ import annotations

import functools
import logging
import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from hdrh.histogram import HdrHistogram

from natsgate.bench.schema import Figure, Percentiles, Report, Scenario, Trial

__all__ = [
    "PROCESSES",
    "TRANSPORT_ORDER",
    "ErrorNote",
    "RatioFigure",
    "Usage",
    "bottleneck",
    "error_counts",
    "error_notes",
    "latency",
    "merged_histogram",
    "p50",
    "percentiles_of",
    "process_usage",
    "processes_in",
    "rate_figure",
    "ratio",
    "saturated_notes",
    "sort_transports",
    "transports",
    "trials_of",
    "wall_figure",
]

logger = logging.getLogger("natsgate.report")

# Reading order: the original's setup first, then the fair comparison, then baselines.
TRANSPORT_ORDER = ("http-close", "http", "nats", "direct-http", "direct-nats")
PROCESSES = ("nats-server", "service", "gateway", "load")
FULL_PERCENTILE_SAMPLES = 10_000  # below this, p99.9 is not reported


@dataclass(frozen=True, slots=True)
class RatioFigure:
    """``numerator`` rate over ``denominator`` rate (>1: numerator is faster)."""

    median: float
    ci_low: float | None
    ci_high: float | None


@dataclass(frozen=True, slots=True)
class Usage:
    """One process over a transport's trials: medians of CPU, the peak of memory."""

    cpu_seconds: float
    cpu_percent_of_core: float
    peak_rss_bytes: int


@dataclass(frozen=True, slots=True)
class ErrorNote:
    scenario: str
    transport: str
    errors: dict[str, int]
    failed_trials: int
    trials: int
    requests: int


def _order_key(transport: str) -> tuple[int, str]:
    known = transport in TRANSPORT_ORDER
    return (TRANSPORT_ORDER.index(transport) if known else len(TRANSPORT_ORDER), transport)


def sort_transports(names: Iterable[str]) -> list[str]:
    return sorted(set(names), key=_order_key)


def transports(scenario: Scenario) -> list[str]:
    """Every transport the scenario ran or summarised, in reading order."""
    names = [t["transport"] for t in scenario["trials"]]
    return sort_transports([*names, *scenario.get("summary", {})])


def trials_of(scenario: Scenario, transport: str) -> list[Trial]:
    return [t for t in scenario["trials"] if t["transport"] == transport]


def _figure(values: Sequence[float]) -> Figure | None:
    if not values:
        return None
    return {
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
        "values": list(values),
    }


def rate_figure(scenario: Scenario, transport: str) -> Figure | None:
    """Requests/s median and spread: the bench's summary, else computed from the trials."""
    summary = scenario.get("summary", {}).get(transport)
    if summary is not None:
        return summary["requests_per_second"]
    return _figure([t["requests_per_second"] for t in trials_of(scenario, transport)])


def wall_figure(scenario: Scenario, transport: str) -> Figure | None:
    summary = scenario.get("summary", {}).get(transport)
    if summary is not None:
        return summary["wall_seconds"]
    return _figure([t["wall_seconds"] for t in trials_of(scenario, transport)])


def ratio(scenario: Scenario, numerator: str, denominator: str) -> RatioFigure | None:
    """The bench's ratio with its interval, else a plain ratio of median rates."""
    given = scenario.get("ratios", {}).get(f"{numerator}/{denominator}")
    if given is not None:
        return RatioFigure(given["median"], given["ci_low"], given["ci_high"])
    top = rate_figure(scenario, numerator)
    bottom = rate_figure(scenario, denominator)
    if top is None or bottom is None or bottom["median"] <= 0:
        return None
    return RatioFigure(top["median"] / bottom["median"], None, None)


def _decode(encoded: str | None) -> HdrHistogram | None:
    if not encoded:
        return None
    try:
        return HdrHistogram.decode(encoded)
    except Exception:  # a damaged histogram must not take the whole report down
        logger.warning("skipping a histogram that does not decode")
        return None


def merged_histogram(trials: Sequence[Trial], *, corrected: bool = False) -> HdrHistogram | None:
    """All trials' latency histograms added into one (lossless); None when there are none.

    The result is cached and shared: callers read it, never record into it.
    """
    key = "histogram_corrected" if corrected else "histogram"
    encoded = tuple(t.get(key) or "" for t in trials)  # type: ignore[misc]
    return _merge(encoded)


@functools.lru_cache(maxsize=256)
def _merge(encoded: tuple[str, ...]) -> HdrHistogram | None:
    merged: HdrHistogram | None = None
    for text in encoded:
        histogram = _decode(text)
        if histogram is None:
            continue
        if merged is None:
            merged = histogram
        else:
            merged.add(histogram)
    return merged


def percentiles_of(histogram: HdrHistogram, mean: float) -> Percentiles:
    """Percentiles read from ``histogram``; ``mean`` is given (the histogram's own is slow)."""
    enough = histogram.get_total_count() >= FULL_PERCENTILE_SAMPLES
    values = histogram.get_percentile_to_value_dict([50.0, 90.0, 99.0, 99.9])  # one pass
    return {
        "p50": float(values[50.0]),
        "p90": float(values[90.0]),
        "p99": float(values[99.0]),
        "p99_9": float(values[99.9]) if enough else None,
        "max": float(histogram.get_max_value()),
        "mean": mean,
    }


def _mean(given: Sequence[Percentiles], weights: Sequence[int]) -> float:
    total = sum(weights)
    if not given or total <= 0:
        return statistics.fmean(p["mean"] for p in given) if given else 0.0
    return sum(p["mean"] * w for p, w in zip(given, weights, strict=True)) / total


def latency(trials: Sequence[Trial], *, corrected: bool = False) -> Percentiles | None:
    """Percentiles over all trials' samples; falls back to the trials' own figures."""
    key = "latency_corrected_us" if corrected else "latency_us"
    pairs = [(t[key], t["ok"]) for t in trials if t.get(key)]  # type: ignore[literal-required]
    given = [p for p, _ in pairs]
    histogram = merged_histogram(trials, corrected=corrected)
    if histogram is not None and histogram.get_total_count() > 0:
        return percentiles_of(histogram, _mean(given, [w for _, w in pairs]))
    return _median_percentiles(given)


def _median_percentiles(given: Sequence[Percentiles]) -> Percentiles | None:
    if not given:
        return None
    p99_9 = [p["p99_9"] for p in given if p["p99_9"] is not None]
    return {
        "p50": statistics.median(p["p50"] for p in given),
        "p90": statistics.median(p["p90"] for p in given),
        "p99": statistics.median(p["p99"] for p in given),
        "p99_9": statistics.median(p99_9) if len(p99_9) == len(given) else None,
        "max": max(p["max"] for p in given),
        "mean": statistics.median(p["mean"] for p in given),
    }


def processes_in(trials: Sequence[Trial]) -> list[str]:
    names = {name for trial in trials for name in trial["processes"]}
    known = [p for p in PROCESSES if p in names]
    return known + sorted(names - set(PROCESSES))


def process_usage(trials: Sequence[Trial]) -> dict[str, Usage]:
    usage: dict[str, Usage] = {}
    for name in processes_in(trials):
        seen = [t["processes"][name] for t in trials if name in t["processes"]]
        usage[name] = Usage(
            cpu_seconds=statistics.median(p["cpu_seconds"] for p in seen),
            cpu_percent_of_core=statistics.median(p["cpu_percent_of_core"] for p in seen),
            peak_rss_bytes=max(p["peak_rss_bytes"] for p in seen),
        )
    return usage


def bottleneck(trials: Sequence[Trial]) -> str | None:
    """The process most often named the bottleneck over the trials."""
    named = Counter(t["bottleneck"] for t in trials if t.get("bottleneck"))
    return named.most_common(1)[0][0] if named else None


def error_counts(trials: Iterable[Trial]) -> dict[str, int]:
    total: Counter[str] = Counter()
    for trial in trials:
        total.update({kind: n for kind, n in trial["errors"].items() if n})
    return dict(total)


def error_notes(report: Report) -> list[ErrorNote]:
    """Every (scenario, transport) that had a failed request, in report order."""
    notes = []
    for scenario in report["scenarios"]:
        for transport in transports(scenario):
            trials = trials_of(scenario, transport)
            errors = error_counts(trials)
            if not errors:
                continue
            failed = sum(1 for t in trials if any(t["errors"].values()))
            requests = sum(t["requests"] for t in trials)
            notes.append(
                ErrorNote(scenario["name"], transport, errors, failed, len(trials), requests)
            )
    return notes


def saturated_notes(report: Report) -> list[tuple[str, str, int, int]]:
    """(scenario, transport, saturated trials, trials) where the load generator was the limit."""
    notes = []
    for scenario in report["scenarios"]:
        for transport in transports(scenario):
            trials = trials_of(scenario, transport)
            hit = sum(1 for t in trials if t.get("generator_saturated"))
            if hit:
                notes.append((scenario["name"], transport, hit, len(trials)))
    return notes


def p50(scenario: Scenario, transport: str) -> float | None:
    """Median latency: the bench's summary, else from the merged histograms."""
    summary = scenario.get("summary", {}).get(transport)
    if summary is not None:
        return summary["p50_us"]["median"]
    found = latency(trials_of(scenario, transport))
    return None if found is None else found["p50"]
