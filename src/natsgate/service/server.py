"""Serving one :class:`Service` over HTTP and NATS at the same time, in one process.

::

                 +-------------------- ServiceServer --------------------+
    HTTP  ---->  | aiohttp low-level Server -> Request --+               |
                 |   (503 + Retry-After past max_in_flight)|               |
                 |                                       +-> dispatch -> Response
    NATS  ---->  | nats.micro endpoint "<prefix>.>" ----+  (one budget:   |
   (queue group) |   headers -> mapping.parse_service_request  a semaphore)|
                 +--------------------------------------------------------+
                     $SRV.PING / INFO / STATS answered by nats.micro

Over NATS the handler is chosen from the ``Http-Method``/``Http-Path``/
``Http-Query`` headers; the subject is only checked against
``mapping.path_tokens`` of that path (a mismatch is a 400). A reply is
``mapping.reply_headers`` plus the body; an error reply (status >= 400) also
carries the Services API error headers, keeping ``Http-Status`` and the JSON body.

nats-py runs a subscription's callback one message at a time, so the endpoint
callback only takes a slot of the in-flight budget (waiting while it is spent,
which leaves further messages in the subscription's pending queue) and starts
a task per request. Because the reply is sent from that task, nats.micro's
per-endpoint error count and processing time are completed here (its own
counters see only the hand-off): those are private fields of nats-py's
``Endpoint``, which is why ``pyproject.toml`` pins nats-py to a minor version.

Stop: the listener closes and the endpoint subscription is drained (nothing
new is taken), in-flight requests get up to ``stop_timeout`` to finish, then
the NATS connection is drained and closed.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from aiohttp import web
from multidict import CIMultiDict
from nats import micro
from nats.errors import SlowConsumerError
from nats.micro.request import Request as MicroRequest

from natsgate import mapping
from natsgate.errors import BadRequest, NatsgateError
from natsgate.natsconn import Client, HeaderLines, connect, header_lines
from natsgate.service.app import Service, error_response
from natsgate.service.message import Request, Response

__all__ = ["ServeConfig", "ServiceServer", "ServiceStats"]

logger = logging.getLogger("natsgate.service")

_SUBJECT_CACHE_SIZE = 4096
_SLOW_CONSUMER_LOG_INTERVAL = 1.0
_TOO_LARGE = "reply too large for NATS max_payload"


@dataclass(frozen=True, slots=True)
class ServeConfig:
    """Where and how to serve; ``http=None`` or ``nats_urls=()`` turns a transport off."""

    http: tuple[str, int] | None = ("127.0.0.1", 8080)
    nats_urls: tuple[str, ...] = ("nats://127.0.0.1:4222",)
    queue_group: str | None = None
    max_in_flight: int = 1024
    stop_timeout: float = 10.0
    connect_timeout: float = 5.0
    backlog: int = 4096

    def __post_init__(self) -> None:
        if self.max_in_flight < 1:
            raise ValueError("max_in_flight must be at least 1")
        if self.http is None and not self.nats_urls:
            raise ValueError("at least one transport (HTTP or NATS) must be on")


@dataclass(slots=True)
class ServiceStats:
    """Counters beside nats.micro's own; also in each endpoint's ``data`` of $SRV.STATS."""

    http_requests: int = 0
    http_errors: int = 0
    http_rejected: int = 0
    nats_requests: int = 0
    nats_errors: int = 0
    slow_consumers: int = 0
    last_slow_consumer_subject: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}  # type: ignore[attr-defined]


@dataclass
class ServiceServer:
    """One service served over the configured transports. ``async with`` or start()/stop()."""

    service: Service
    config: ServeConfig = field(default_factory=ServeConfig)

    stats: ServiceStats = field(default_factory=ServiceStats, init=False)
    http_url: str | None = field(default=None, init=False)
    nc: Client | None = field(default=None, init=False)
    micro_service: Any = field(default=None, init=False)

    def __post_init__(self) -> None:
        self._slots = asyncio.Semaphore(self.config.max_in_flight)
        self._stopping = False
        self._tasks: set[asyncio.Task[None]] = set()
        self._subjects: dict[tuple[str, str], str] = {}
        self._web_server: web.Server | None = None
        self._listener: asyncio.AbstractServer | None = None
        self._endpoint: Any = None
        self._slow_logged_at = 0.0
        self._prefix = self.service.subject_prefix

    @property
    def queue_group(self) -> str:
        return self.config.queue_group or self.service.name

    @property
    def in_flight(self) -> int:
        return self.config.max_in_flight - self._slots._value

    # -- lifecycle -------------------------------------------------------------

    async def start(self) -> None:
        """Connect and listen; returns once both transports take requests."""
        try:
            if self.config.nats_urls:
                await self._start_nats()
            if self.config.http is not None:
                await self._start_http(*self.config.http)
        except BaseException:
            await self._close_quietly()
            raise
        logger.info(
            "service %s %s ready: http=%s nats=%s subject=%s.> queue=%s",
            self.service.name,
            self.service.version,
            self.http_url,
            list(self.config.nats_urls) or None,
            self._prefix,
            self.queue_group,
        )

    async def stop(self) -> None:
        """Stop taking work, let in-flight requests finish (bounded), close NATS."""
        if self._stopping:
            return
        self._stopping = True
        deadline = time.monotonic() + self.config.stop_timeout
        logger.info("service %s stopping (%d in flight)", self.service.name, self.in_flight)

        if self._listener is not None:
            self._listener.close()
        if self._web_server is not None:
            # Idle keep-alive connections close now, busy ones after their response;
            # aiohttp's shutdown alone would wait its whole timeout on an idle one.
            for connection in self._web_server.connections:
                connection.close()
        if self._endpoint is not None and self._endpoint._subscription is not None:
            await self._drain_endpoint(deadline)
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=max(deadline - time.monotonic(), 0))
        if self._web_server is not None:
            await self._web_server.shutdown(max(deadline - time.monotonic(), 0.1))
        await self._close_nats(deadline)
        left = [t for t in self._tasks if not t.done()]
        for task in left:
            task.cancel()
        logger.info("service %s stopped (%d requests cut off)", self.service.name, len(left))

    async def __aenter__(self) -> ServiceServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _close_quietly(self) -> None:
        self._stopping = True
        if self._listener is not None:
            self._listener.close()
        if self.nc is not None and not self.nc.is_closed:
            await self.nc.close()

    # -- HTTP ------------------------------------------------------------------

    async def _start_http(self, host: str, port: int) -> None:
        self._web_server = web.Server(self._on_http, access_log=None)
        loop = asyncio.get_running_loop()
        self._listener = await loop.create_server(
            self._web_server, host, port, backlog=self.config.backlog, reuse_address=True
        )
        sockname = self._listener.sockets[0].getsockname()
        shown = f"[{sockname[0]}]" if ":" in sockname[0] else sockname[0]
        self.http_url = f"http://{shown}:{sockname[1]}"
        for sock in self._listener.sockets:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    async def _on_http(self, raw: web.BaseRequest) -> web.StreamResponse:
        stats = self.stats
        stats.http_requests += 1
        if self._stopping or self._slots.locked():
            stats.http_rejected += 1
            stats.http_errors += 1
            reason = "service is stopping" if self._stopping else "service is overloaded"
            return _web_response(error_response(503, reason, [("Retry-After", "1")]))

        await self._slots.acquire()
        try:
            path, _, query = raw.raw_path.partition("?")
            if not path.startswith("/"):
                path = raw.rel_url.raw_path
            body = await raw.read() if raw.can_read_body else b""
            request = Request(raw.method, path, query, raw.headers.items(), body, "http")
            response = await self.service.dispatch(request)
        finally:
            self._slots.release()
        if response.status >= 400:
            stats.http_errors += 1
        return _web_response(response)

    # -- NATS ------------------------------------------------------------------

    async def _start_nats(self) -> None:
        urls = list(self.config.nats_urls)
        name = self.service.name
        try:
            self.nc = await asyncio.wait_for(
                connect(urls, name=f"natsgate-service-{name}", error_cb=self._on_error),
                self.config.connect_timeout,
            )
        except Exception as exc:  # nats-py raises its own errors, OSError or TimeoutError
            raise ConnectionError(
                f"cannot connect to NATS at {', '.join(urls)} within "
                f"{self.config.connect_timeout:g}s: {exc or type(exc).__name__}"
            ) from exc

        routes = ", ".join(self.service.routes)
        metadata = {"routes": routes, "subject_prefix": self._prefix, "runtime": "natsgate"}
        self.micro_service = await micro.add_service(
            self.nc,
            name=self.service.name,
            version=self.service.version,
            description=self.service.description or None,
            metadata=metadata,
            queue_group=self.queue_group,
            stats_handler=lambda _endpoint: self.stats.to_dict(),
        )
        await self.micro_service.add_endpoint(
            name="http",
            subject=f"{self._prefix}.>",
            handler=self._on_nats,
            metadata={"routes": routes},
        )
        self._endpoint = self.micro_service._endpoints[-1]
        await self.nc.flush()

    async def _on_error(self, exc: Exception) -> None:
        if isinstance(exc, SlowConsumerError):
            self.stats.slow_consumers += 1
            self.stats.last_slow_consumer_subject = exc.subject
            now = time.monotonic()
            if now - self._slow_logged_at >= _SLOW_CONSUMER_LOG_INTERVAL:
                self._slow_logged_at = now
                logger.warning(
                    "slow consumer: NATS message on %s dropped (pending limits reached, "
                    "%d dropped so far)",
                    exc.subject,
                    self.stats.slow_consumers,
                )
            return
        logger.warning("NATS error (service %s): %s", self.service.name, exc)

    async def _on_nats(self, request: MicroRequest) -> None:
        # Runs inside the subscription's one-at-a-time loop: take a slot (waiting
        # here keeps further messages pending in the subscription) and hand off.
        await self._slots.acquire()
        task = asyncio.get_running_loop().create_task(self._serve_nats(request))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _serve_nats(self, mreq: MicroRequest) -> None:
        started = time.perf_counter_ns()
        self.stats.nats_requests += 1
        method = ""
        try:
            try:
                parsed = mapping.parse_service_request(header_lines(mreq.headers))
                method = parsed.method
                self._check_subject(mreq.subject, parsed.method, parsed.path)
            except NatsgateError as exc:
                response = error_response(exc.status, exc.reason)
            else:
                request = Request(
                    parsed.method, parsed.path, parsed.query, parsed.headers, mreq.data, "nats"
                )
                response = await self.service.dispatch(request)
            status = await self._reply(mreq, method, response)
        except Exception:
            logger.exception("NATS request on %s failed", mreq.subject)
            self._account(started, "500")
        else:
            self._account(started, str(status) if status >= 400 else None)
        finally:
            self._slots.release()

    def _check_subject(self, subject: str, method: str, path: str) -> None:
        key = (method, path)
        expected = self._subjects.get(key)
        if expected is None:
            tokens = mapping.path_tokens(path)
            expected = ".".join([self._prefix, mapping.escape_token(method.encode()), *tokens])
            if len(self._subjects) >= _SUBJECT_CACHE_SIZE:
                self._subjects.clear()
            self._subjects[key] = expected
        if subject != expected:
            raise BadRequest("subject does not match Http-Method and Http-Path")

    async def _reply(self, mreq: MicroRequest, method: str, response: Response) -> int:
        """Send ``response`` (or a 502 if it is over max_payload); the status sent."""
        lines = mapping.reply_headers(response.status, response.headers)
        body = response.body
        if method == "HEAD":
            lines.append(("Content-Length", str(len(body))))
            body = b""
        if response.status >= 400:
            lines.append((mapping.SERVICE_ERROR_CODE, str(response.status)))
            lines.append((mapping.SERVICE_ERROR_DESCRIPTION, _phrase(response.status)))
        size = len(body) + mapping.header_block_size(lines)
        assert self.nc is not None
        if size > self.nc.max_payload:
            # nats-py would raise MaxPayloadError and the caller wait out its timeout.
            logger.warning(
                "reply on %s of %d bytes is over NATS max_payload (%d): sending 502",
                mreq.subject,
                size,
                self.nc.max_payload,
            )
            return await self._reply(mreq, method, error_response(502, _TOO_LARGE))
        await mreq.respond(body, headers=HeaderLines(lines))
        return response.status

    def _account(self, started: int, error: str | None) -> None:
        """Complete nats.micro's counters for a reply sent after its callback returned."""
        endpoint = self._endpoint
        if endpoint is None:
            return
        endpoint._processing_time += time.perf_counter_ns() - started
        if endpoint._num_requests:
            endpoint._average_processing_time = int(
                endpoint._processing_time / endpoint._num_requests
            )
        if error is not None:
            self.stats.nats_errors += 1
            endpoint._num_errors += 1
            endpoint._last_error = error

    async def _drain_endpoint(self, deadline: float) -> None:
        subscription = self._endpoint._subscription
        try:
            await asyncio.wait_for(subscription.drain(), max(deadline - time.monotonic(), 0.1))
        except Exception as exc:  # a closed or reconnecting connection: nothing to drain
            logger.warning("draining %s.> did not finish: %s", self._prefix, exc)

    async def _close_nats(self, deadline: float) -> None:
        nc = self.nc
        if nc is None or nc.is_closed:
            return
        try:
            await asyncio.wait_for(nc.drain(), max(deadline - time.monotonic(), 0.5))
        except Exception as exc:
            logger.warning("NATS drain did not finish (%s); closing", exc)
        if not nc.is_closed:
            await nc.close()


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "error"


def _web_response(response: Response) -> web.Response:
    return web.Response(
        status=response.status, body=response.body, headers=CIMultiDict(response.headers)
    )
