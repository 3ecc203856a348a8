"""The HTTP edge gateway: a route table in front of HTTP and NATS upstreams.

::

    gateway/
      server.py         Gateway: listener, dispatch, reserved paths, status mapping
      http_upstream.py  HttpUpstream: aiohttp client pool per HTTP route
      balancer.py       Rotation: round robin over a route's upstreams, back-off on refusal
      nats_upstream.py  NatsUpstream: one inbox subscription, a map of futures
      deadlines.py      TrackingServer: closes connections without a request head in time
      metrics.py        Prometheus counters and histogram
      cli.py            ``natsgate gateway --config routes.toml``
      supervisor.py     ``--workers N``: N gateway processes on one port (SO_REUSEPORT)
      ready.py          the ``--ready-file`` JSON, written atomically
"""

from natsgate.gateway.server import Gateway

__all__ = ["Gateway"]
