"""Number formatting shared by the Markdown, HTML and terminal renderings.

Inputs follow ``report.json``'s units: seconds, microseconds, bytes, per second.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = [
    "count",
    "error_counts",
    "latency",
    "memory",
    "minutes",
    "percent",
    "rate",
    "ratio",
    "seconds",
    "spread",
]


def count(value: float) -> str:
    return f"{round(value):,}"


def rate(value: float) -> str:
    """Requests per second, to three significant figures at most."""
    if value >= 100:
        return f"{round(value):,}"
    return f"{value:.3g}"


def spread(low: float, high: float) -> str:
    return f"{rate(low)}-{rate(high)}"


def _significant(value: float) -> str:
    """Three significant figures, trailing zeros kept (``1.00``, ``11.0``, ``126``)."""
    return f"{value:#.3g}".rstrip(".")


def latency(value_us: float | None) -> str:
    if value_us is None:
        return "n/a"
    if value_us < 1000:
        return f"{value_us:.0f} µs"
    if value_us < 1_000_000:
        return f"{_significant(value_us / 1000)} ms"
    return f"{_significant(value_us / 1_000_000)} s"


def seconds(value: float) -> str:
    if value >= 120:
        return f"{value / 60:.1f} min"
    return f"{_significant(value)} s"


def minutes(value: float) -> str:
    return f"{value:g} min"


def percent(value: float) -> str:
    return f"{value:.0f}%"


def memory(value: float) -> str:
    mib = value / (1024 * 1024)
    if mib >= 10 * 1024:
        return f"{mib / 1024:.0f} GiB"
    return f"{mib:.0f} MiB" if mib >= 10 else f"{mib:.1f} MiB"


def ratio(median: float, low: float | None = None, high: float | None = None) -> str:
    """``1.42x (95% CI 1.31-1.55)``, or just ``1.42x`` when there is no interval."""
    text = f"{median:.2f}x"
    if low is None or high is None:
        return text
    return f"{text} (95% CI {low:.2f}-{high:.2f})"


def error_counts(errors: Mapping[str, int]) -> str:
    """``1,234 connect, 12 timeout``; ``0`` when nothing failed."""
    parts = [f"{count(n)} {kind}" for kind, n in sorted(errors.items()) if n]
    return ", ".join(parts) if parts else "0"
