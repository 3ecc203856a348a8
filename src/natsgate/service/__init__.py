"""The dual-transport service runtime: handlers written once, served over HTTP and NATS.

::

    service = Service("inventory")

    @service.get("/items/{id}")
    async def item(request: Request) -> Response:
        ...

    natsgate service --app mymodule:service      # HTTP on host:port and NATS on
                                                  # "inventory.>" in queue group "inventory"

- :mod:`.message`: :class:`Request`, :class:`Response`, :class:`HTTPError`
- :mod:`.router`:  method + path template routing (404, 405 with Allow, HEAD)
- :mod:`.app`:     :class:`Service`, registration and the shared dispatch
- :mod:`.server`:  :class:`ServiceServer`, the aiohttp and nats.micro adapters
- :mod:`.cli`:     ``natsgate service``
"""

from natsgate.service.app import Handler, Service
from natsgate.service.message import HeaderList, HTTPError, QueryParams, Request, Response
from natsgate.service.server import ServeConfig, ServiceServer, ServiceStats

__all__ = [
    "HTTPError",
    "Handler",
    "HeaderList",
    "QueryParams",
    "Request",
    "Response",
    "ServeConfig",
    "Service",
    "ServiceServer",
    "ServiceStats",
]
