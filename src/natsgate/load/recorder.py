"""Per-worker recording of measured requests: counts, errors by class, latency histograms.

::

    ok(now, latency[, corrected]) ──> dict {latency_us: count} for the current second
    error(now, kind)              ──> errors[kind] += 1, ErrorTimes (first, last, sampled instants)
                  second boundary ──> HdrHistogram of that second (timeline, encoded)
                                      └─ added into the run's histogram
    finish() ──> WorkerReport (plain, picklable: histograms as HDR encoded bytes)

Counting values in a dict and recording them into the histogram once a second costs
far less per request than ``record_value`` (about 2 us in pure Python), and is exact:
every distinct value is recorded with its count.

Error instants (for failover figures: how long did requests fail?) are seconds since the
measurement start. ``first`` and ``last`` are exact; the list keeps every error until it
holds ``MAX_ERROR_TIMES``, then every 2nd, then every 4th... (k doubles each time it fills),
so it stays bounded and still spans the whole run evenly.
"""

from __future__ import annotations

from dataclasses import dataclass

from hdrh.histogram import HdrHistogram

__all__ = [
    "ERROR_KINDS",
    "HIGHEST_US",
    "LOWEST_US",
    "MAX_ERROR_TIMES",
    "SIGNIFICANT_DIGITS",
    "ErrorTimes",
    "Recorder",
    "TimelineSecond",
    "WorkerReport",
    "new_histogram",
    "thin_error_times",
]

ERROR_KINDS = ("connect", "timeout", "status", "body", "protocol")
LOWEST_US = 1
HIGHEST_US = 60_000_000
SIGNIFICANT_DIGITS = 3
MAX_ERROR_TIMES = 10_000  # even, so halving keeps exactly every k-th error

_NS_PER_S = 1_000_000_000


def new_histogram() -> HdrHistogram:
    """An empty latency histogram: microseconds, 1 us .. 60 s, 3 significant digits."""
    return HdrHistogram(LOWEST_US, HIGHEST_US, SIGNIFICANT_DIGITS)


@dataclass(frozen=True, slots=True)
class TimelineSecond:
    t: int
    requests: int
    errors: int
    histogram: bytes  # HDR encoded, successful requests completed in that second


@dataclass(frozen=True, slots=True)
class WorkerReport:
    """What one worker measured; crosses the process boundary by pickle."""

    index: int
    pid: int
    iterations: int
    ok: int
    errors: dict[str, int]
    histogram: bytes
    corrected: bytes | None
    timeline: tuple[TimelineSecond, ...]
    wall_seconds: float
    usage: dict[str, float]
    # Open loop: requests actually sent in the window, over which span, at what target rate.
    sent: int = 0
    send_span_seconds: float = 0.0
    target_rate: float | None = None
    # Seconds since the measurement start: the first and last error (exact), and a
    # bounded sample of (instant, error class), in time order.
    first_error_at: float | None = None
    last_error_at: float | None = None
    error_times: tuple[tuple[float, str], ...] = ()


class ErrorTimes:
    """When errors happened: first and last exactly, every k-th in between (k = 1, 2, 4...)."""

    __slots__ = ("_limit", "_seen", "_stride", "first", "last", "times")

    def __init__(self, limit: int = MAX_ERROR_TIMES) -> None:
        self._limit = limit
        self._seen = 0
        self._stride = 1
        self.first: float | None = None
        self.last: float | None = None
        self.times: list[tuple[float, str]] = []

    def add(self, at: float, kind: str) -> None:
        if self.first is None:
            self.first = at
        self.last = at
        if self._seen % self._stride == 0:
            self.times.append((at, kind))
            if len(self.times) >= self._limit:
                self.times = self.times[::2]
                self._stride *= 2
        self._seen += 1


def thin_error_times(
    times: list[tuple[float, str]], limit: int = MAX_ERROR_TIMES
) -> list[tuple[float, str]]:
    """Sort error instants (several workers' lists) and keep every k-th past ``limit``."""
    times = sorted(times)
    if len(times) <= limit:
        return times
    return times[:: -(-len(times) // limit)]


class Recorder:
    """Counts for measured requests only; the loops decide what is measured."""

    def __init__(self, *, corrected: bool) -> None:
        self.errors = dict.fromkeys(ERROR_KINDS, 0)
        self.ok = 0
        self.iterations = 0
        self._start_ns = 0
        self._second = 0
        self._counts: dict[int, int] = {}
        self._corrected_counts: dict[int, int] | None = {} if corrected else None
        self._second_requests = 0
        self._second_errors = 0
        self._histogram = new_histogram()
        self._corrected = new_histogram() if corrected else None
        self._scratch = new_histogram()
        self._timeline: list[TimelineSecond] = []
        self.error_times = ErrorTimes()

    @property
    def completed(self) -> int:
        return self.ok + sum(self.errors.values())

    def begin(self, start_ns: int) -> None:
        """Measurement starts: seconds of the timeline count from here."""
        self._start_ns = start_ns

    def record_ok(self, now_ns: int, latency_ns: int, corrected_ns: int | None = None) -> None:
        second = (now_ns - self._start_ns) // _NS_PER_S
        if second > self._second:
            self._roll(second)
        self.ok += 1
        self._second_requests += 1
        value = _clamp_us(latency_ns)
        counts = self._counts
        counts[value] = counts.get(value, 0) + 1
        corrected = self._corrected_counts
        if corrected is not None and corrected_ns is not None:
            value = _clamp_us(corrected_ns)
            corrected[value] = corrected.get(value, 0) + 1

    def record_error(self, now_ns: int, kind: str) -> None:
        second = (now_ns - self._start_ns) // _NS_PER_S
        if second > self._second:
            self._roll(second)
        self.errors[kind] += 1
        self._second_requests += 1
        self._second_errors += 1
        self.error_times.add(round((now_ns - self._start_ns) / _NS_PER_S, 6), kind)

    def finish(self, **fields: object) -> WorkerReport:
        """Close the last second and package everything; ``fields`` fill the rest."""
        self._roll(self._second + 1)
        return WorkerReport(
            ok=self.ok,
            iterations=self.iterations,
            errors=dict(self.errors),
            histogram=self._histogram.encode(),
            corrected=None if self._corrected is None else self._corrected.encode(),
            timeline=tuple(self._timeline),
            first_error_at=self.error_times.first,
            last_error_at=self.error_times.last,
            error_times=tuple(self.error_times.times),
            **fields,  # type: ignore[arg-type]
        )

    def _roll(self, second: int) -> None:
        """Close the current second (and any empty ones up to ``second``)."""
        scratch = self._scratch
        for value, count in self._counts.items():
            scratch.record_value(value, count)
        self._histogram.add(scratch)
        self._timeline.append(
            TimelineSecond(
                self._second, self._second_requests, self._second_errors, scratch.encode()
            )
        )
        scratch.reset()
        self._counts = {}
        self._flush_corrected()
        empty = new_histogram().encode() if second > self._second + 1 else b""
        for idle in range(self._second + 1, second):
            self._timeline.append(TimelineSecond(idle, 0, 0, empty))
        self._second = second
        self._second_requests = 0
        self._second_errors = 0

    def _flush_corrected(self) -> None:
        if self._corrected is None or self._corrected_counts is None:
            return
        for value, count in self._corrected_counts.items():
            self._corrected.record_value(value, count)
        self._corrected_counts = {}


def _clamp_us(latency_ns: int) -> int:
    value = latency_ns // 1000
    if value < LOWEST_US:
        return LOWEST_US
    return HIGHEST_US if value > HIGHEST_US else value
