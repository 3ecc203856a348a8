"""NATS request-reply for the gateway: one inbox subscription, a map of futures.

::

    request()  --PUB catalog.GET.items  reply=_INBOX.<nuid>.<n>-->  nats-server --> service
       |        pending[_INBOX.<nuid>.<n>] = future, timer(route timeout)
       |
    _on_reply  <--MSG _INBOX.<nuid>.<n> (one wildcard SUB _INBOX.<nuid>.*)-- service
                pending.pop(subject).set_result(msg)

``nc.request`` creates a future, a timer and more bookkeeping per call; this
keeps one subscription, a counter for reply subjects and ``loop.call_later``
timers (public nats-py API only). A timer that fires removes the future, so a
late reply finds nothing and is dropped. When the connection drops, every
pending request fails with 503 at once instead of waiting for its timeout;
nats-py re-sends the inbox subscription when it reconnects.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from nats.aio.msg import Msg

from natsgate.errors import (
    BadRequest,
    NoResponders,
    PayloadTooLarge,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from natsgate.mapping import NatsRequest, Reply, parse_reply
from natsgate.natsconn import Client, HeaderLines, connect, header_lines
from natsgate.routes import NatsSettings

__all__ = ["NatsUpstream"]

logger = logging.getLogger("natsgate.gateway")


class NatsUpstream:
    """The gateway's NATS connection and its pending requests."""

    def __init__(self, settings: NatsSettings, servers: list[str] | None = None) -> None:
        self.settings = settings
        self.servers = servers or list(settings.servers)
        self.nc: Client | None = None
        self.pending: dict[str, asyncio.Future[Msg]] = {}
        self.on_reconnect: Callable[[], None] | None = None
        self._inbox = ""
        self._counter = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closing = False

    @property
    def is_connected(self) -> bool:
        return self.nc is not None and bool(self.nc.is_connected)

    async def start(self) -> None:
        """Connect and subscribe the inbox; ConnectionError if no server answers in time."""
        self._loop = asyncio.get_running_loop()
        options = self.settings.connect_options()
        timeout = self.settings.connect_timeout
        logger.info("connecting to NATS at %s (up to %gs)", ", ".join(self.servers), timeout)
        try:
            self.nc = await _within(
                connect(
                    self.servers,
                    name=self.settings.name,
                    disconnected_cb=self._on_disconnected,
                    reconnected_cb=self._on_reconnected,
                    **options,
                ),
                timeout,
            )
        except Exception as exc:  # nats-py raises its own errors, OSError or TimeoutError
            raise ConnectionError(
                f"cannot connect to NATS at {', '.join(self.servers)} within {timeout:g}s: "
                f"{exc or type(exc).__name__}"
            ) from exc
        self._inbox = self.nc.new_inbox()
        await self.nc.subscribe(self._inbox + ".*", cb=self._on_reply)
        logger.info("NATS connected to %s", _server_of(self.nc))

    async def close(self) -> None:
        """Drain the connection: let replies to in-flight requests arrive, then close."""
        if self.nc is None or self.nc.is_closed:
            return
        self._closing = True
        try:
            if self.nc.is_connected:
                await self.nc.drain()
            else:
                await self.nc.close()
        except Exception as exc:  # shutting down: report and go on
            logger.warning("NATS drain failed: %s", exc)
        self._fail_pending("NATS connection closed")

    async def request(self, req: NatsRequest, timeout: float) -> Reply:
        """Publish ``req`` and wait for its reply, mapped into natsgate errors."""
        nc = self.nc
        if nc is None or not nc.is_connected:
            raise UpstreamUnavailable("NATS is not connected")
        try:
            size = req.size
        except UnicodeError:
            raise BadRequest("header value is not valid UTF-8") from None
        if size > nc.max_payload:
            raise PayloadTooLarge(
                f"message of {size} bytes is over the server's max_payload of {nc.max_payload}"
            )

        self._counter += 1
        reply = f"{self._inbox}.{self._counter}"
        assert self._loop is not None
        future: asyncio.Future[Msg] = self._loop.create_future()
        self.pending[reply] = future
        timer = self._loop.call_later(timeout, self._expire, reply, timeout)
        try:
            await nc.publish(req.subject, req.body, reply=reply, headers=HeaderLines(req.headers))
            msg = await future
        finally:
            timer.cancel()
            self.pending.pop(reply, None)
        return _decode(msg, req.subject)

    async def _on_reply(self, msg: Msg) -> None:
        future = self.pending.pop(msg.subject, None)
        if future is not None and not future.done():
            future.set_result(msg)

    def _expire(self, reply: str, timeout: float) -> None:
        future = self.pending.pop(reply, None)
        if future is not None and not future.done():
            future.set_exception(UpstreamTimeout(f"no reply within {timeout:g}s"))

    def _fail_pending(self, reason: str) -> None:
        pending, self.pending = self.pending, {}
        for future in pending.values():
            if not future.done():
                future.set_exception(UpstreamUnavailable(reason))

    async def _on_disconnected(self) -> None:
        if self._closing:
            return
        logger.warning("NATS disconnected; failing %d in-flight request(s)", len(self.pending))
        self._fail_pending("NATS connection lost")

    async def _on_reconnected(self) -> None:
        assert self.nc is not None
        logger.info("NATS reconnected to %s", _server_of(self.nc))
        if self.on_reconnect is not None:
            self.on_reconnect()


async def _within(connecting: Coroutine[Any, Any, Client], timeout: float) -> Client:
    """``connecting`` if it ends within ``timeout`` (else TimeoutError); cancellable.

    nats-py's connect loop retries forever and can swallow one cancellation (an
    inner ``wait_for`` that completes as it is cancelled, Python 3.11), so
    ``asyncio.wait_for`` could wait for it without end: cancel until it ends.
    """
    task = asyncio.ensure_future(connecting)
    try:
        await asyncio.wait({task}, timeout=timeout)
    finally:
        while not task.done():
            task.cancel()
            await asyncio.wait({task}, timeout=0.5)
    if task.cancelled():
        raise TimeoutError
    return task.result()


def _decode(msg: Msg, subject: str) -> Reply:
    headers: Any = msg.headers
    if headers is not None and headers.get("Status") == "503" and not msg.data:
        raise NoResponders(f"no responders on {subject}")
    return parse_reply(header_lines(headers), msg.data)


def _server_of(nc: Client) -> str:
    url = nc.connected_url
    return str(url.netloc) if url is not None else "?"
