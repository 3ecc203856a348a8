"""The outcome of a run: worker reports merged exactly into one LoadResult.

::

    WorkerReport x workers ──merge_reports()──> LoadResult
      histogram (HDR encoded)    decode_and_add    histogram, corrected (HdrHistogram, us)
      timeline per second        summed by second  timeline [{t, requests, errors, p50_us, p99_us}]
      usage                      per worker        workers [{pid, cpu_user, ...}]
      error instants             min, max, union   first_error_at, last_error_at, error_times

``to_json`` keeps the histograms lossless as HDR encoded strings; ``from_json`` reads them
back, so a report can recompute any percentile later. ``error_times`` is the workers'
samples merged in time order, thinned to every k-th past ``MAX_ERROR_TIMES`` (see recorder).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hdrh.histogram import HdrHistogram

from natsgate.load.recorder import ERROR_KINDS, WorkerReport, new_histogram, thin_error_times

__all__ = ["P999_MIN_SAMPLES", "LoadResult", "merge_reports"]

# Below this many samples a 99.9th percentile is one of the few largest values, not a
# percentile: it is reported as None.
P999_MIN_SAMPLES = 10_000

_PERCENTILE_KEYS = ("p50", "p90", "p99", "p99.9", "max", "mean")
_SATURATED_CPU_PERCENT = 90.0
_SATURATED_RATE_RATIO = 0.99


@dataclass(slots=True)
class LoadResult:
    """Everything measured after the warmup; latencies in microseconds."""

    iterations: int
    requests: int
    ok: int
    errors: dict[str, int]
    wall_seconds: float
    requests_per_second: float
    histogram: HdrHistogram
    corrected: HdrHistogram | None
    timeline: list[dict[str, Any]]
    workers: list[dict[str, Any]]
    generator_saturated: bool
    # Open loop only: the rate asked for and the send rate achieved.
    target_rate: float | None = None
    achieved_rate: float | None = None
    notes: list[str] = field(default_factory=list)
    # Seconds since the measurement start (None without errors): the error window of a
    # failover, and a bounded sample of (instant, error class) pairs in time order.
    first_error_at: float | None = None
    last_error_at: float | None = None
    error_times: list[tuple[float, str]] = field(default_factory=list)

    def percentiles(self, corrected: bool = False) -> dict[str, float | None]:
        """p50, p90, p99, p99.9, max and mean in microseconds (None where not measurable).

        ``corrected`` asks for latencies from the intended send times: open loop only, all
        None for a closed-loop run (it has no intended times).
        """
        histogram = self.corrected if corrected else self.histogram
        if histogram is None:
            return dict.fromkeys(_PERCENTILE_KEYS)
        return _percentiles(histogram)

    def to_json(self) -> dict[str, Any]:
        return {
            "iterations": self.iterations,
            "requests": self.requests,
            "ok": self.ok,
            "errors": dict(self.errors),
            "wall_seconds": self.wall_seconds,
            "requests_per_second": self.requests_per_second,
            "latency_unit": "us",
            "percentiles": self.percentiles(),
            "percentiles_corrected": None if self.corrected is None else self.percentiles(True),
            "histogram": self.histogram.encode().decode("ascii"),
            "corrected": None
            if self.corrected is None
            else self.corrected.encode().decode("ascii"),
            "timeline": [dict(second) for second in self.timeline],
            "workers": [dict(worker) for worker in self.workers],
            "generator_saturated": self.generator_saturated,
            "target_rate": self.target_rate,
            "achieved_rate": self.achieved_rate,
            "notes": list(self.notes),
            "first_error_at": self.first_error_at,
            "last_error_at": self.last_error_at,
            "error_times": [[at, kind] for at, kind in self.error_times],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LoadResult:
        corrected = data.get("corrected")
        return cls(
            iterations=data["iterations"],
            requests=data["requests"],
            ok=data["ok"],
            errors=dict(data["errors"]),
            wall_seconds=data["wall_seconds"],
            requests_per_second=data["requests_per_second"],
            histogram=HdrHistogram.decode(data["histogram"].encode("ascii")),
            corrected=None if corrected is None else HdrHistogram.decode(corrected.encode("ascii")),
            timeline=list(data["timeline"]),
            workers=list(data["workers"]),
            generator_saturated=data["generator_saturated"],
            target_rate=data.get("target_rate"),
            achieved_rate=data.get("achieved_rate"),
            notes=list(data.get("notes", [])),
            first_error_at=data.get("first_error_at"),
            last_error_at=data.get("last_error_at"),
            error_times=[(at, kind) for at, kind in data.get("error_times", [])],
        )


def merge_reports(reports: list[WorkerReport]) -> LoadResult:
    """Merge the workers' reports: counts summed, histograms added (exact)."""
    histogram = new_histogram()
    corrected = None
    for report in reports:
        histogram.decode_and_add(report.histogram)
        if report.corrected is not None:
            corrected = corrected or new_histogram()
            corrected.decode_and_add(report.corrected)
    errors = {kind: sum(report.errors[kind] for report in reports) for kind in ERROR_KINDS}
    ok = sum(report.ok for report in reports)
    requests = ok + sum(errors.values())
    wall = max((report.wall_seconds for report in reports), default=0.0)
    workers = [_worker_row(report) for report in reports]
    target, achieved = _open_loop_rates(reports)
    saturated = any(row["cpu_percent_of_core"] > _SATURATED_CPU_PERCENT for row in workers)
    notes = []
    if target is not None and achieved is not None and achieved < target * _SATURATED_RATE_RATIO:
        saturated = True
        notes.append(f"open loop sent {achieved:.0f} req/s of the {target:.0f} asked for")
    if saturated:
        notes.append("the load generator was saturated: figures are bounded by it")
    if ok < P999_MIN_SAMPLES:
        notes.append(f"p99.9 not given: {ok} samples, fewer than {P999_MIN_SAMPLES}")
    return LoadResult(
        iterations=sum(report.iterations for report in reports),
        requests=requests,
        ok=ok,
        errors=errors,
        wall_seconds=wall,
        requests_per_second=requests / wall if wall > 0 else 0.0,
        histogram=histogram,
        corrected=corrected,
        timeline=_merge_timelines(reports),
        workers=workers,
        generator_saturated=saturated,
        target_rate=target,
        achieved_rate=achieved,
        notes=notes,
        **_error_window(reports),
    )


def _error_window(reports: list[WorkerReport]) -> dict[str, Any]:
    firsts = [r.first_error_at for r in reports if r.first_error_at is not None]
    lasts = [r.last_error_at for r in reports if r.last_error_at is not None]
    return {
        "first_error_at": min(firsts, default=None),
        "last_error_at": max(lasts, default=None),
        "error_times": thin_error_times([pair for r in reports for pair in r.error_times]),
    }


def _percentiles(histogram: HdrHistogram) -> dict[str, float | None]:
    count = histogram.get_total_count()
    if count == 0:
        return dict.fromkeys(_PERCENTILE_KEYS)
    return {
        "p50": histogram.get_value_at_percentile(50.0),
        "p90": histogram.get_value_at_percentile(90.0),
        "p99": histogram.get_value_at_percentile(99.0),
        "p99.9": histogram.get_value_at_percentile(99.9) if count >= P999_MIN_SAMPLES else None,
        "max": histogram.get_max_value(),
        "mean": histogram.get_mean_value(),
    }


def _worker_row(report: WorkerReport) -> dict[str, Any]:
    usage = report.usage
    return {
        "pid": report.pid,
        "cpu_user": usage["cpu_user"],
        "cpu_system": usage["cpu_system"],
        "max_rss_bytes": int(usage["max_rss_bytes"]),
        "cpu_percent_of_core": usage["cpu_percent_of_core"],
        "ctx_switches_voluntary": int(usage["ctx_switches_voluntary"]),
        "ctx_switches_involuntary": int(usage["ctx_switches_involuntary"]),
    }


def _open_loop_rates(reports: list[WorkerReport]) -> tuple[float | None, float | None]:
    """Target and achieved send rates of an open-loop run, summed over workers."""
    targets = [report.target_rate for report in reports if report.target_rate is not None]
    if not targets:
        return None, None
    achieved = sum(
        report.sent / report.send_span_seconds for report in reports if report.send_span_seconds
    )
    return sum(targets), achieved


def _merge_timelines(reports: list[WorkerReport]) -> list[dict[str, Any]]:
    """Sum each second over the workers (they share the start instant)."""
    seconds: dict[int, list[Any]] = {}
    for report in reports:
        for second in report.timeline:
            row = seconds.setdefault(second.t, [0, 0, new_histogram()])
            row[0] += second.requests
            row[1] += second.errors
            if second.histogram:
                row[2].decode_and_add(second.histogram)
    timeline = []
    for t in sorted(seconds):
        requests, errors, histogram = seconds[t]
        empty = histogram.get_total_count() == 0
        timeline.append(
            {
                "t": t,
                "requests": requests,
                "errors": errors,
                "p50_us": None if empty else histogram.get_value_at_percentile(50.0),
                "p99_us": None if empty else histogram.get_value_at_percentile(99.0),
            }
        )
    return timeline
