"""The HTTP edge gateway: a route table in front of HTTP and NATS upstreams.

::

    gateway/
      server.py         Gateway: listener, dispatch, reserved paths, status mapping
      http_upstream.py  HttpUpstream: aiohttp client pool per HTTP route
      nats_upstream.py  NatsUpstream: one inbox subscription, a map of futures
      metrics.py        Prometheus counters and histogram
      cli.py            ``natsgate gateway --config routes.toml``
"""

from natsgate.gateway.server import Gateway

__all__ = ["Gateway"]
