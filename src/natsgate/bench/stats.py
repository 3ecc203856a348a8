"""Summaries over repeated trials: medians, spread, and ratios with bootstrap intervals.

With a handful of trials per transport the median is the robust centre; the
95% interval of a ratio of medians comes from resampling each side's trials
with replacement (a percentile bootstrap, seeded so a report is reproducible).
"""

from __future__ import annotations

import random
import statistics
from collections.abc import Sequence

from natsgate.bench.schema import Figure, Ratio, Transport, TransportSummary, Trial

__all__ = ["bootstrap_ratio", "figure", "interleaved_order", "ratios", "summarize"]

BOOTSTRAP_SAMPLES = 2000


def figure(values: Sequence[float]) -> Figure:
    return Figure(
        median=statistics.median(values),
        min=min(values),
        max=max(values),
        values=[round(v, 3) for v in values],
    )


def bootstrap_ratio(
    numerator: Sequence[float],
    denominator: Sequence[float],
    *,
    samples: int = BOOTSTRAP_SAMPLES,
    seed: int = 1,
) -> tuple[float, float, float]:
    """Median ratio and its 95% percentile-bootstrap interval."""
    rng = random.Random(seed)
    point = statistics.median(numerator) / statistics.median(denominator)
    ratios = []
    for _ in range(samples):
        num = statistics.median(rng.choices(numerator, k=len(numerator)))
        den = statistics.median(rng.choices(denominator, k=len(denominator)))
        ratios.append(num / den)
    ratios.sort()
    low = ratios[int(0.025 * (samples - 1))]
    high = ratios[int(0.975 * (samples - 1))]
    return point, low, high


def interleaved_order(transports: Sequence[str], rounds: int, order: str) -> list[list[str]]:
    """Transports per round: ``rotate`` (ABC, BCA, CAB), ``shuffle`` (seeded) or ``fixed``.

    Interleaving spreads machine drift (another tenant, thermal throttling)
    over every transport instead of letting it land on one of them.
    """
    rng = random.Random(7)
    plan = []
    for r in range(rounds):
        names = list(transports)
        if order == "rotate":
            shift = r % len(names)
            names = names[shift:] + names[:shift]
        elif order == "shuffle":
            rng.shuffle(names)
        plan.append(names)
    return plan


def summarize(trials: Sequence[Trial]) -> dict[str, TransportSummary]:
    by_transport: dict[str, list[Trial]] = {}
    for trial in trials:
        by_transport.setdefault(trial["transport"], []).append(trial)
    return {
        transport: TransportSummary(
            requests_per_second=figure([t["requests_per_second"] for t in ts]),
            p50_us=figure([t["latency_us"]["p50"] for t in ts]),
            p99_us=figure([t["latency_us"]["p99"] for t in ts]),
            wall_seconds=figure([t["wall_seconds"] for t in ts]),
            errors=sum(sum(t["errors"].values()) for t in ts),
        )
        for transport, ts in by_transport.items()
    }


def ratios(
    trials: Sequence[Trial], pairs: Sequence[tuple[Transport, Transport]]
) -> dict[str, Ratio]:
    """Throughput ratios ``a/b`` (above 1: a carried more) for the pairs that were run."""
    rates: dict[str, list[float]] = {}
    for trial in trials:
        rates.setdefault(trial["transport"], []).append(trial["requests_per_second"])
    out: dict[str, Ratio] = {}
    for num, den in pairs:
        if rates.get(num) and rates.get(den) and min(rates[den]) > 0:
            median, low, high = bootstrap_ratio(rates[num], rates[den])
            out[f"{num}/{den}"] = Ratio(
                median=round(median, 4),
                ci_low=round(low, 4),
                ci_high=round(high, 4),
                numerator=num,
                denominator=den,
            )
    return out
