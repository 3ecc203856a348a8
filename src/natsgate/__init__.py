"""natsgate: HTTP or NATS between services, and an honest way to tell which.

The package has three parts sharing one wire mapping (:mod:`natsgate.mapping`):

- :mod:`natsgate.gateway`: the HTTP edge server and its HTTP and NATS upstreams;
- :mod:`natsgate.service`: handlers written once, served over HTTP and NATS;
- :mod:`natsgate.bench` with :mod:`natsgate.load` and :mod:`natsgate.report`: the
  benchmark that drives them and writes the report.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
