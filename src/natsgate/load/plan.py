"""What to send and how hard: request specs, the load plan, and its split among workers.

::

    LoadPlan ──validate──> split_plan() ──> WorkerPart x workers  (picklable, sent to each worker)
      url, flow               concurrency, rate, iterations and max_connections are divided;
      concurrency | rate      duration, warmup and timeouts are shared; each RequestSpec is
      iterations | duration   encoded once into the bytes put on the wire (PreparedRequest)
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

__all__ = [
    "DEFAULT_MAX_CONNECTIONS",
    "LoadPlan",
    "PreparedRequest",
    "RequestSpec",
    "WorkerPart",
    "share",
    "split_plan",
]

DEFAULT_MAX_CONNECTIONS = 2500

# Methods whose requests carry a Content-Length even when the body is empty (RFC 9110 8.6).
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_NATS_SCHEMES = frozenset({"nats", "tls"})


@dataclass(frozen=True, slots=True)
class RequestSpec:
    """One request of a flow, and what its response must look like."""

    method: str
    target: str
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()
    expect_status: int = 200
    expect_body: bytes | None = None
    expect_contains: bytes | None = None

    def __post_init__(self) -> None:
        if not self.method.isalpha() or not self.method.isupper():
            raise ValueError(f"method must be an upper-case token, got {self.method!r}")
        if not self.target.startswith("/") or any(c in self.target for c in " \r\n"):
            raise ValueError(f"target must start with '/' and hold no whitespace: {self.target!r}")
        for name, value in self.headers:
            if not name or any(c in name for c in " :\r\n") or any(c in value for c in "\r\n"):
                raise ValueError(f"invalid header {name!r}: {value!r}")


@dataclass(frozen=True, slots=True)
class LoadPlan:
    """A whole run: closed loop (``concurrency``) or open loop (``rate``), by count or by time."""

    # Base, "http://host:port[/prefix]"; each target is appended. The direct-NATS driver
    # takes its servers apart and accepts (and ignores) a "nats://host:port" here.
    url: str
    flow: tuple[RequestSpec, ...]  # one iteration: these requests in order, on one connection
    # Closed loop: flows in flight. Open loop: connections opened ahead of the start.
    concurrency: int = 1
    rate: float | None = None  # open loop: requests per second, whatever responses do
    iterations: int | None = None  # measured flow iterations (count mode), or
    duration: float | None = None  # seconds measured (time-boxed)
    warmup: float = 0.0  # seconds run first, recorded nowhere
    workers: int = 1  # load threads/processes; counts and rates are split among them
    timeout: float = 10.0  # per request, from its send (open loop: queued ones too)
    connect_timeout: float = 5.0
    # Open loop only: the most connections held at once (queued requests wait for one).
    max_connections: int = DEFAULT_MAX_CONNECTIONS

    def __post_init__(self) -> None:
        if urlsplit(self.url).scheme not in _NATS_SCHEMES:
            _split_url(self.url)
        if not self.flow:
            raise ValueError("flow needs at least one request")
        if (self.iterations is None) == (self.duration is None):
            raise ValueError("give exactly one of iterations or duration")
        if self.iterations is not None and self.iterations < 1:
            raise ValueError("iterations must be at least 1")
        if self.duration is not None and self.duration <= 0:
            raise ValueError("duration must be positive")
        if self.concurrency < 1 or self.workers < 1 or self.max_connections < 1:
            raise ValueError("concurrency, workers and max_connections must be at least 1")
        if self.rate is not None and self.rate <= 0:
            raise ValueError("rate must be positive")
        if self.warmup < 0 or self.timeout <= 0 or self.connect_timeout <= 0:
            raise ValueError("warmup must be >= 0, timeouts > 0")

    @property
    def open_loop(self) -> bool:
        return self.rate is not None


@dataclass(frozen=True, slots=True)
class PreparedRequest:
    """A RequestSpec encoded for the wire, with its checks flattened for the hot path."""

    data: bytes
    head: bool
    want_body: bool
    expect_status: int
    expect_body: bytes | None
    expect_contains: bytes | None

    def check(self, status: int, body: bytes | None) -> str | None:
        """The error class of a complete response, or None when it is as expected."""
        if status != self.expect_status:
            return "status"
        if self.expect_body is not None and body != self.expect_body:
            return "body"
        if self.expect_contains is not None and (body is None or self.expect_contains not in body):
            return "body"
        return None


@dataclass(frozen=True, slots=True)
class WorkerPart:
    """One worker's share of a plan: everything a worker process needs, nothing else."""

    index: int
    host: str
    port: int
    requests: tuple[PreparedRequest, ...]
    concurrency: int
    rate: float | None
    iterations: int | None
    duration: float | None
    warmup: float
    timeout: float
    connect_timeout: float
    max_connections: int
    # Open loop: this worker's schedule starts this many seconds late, so workers interleave.
    phase: float = 0.0


def split_plan(plan: LoadPlan) -> list[WorkerPart]:
    """Divide a plan among its workers; counts are split exactly (the first ones get the rest)."""
    host, port, prefix = _split_url(plan.url)
    authority = host if port == 80 else f"{host}:{port}"
    requests = tuple(prepare_request(spec, authority, prefix) for spec in plan.flow)
    workers = plan.workers
    if plan.iterations is not None:
        workers = min(workers, plan.iterations)
    if not plan.open_loop:
        workers = min(workers, plan.concurrency)
    parts = []
    for index in range(workers):
        rate = None if plan.rate is None else plan.rate / workers
        parts.append(
            WorkerPart(
                index=index,
                host=host,
                port=port,
                requests=requests,
                concurrency=share(plan.concurrency, workers, index),
                rate=rate,
                iterations=None
                if plan.iterations is None
                else share(plan.iterations, workers, index),
                duration=plan.duration,
                warmup=plan.warmup,
                timeout=plan.timeout,
                connect_timeout=plan.connect_timeout,
                max_connections=share(plan.max_connections, workers, index),
                phase=0.0 if plan.rate is None else index / plan.rate,
            )
        )
    return parts


def prepare_request(spec: RequestSpec, authority: str, prefix: str = "") -> PreparedRequest:
    """Encode a spec into its request bytes (RFC 9112 3: request line, then fields)."""
    lines = [f"{spec.method} {prefix}{spec.target} HTTP/1.1", f"Host: {authority}"]
    names = {name.lower() for name, _ in spec.headers}
    if "host" in names:
        lines.pop()
    lines.extend(f"{name}: {value}" for name, value in spec.headers)
    if "content-length" not in names and (spec.body or spec.method in _BODY_METHODS):
        lines.append(f"Content-Length: {len(spec.body)}")
    data = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + spec.body
    return PreparedRequest(
        data=data,
        head=spec.method == "HEAD",
        want_body=spec.expect_body is not None or spec.expect_contains is not None,
        expect_status=spec.expect_status,
        expect_body=spec.expect_body,
        expect_contains=spec.expect_contains,
    )


def split_target(url: str) -> tuple[str, str]:
    """Split a command-line URL: ``http://h:p/a?q`` -> (``http://h:p``, ``/a?q``)."""
    parts = urlsplit(url)
    target = parts.path or "/"
    if parts.query:
        target = f"{target}?{parts.query}"
    return f"{parts.scheme}://{parts.netloc}", target


def _split_url(url: str) -> tuple[str, int, str]:
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise ValueError(f"only http://host[:port] URLs are supported, got {url!r}")
    if parts.query or parts.fragment:
        raise ValueError(f"the base URL takes no query or fragment: {url!r}")
    return parts.hostname, parts.port or 80, parts.path.rstrip("/")


def share(total: int, parts: int, index: int) -> int:
    """Part ``index`` of ``total`` split in ``parts``: the first ones get the rest."""
    return total // parts + (1 if index < total % parts else 0)
