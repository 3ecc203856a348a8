"""Deadlines for client connections that never complete a request head.

::

    accept --> connection_made: opened[handler] = now
       |        no complete request head within header_timeout --> sweep closes it
       +--> first request head --> Gateway.handle: head_done(handler) --> untracked
              idle between requests past keepalive_timeout --> aiohttp closes it

aiohttp's ``keepalive_timeout`` also runs from ``connection_made``, but one
value for both would keep a silent or half-sent connection as long as an idle
keep-alive one. The sweep uses only public aiohttp API: ``web.Server``'s
``connection_made``/``connection_lost`` hooks, ``BaseRequest.protocol`` and the
handler's ``transport``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from aiohttp import web

__all__ = ["TrackingServer"]

logger = logging.getLogger("natsgate.gateway")


class TrackingServer(web.Server):
    """aiohttp's low-level server, closing connections without a request head in time."""

    def __init__(self, *args: Any, header_timeout: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.header_timeout = header_timeout
        self.opened: dict[web.RequestHandler, float] = {}  # connections still without a head
        self._sweeper: asyncio.Task[None] | None = None

    def connection_made(self, handler: web.RequestHandler, transport: asyncio.Transport) -> None:
        super().connection_made(handler, transport)
        self.opened[handler] = asyncio.get_running_loop().time()
        if self._sweeper is None:
            self._sweeper = asyncio.get_running_loop().create_task(self._sweep())

    def connection_lost(
        self, handler: web.RequestHandler, exc: BaseException | None = None
    ) -> None:
        self.opened.pop(handler, None)
        super().connection_lost(handler, exc)

    def head_done(self, handler: web.RequestHandler) -> None:
        """A request head arrived: from now on aiohttp's keepalive_timeout applies."""
        self.opened.pop(handler, None)

    async def stop_sweeping(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper

    async def _sweep(self) -> None:
        loop = asyncio.get_running_loop()
        interval = min(1.0, self.header_timeout / 4)
        while True:
            await asyncio.sleep(interval)
            deadline = loop.time() - self.header_timeout
            late = [h for h, opened in self.opened.items() if opened < deadline]
            for handler in late:
                del self.opened[handler]
                if handler.transport is not None:
                    handler.transport.close()
            if late:
                logger.info(
                    "closed %d connection(s) without a request head in %gs",
                    len(late),
                    self.header_timeout,
                )
