"""aiohttp's low-level server as the gateway runs it: deadlines and parser errors.

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

A request aiohttp's parser refuses (bad header, bad chunk size...) never
reaches the gateway's handler: aiohttp answers it from
``RequestHandler.handle_error``, with a text body that can echo the request
bytes and a traceback in the log. :class:`ParserErrorHandler` overrides that
public method: one log line with the parser's reason, a small JSON body.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

from aiohttp import web
from aiohttp.web_request import BaseRequest

__all__ = ["ParserErrorHandler", "TrackingServer"]

_REASON_LIMIT = 120

logger = logging.getLogger("natsgate.gateway")


class TrackingServer(web.Server):
    """aiohttp's low-level server, closing connections without a request head in time."""

    def __init__(self, *args: Any, header_timeout: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.header_timeout = header_timeout
        self._handler_kwargs = kwargs
        self.opened: dict[web.RequestHandler, float] = {}  # connections still without a head
        self._sweeper: asyncio.Task[None] | None = None

    def __call__(self) -> web.RequestHandler:
        # web.Server's own __call__ builds a plain RequestHandler with the same arguments.
        return ParserErrorHandler(self, loop=asyncio.get_running_loop(), **self._handler_kwargs)

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


class ParserErrorHandler(web.RequestHandler):
    """aiohttp's connection handler, answering parser errors in one line and JSON."""

    __slots__ = ()

    def handle_error(
        self,
        request: BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        if status == 500 or request.writer.output_size > 0:
            return super().handle_error(request, status, exc, message)  # a real bug
        reason = _one_line(message or (type(exc).__name__ if exc else "bad request"))
        logger.info("malformed request from %s -> %d: %s", request.remote, status, reason)
        body = json.dumps({"error": f"malformed request: {reason}"}).encode()
        response = web.Response(status=status, body=body, content_type="application/json")
        response.headers["Server"] = "natsgate"
        response.force_close()
        return response


def _one_line(text: str) -> str:
    """The parser's reason, cut before the request bytes its messages carry after ':'."""
    reason = text.strip().partition(":")[0].strip() or "bad request"
    reason = reason.encode("ascii", "backslashreplace").decode("ascii")
    return reason if len(reason) <= _REASON_LIMIT else reason[:_REASON_LIMIT] + "..."
