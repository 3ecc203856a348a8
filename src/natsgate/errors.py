"""Errors of the HTTP <-> NATS hop, each carrying the HTTP status it maps to.

::

    NatsgateError
    +-- ClientError             the request itself is at fault (4xx)
    |   +-- BadRequest          400: malformed path, header or body
    |   +-- RequestTimeout      408: request body not received within body_timeout
    |   +-- PayloadTooLarge     413: body over the route's limit or the server's max_payload
    |   +-- URITooLong          414: subject or path over the limit
    |   +-- ClientGone          499: client closed the connection mid-request (nginx's code)
    +-- UpstreamError           the service could not answer properly (5xx)
        +-- UpstreamConnectError  502: HTTP upstream refused or unreachable
        +-- BadReply              502: reply that does not decode
        +-- NoResponders          503: nobody subscribes to the subject
        +-- UpstreamUnavailable   503: NATS connection down, service overloaded
        +-- UpstreamTimeout       504: no reply within the route's timeout

Library errors (aiohttp, nats-py) are translated into these at the transport
edge, so the gateway maps a failure to a status in exactly one place. A
client sees ``public``: its own 4xx reason, or a fixed phrase per 5xx class
(the detail, which may name hosts or carry upstream bytes, is for the log).
"""

from __future__ import annotations

__all__ = [
    "BadReply",
    "BadRequest",
    "ClientError",
    "ClientGone",
    "NatsgateError",
    "NoResponders",
    "PayloadTooLarge",
    "RequestTimeout",
    "URITooLong",
    "UpstreamConnectError",
    "UpstreamError",
    "UpstreamTimeout",
    "UpstreamUnavailable",
]


class NatsgateError(Exception):
    """Base of every error natsgate maps to an HTTP status."""

    status: int = 500
    summary: str = ""  # what a client is told instead of the reason ("" = the reason)

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason

    @property
    def public(self) -> str:
        return self.summary or self.reason


class ClientError(NatsgateError):
    status = 400


class BadRequest(ClientError):
    status = 400


class RequestTimeout(ClientError):
    status = 408


class PayloadTooLarge(ClientError):
    status = 413


class URITooLong(ClientError):
    status = 414


class ClientGone(ClientError):
    """Nothing can be sent back; the status is for metrics and logs only."""

    status = 499


class UpstreamError(NatsgateError):
    status = 502
    summary = "upstream failed"


class UpstreamConnectError(UpstreamError):
    status = 502
    summary = "upstream connection failed"


class BadReply(UpstreamError):
    status = 502
    summary = "upstream sent an invalid response"


class NoResponders(UpstreamError):
    status = 503
    summary = "no service answers this route"


class UpstreamUnavailable(UpstreamError):
    status = 503
    summary = "upstream unavailable"


class UpstreamTimeout(UpstreamError):
    status = 504
    summary = "upstream timed out"
