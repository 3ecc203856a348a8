"""The shape of ``report.json``, the benchmark's one source of truth.

``report.md`` and ``report.html`` are both rendered from it, and
``natsgate report DIR`` rebuilds them from a saved copy, so everything a
reader sees is in here, raw histograms included::

    Report
    +-- meta: when, how long, git revision, command, settings, versions, machine
    +-- published: the original experiment's figures, per scenario
    +-- scenarios: [Scenario]
    |   +-- name, title, description, mode, concurrency, rate, iterations, flow
    |   +-- trials: [Trial]          one per (round, transport, path), in run order
    |   |   +-- counts, errors by class, wall time, rate, latency percentiles
    |   |   +-- histogram(s), encoded HDR (lossless, mergeable)
    |   |   +-- timeline: one point per second
    |   |   +-- processes: CPU and memory of nats-server, service, gateway, load
    |   +-- summary: per transport median and spread; ratios with bootstrap CI
    +-- sweeps: [Sweep]               throughput vs concurrency, latency vs rate
    +-- failover: [FailoverTrial]     a node or service killed mid-trial (optional)

Times are seconds, latencies microseconds, memory bytes, rates per second.
"""

from __future__ import annotations

from typing import Literal, NotRequired, TypedDict

__all__ = [
    "SCHEMA_VERSION",
    "FailoverTrial",
    "Figure",
    "FlowStep",
    "Meta",
    "Percentiles",
    "ProcessUsage",
    "Published",
    "Ratio",
    "Report",
    "Scenario",
    "Sweep",
    "SweepPoint",
    "TimelinePoint",
    "Transport",
    "TransportSummary",
    "Trial",
]

SCHEMA_VERSION = "natsgate-report/1"

# "http": gateway -> pooled keep-alive HTTP; "http-close": a new connection per
# request (the original's setup); "nats": request-reply. Direct baselines call
# the service without the gateway: "direct-http", "direct-nats".
Transport = Literal["http", "http-close", "nats", "direct-http", "direct-nats"]


class Meta(TypedDict):
    started: str  # ISO 8601, UTC
    finished: str
    duration_seconds: float
    git_revision: str | None
    command: list[str]
    settings: dict[str, object]  # scale, trials, cluster, nats_url...
    versions: dict[str, str]  # python, natsgate, nats-server, nats-py, aiohttp, uvloop...
    machine: dict[str, object]  # cpu_model, cores, kernel, memory_bytes, platform


class Published(TypedDict):
    """The original experiment's result for one scenario (minutes for 50,000 requests)."""

    http_minutes: float
    nats_minutes: float
    ratio: float  # http_minutes / nats_minutes, i.e. how much faster NATS was claimed
    note: str


class FlowStep(TypedDict):
    method: str
    path: str  # after the transport prefix, e.g. "/items/1"
    body_bytes: int
    expect_status: int


class Percentiles(TypedDict):
    p50: float
    p90: float
    p99: float
    p99_9: float | None  # None when fewer than 10,000 samples
    max: float
    mean: float


class ProcessUsage(TypedDict):
    pids: list[int]
    cpu_seconds: float  # user + system over the trial
    cpu_percent_of_core: float  # cpu_seconds / wall seconds * 100 (200 = both cores)
    peak_rss_bytes: int
    ctx_switches_voluntary: int
    ctx_switches_involuntary: int
    open_sockets: int  # at the end of the trial


class TimelinePoint(TypedDict):
    t: float  # seconds since the trial's measurement started
    requests: int
    errors: int
    p50_us: float | None
    p99_us: float | None


class Trial(TypedDict):
    transport: Transport
    round: int  # 0-based; trials of one round ran back to back, transports interleaved
    mode: Literal["closed", "open"]
    concurrency: int
    rate: float | None  # target requests/s in open loop
    iterations: int
    requests: int
    ok: int
    errors: dict[str, int]  # connect, timeout, status, body, protocol
    wall_seconds: float
    requests_per_second: float
    latency_us: Percentiles
    latency_corrected_us: Percentiles | None  # open loop: from the intended send time
    histogram: str  # HdrHistogram.encode() of successful request latencies (us)
    histogram_corrected: str | None
    timeline: list[TimelinePoint]
    processes: dict[str, ProcessUsage]  # keys: nats-server, service, gateway, load
    bottleneck: str | None  # the process with the highest CPU share
    generator_saturated: bool  # a load worker above ~90% of a core, or rate short of target
    # Seconds since the measurement started of the first and last failed request.
    first_error_at: NotRequired[float | None]
    last_error_at: NotRequired[float | None]


class Figure(TypedDict):
    median: float
    min: float
    max: float
    values: list[float]


class Ratio(TypedDict):
    """A ratio of medians with a bootstrap 95% confidence interval (>1: numerator is faster)."""

    median: float
    ci_low: float
    ci_high: float
    numerator: Transport
    denominator: Transport


class TransportSummary(TypedDict):
    requests_per_second: Figure
    p50_us: Figure
    p99_us: Figure
    wall_seconds: Figure
    errors: int  # all classes, all trials


class Scenario(TypedDict):
    name: str  # e.g. "seed-sequential"
    title: str
    description: str
    mode: Literal["closed", "open"]
    concurrency: int
    rate: float | None
    iterations: int | None
    duration: float | None
    flow: list[FlowStep]
    trials: list[Trial]
    summary: dict[str, TransportSummary]  # by transport
    ratios: dict[str, Ratio]  # "nats/http", "nats/http-close", ...
    published: NotRequired[Published]


class SweepPoint(TypedDict):
    transport: Transport
    x: float  # concurrency, target rate, or service instances
    requests_per_second: float
    p50_us: float
    p99_us: float
    errors: int


class Sweep(TypedDict):
    name: str
    kind: Literal["concurrency", "rate", "instances"]
    points: list[SweepPoint]
    # Rate sweeps: each transport's highest sustainable rate (requests/s).
    limits: NotRequired[dict[str, float]]


class FailoverTrial(TypedDict):
    """A count-based trial during which one part was killed (SIGKILL)."""

    target: Literal["nats-node", "service"]
    victim: str  # e.g. "n2" or "service-1"
    transport: Transport
    killed_at: float | None  # seconds after the trial started
    expected_requests: int  # iterations x flow length
    requests: int
    ok: int
    errors: dict[str, int]
    first_error_at: float | None
    last_error_at: float | None
    error_window_seconds: float | None  # the kill to the last failed request; None: none
    silent_losses: int  # expected - ok - errors: must be 0
    requests_per_second: float


class Report(TypedDict):
    schema: str
    meta: Meta
    scenarios: list[Scenario]
    sweeps: list[Sweep]
    failover: NotRequired[list[FailoverTrial]]
