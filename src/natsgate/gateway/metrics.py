"""Prometheus metrics of the gateway, on a registry of its own.

::

    natsgate_gateway_requests_total{route, transport, status}       counter
    natsgate_gateway_request_duration_seconds{route, transport}     histogram
    natsgate_gateway_in_flight_requests                             gauge (read at scrape)
    natsgate_gateway_nats_reconnects_total                          counter
    natsgate_gateway_healthy_upstreams{route}                       gauge (read at scrape)

The hot path pays for one counter increment and one histogram observation:
labelled children are looked up once and cached, and the in-flight gauge is a
plain integer that prometheus-client reads only when ``/metrics`` is scraped.
With ``[gateway] metrics = false`` :meth:`Metrics.observe` does nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

__all__ = ["CONTENT_TYPE_LATEST", "Metrics"]

_BUCKETS = (
    0.0002,
    0.0005,
    0.001,
    0.002,
    0.005,
    0.01,
    0.02,
    0.05,
    0.1,
    0.2,
    0.5,
    1.0,
    2.0,
    5.0,
    10.0,
)


class Metrics:
    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self.in_flight = 0
        self.registry = CollectorRegistry()
        self._requests = Counter(
            "natsgate_gateway_requests",
            "Requests answered, by route, transport and HTTP status.",
            ["route", "transport", "status"],
            registry=self.registry,
        )
        self._latency = Histogram(
            "natsgate_gateway_request_duration_seconds",
            "Time from routing a request to having its response, by route and transport.",
            ["route", "transport"],
            buckets=_BUCKETS,
            registry=self.registry,
        )
        gauge = Gauge(
            "natsgate_gateway_in_flight_requests",
            "Requests being forwarded right now.",
            registry=self.registry,
        )
        gauge.set_function(lambda: self.in_flight)
        self._reconnects = Counter(
            "natsgate_gateway_nats_reconnects",
            "Times the NATS connection was re-established.",
            registry=self.registry,
        )
        self._healthy = Gauge(
            "natsgate_gateway_healthy_upstreams",
            "HTTP upstreams of a route in rotation (not backing off after a refused connect).",
            ["route"],
            registry=self.registry,
        )
        self._counters: dict[tuple[str, str, int], Any] = {}
        self._histograms: dict[tuple[str, str], Any] = {}

    def observe(self, route: str, transport: str, status: int, seconds: float) -> None:
        """Count one answered request and its latency."""
        if not self.enabled:
            return
        key = (route, transport, status)
        counter = self._counters.get(key)
        if counter is None:
            counter = self._counters[key] = self._requests.labels(route, transport, str(status))
        counter.inc()
        histogram = self._histograms.get((route, transport))
        if histogram is None:
            histogram = self._latency.labels(route, transport)
            self._histograms[(route, transport)] = histogram
        histogram.observe(seconds)

    def watch_upstreams(self, route: str, healthy: Callable[[], float]) -> None:
        """Report ``healthy()`` as the route's healthy-upstreams gauge at each scrape."""
        self._healthy.labels(route).set_function(healthy)

    def nats_reconnected(self) -> None:
        self._reconnects.inc()

    def render(self) -> bytes:
        """The exposition text for ``GET /metrics``."""
        return generate_latest(self.registry)
