"""The gateway's HTTP server: aiohttp's low-level server and one dispatch function.

::

                    +-- /healthz /readyz /metrics (reserved, answered here)
    client --HTTP-->| dispatch: RouteTable.match(method, raw path)
                    +-- PrefixRoute upstream=... --> HttpUpstream --HTTP--> service
                    +-- PrefixRoute subject=...  --> NatsUpstream --NATS--> service
                    +-- TemplateRoute            --> NatsUpstream --NATS--> service

Both transports share the edge rules of :mod:`natsgate.mapping` (hop-by-hop
headers dropped, X-Forwarded-* set, reserved names stripped) and the request
body limit. Every failure is a :class:`~natsgate.errors.NatsgateError` by the
time it reaches :meth:`Gateway.handle`, which turns it into its status and a
small JSON body in one place and logs one line at WARNING; a client that went
away mid-body (:class:`~natsgate.errors.ClientGone`) gets one line at INFO and
nothing sent.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import time
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.web_request import BaseRequest
from multidict import CIMultiDict

from natsgate.errors import BadRequest, ClientGone, NatsgateError, PayloadTooLarge, RequestTimeout
from natsgate.gateway.deadlines import TrackingServer
from natsgate.gateway.http_upstream import HttpUpstream
from natsgate.gateway.metrics import CONTENT_TYPE_LATEST, Metrics
from natsgate.gateway.nats_upstream import NatsUpstream
from natsgate.mapping import (
    Headers,
    build_subject,
    edge_request_headers,
    escape_token,
    nats_request,
    path_tokens,
    refuse_dot_segments,
)
from natsgate.routes import Config, Match, PrefixRoute, TemplateRoute

__all__ = ["Gateway"]

logger = logging.getLogger("natsgate.gateway")

_JSON = "application/json"
SERVER = "natsgate"  # the Server header, instead of aiohttp's Python and aiohttp versions
_TRUST_CACHE_LIMIT = 4096
_METHOD_CACHE_LIMIT = 64

Handler = Callable[[BaseRequest], Awaitable[web.StreamResponse]]


class Gateway:
    """Routes requests by a :class:`~natsgate.routes.Config`; ``start()``, then ``stop()``."""

    def __init__(
        self,
        config: Config,
        *,
        host: str | None = None,
        port: int | None = None,
        nats_servers: list[str] | None = None,
        reuse_port: bool = False,
    ) -> None:
        self.config = config
        self.reuse_port = reuse_port  # SO_REUSEPORT: several gateway processes on one port
        self.host = host if host is not None else config.gateway.host
        self.port = port if port is not None else config.gateway.port
        self.metrics = Metrics(config.gateway.metrics)
        self.nats: NatsUpstream | None = None
        if config.routes.uses_nats:
            self.nats = NatsUpstream(config.nats, nats_servers)
            self.nats.on_reconnect = self.metrics.nats_reconnected
        self.http: dict[int, HttpUpstream] = {
            r.index: HttpUpstream(r)
            for r in config.routes.routes
            if isinstance(r, PrefixRoute) and not r.subject
        }
        for upstream in self.http.values():
            self.metrics.watch_upstreams(upstream.route.name, upstream.rotation.healthy_count)
        self._ops: dict[str, Handler] = {
            "/healthz": self._healthz,
            "/readyz": self._readyz,
            "/metrics": self._metrics,
        }
        self._trusted: dict[str, bool] = {}
        self._method_tokens: dict[str, str] = {}
        self._debug = False
        self._server: TrackingServer | None = None
        self._listener: asyncio.AbstractServer | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    # -- lifecycle ----------------------------------------------------------------

    async def start(self) -> None:
        """Connect NATS (if a route needs it), open the pools, then listen."""
        # Checked once: request-level lines cost nothing unless DEBUG is on at start.
        self._debug = logger.isEnabledFor(logging.DEBUG)
        if self.nats is not None:
            await self.nats.start()
        for upstream in self.http.values():
            await upstream.start()
        settings = self.config.gateway
        self._server = TrackingServer(
            self.handle,
            access_log=None,
            header_timeout=settings.header_timeout,
            keepalive_timeout=settings.keepalive_timeout,
        )
        loop = asyncio.get_running_loop()
        self._listener = await loop.create_server(
            self._server,
            self.host,
            self.port,
            backlog=self.config.gateway.backlog,
            reuse_port=self.reuse_port or None,
        )
        self.port = self._listener.sockets[0].getsockname()[1]
        logger.info(
            "gateway listening on %s with %d route(s)", self.url, len(self.config.routes.routes)
        )

    async def stop(self, timeout: float | None = None) -> None:
        """Stop accepting, let in-flight requests finish, drain NATS, close the pools."""
        timeout = self.config.gateway.shutdown_timeout if timeout is None else timeout
        if self._listener is not None:
            self._listener.close()
        if self._server is not None:
            await self._server.stop_sweeping()
            self._server.pre_shutdown()
            await self._server.shutdown(timeout)
        if self._listener is not None:
            await self._listener.wait_closed()
        if self.nats is not None:
            await self.nats.close()
        for upstream in self.http.values():
            await upstream.close()
        logger.info("gateway stopped")

    # -- dispatch -----------------------------------------------------------------

    async def handle(self, request: BaseRequest) -> web.StreamResponse:
        """The one request handler: reserved paths, then routes, then 404."""
        assert self._server is not None
        self._server.head_done(request.protocol)
        path, sep, query = request.raw_path.partition("?")
        ops = self._ops.get(path)
        if ops is not None:
            return await ops(request)
        if not path.startswith("/"):
            return self._reject(request, BadRequest("request target must be an absolute path"))
        match = self.config.routes.match(request.method, path)
        if match is None:
            return self._no_route(request, path)

        route = match.route
        started = time.perf_counter()
        self.metrics.in_flight += 1
        try:
            response = await self._forward(request, match, sep, query)
        except ClientGone as exc:
            logger.info(
                "%s %s (route %s): %s", request.method, _loggable_path(request), route.name, exc
            )
            response = web.Response(status=exc.status)  # never sent: the transport is gone
        except NatsgateError as exc:
            response = self._failure(request, route.name, exc)
        except Exception:
            logger.exception(
                "%s %s (route %s) -> 500", request.method, _loggable_path(request), route.name
            )
            response = _error(request, 500, "internal gateway error")
        finally:
            self.metrics.in_flight -= 1
        self.metrics.observe(route.name, route.transport, response.status, _since(started))
        if self._debug:
            logger.debug(
                "%s %s (route %s) -> %d",
                request.method,
                _loggable_path(request),
                route.name,
                response.status,
            )
        return response

    async def _forward(
        self, request: BaseRequest, match: Match, sep: str, query: str
    ) -> web.StreamResponse:
        route = match.route
        body = await _read_body(request, route.max_body, self.config.gateway.body_timeout)
        headers = self._edge_headers(request)
        if isinstance(route, PrefixRoute) and not route.subject:
            refuse_dot_segments(match.path)  # NATS routes escape them into a token instead
            status, out, data, length = await self.http[route.index].forward(
                request.method, match.path, sep, query, headers, body
            )
            return _respond(request, status, out, data, length)

        assert self.nats is not None
        subject = self._subject(request.method, match)
        message = nats_request(subject, request.method, match.path or "/", query, headers, body)
        reply = await self.nats.request(message, route.timeout)
        return _respond(request, reply.status, reply.headers, reply.body, reply.content_length)

    def _subject(self, method: str, match: Match) -> str:
        route = match.route
        if isinstance(route, TemplateRoute):
            assert match.params is not None
            return build_subject("", route.subject_tokens(match.params))
        token = self._method_tokens.get(method)
        if token is None:
            token = escape_token(method.encode())
            if len(self._method_tokens) < _METHOD_CACHE_LIMIT:  # methods come from clients
                self._method_tokens[method] = token
        return build_subject(route.subject, [token, *path_tokens(match.path)])

    def _edge_headers(self, request: BaseRequest) -> Headers:
        peer = request.remote or ""
        return edge_request_headers(
            list(request.headers.items()),
            client_ip=peer,
            scheme=request.scheme,
            host=request.headers.get("Host"),
            trusted_proxy=self._is_trusted(peer),
        )

    def _is_trusted(self, peer: str) -> bool:
        networks = self.config.gateway.trusted_proxies
        if not networks:
            return False
        trusted = self._trusted.get(peer)
        if trusted is None:
            try:
                address = ipaddress.ip_address(peer)
                trusted = any(address in network for network in networks)
            except ValueError:
                trusted = False
            if len(self._trusted) >= _TRUST_CACHE_LIMIT:
                self._trusted.clear()
            self._trusted[peer] = trusted
        return trusted

    # -- answers that are not forwarded --------------------------------------------

    def _failure(self, request: BaseRequest, route: str, exc: NatsgateError) -> web.Response:
        logger.warning(
            "%s %s (route %s) -> %d: %s",
            request.method,
            _loggable_path(request),
            route,
            exc.status,
            _loggable_reason(exc.reason),
        )
        response = _error(request, exc.status, exc.public)
        if isinstance(exc, RequestTimeout):
            response.force_close()  # the rest of the body may still come: do not read it
        return response

    def _reject(self, request: BaseRequest, exc: NatsgateError) -> web.Response:
        response = self._failure(request, "-", exc)
        self.metrics.observe("-", "-", exc.status, 0.0)
        return response

    def _no_route(self, request: BaseRequest, path: str) -> web.Response:
        allowed = self.config.routes.allowed_methods(path)
        if allowed:
            response = _error(request, 405, "method not allowed")
            response.headers["Allow"] = ", ".join(allowed)
        else:
            response = _error(request, 404, "no route")
        logger.debug("%s %s -> %d", request.method, _loggable_path(request), response.status)
        self.metrics.observe("-", "-", response.status, 0.0)
        return response

    async def _healthz(self, request: BaseRequest) -> web.StreamResponse:
        return _json(request, 200, {"status": "ok"})

    async def _readyz(self, request: BaseRequest) -> web.StreamResponse:
        reason = self.not_ready_reason()
        if reason:
            return _json(request, 503, {"status": "not ready", "reason": reason})
        return _json(request, 200, {"status": "ready"})

    def not_ready_reason(self) -> str:
        """Why the gateway cannot serve its routes now, or "" when it can."""
        if not self.config.routes.routes:
            return "no routes configured"
        if self._listener is None:
            return "not listening yet"
        if self.nats is not None and not self.nats.is_connected:
            return "NATS is not connected"
        return ""

    async def _metrics(self, request: BaseRequest) -> web.StreamResponse:
        body = await asyncio.to_thread(self.metrics.render)
        headers = {"Content-Type": CONTENT_TYPE_LATEST, "Server": SERVER}
        return web.Response(body=body, headers=headers)


async def _read_body(request: BaseRequest, limit: int, timeout: float) -> bytes:
    """The whole request body: 413 as soon as it passes ``limit``, 408 if not in by ``timeout``.

    The client closing the connection mid-body is :class:`ClientGone`: aiohttp
    fails the payload with ConnectionResetError (aiohttp's ClientConnectionResetError
    is one). Handlers are not cancelled on disconnect (web.Server's default).
    """
    length = request.content_length
    if length is not None and length > limit:
        raise PayloadTooLarge(f"body of {length} bytes is over the route's limit of {limit}")
    if not request.body_exists:
        return b""
    chunks = []
    size = 0
    try:
        async with asyncio.timeout(timeout):
            while True:
                chunk = await request.content.readany()
                if not chunk:
                    break
                size += len(chunk)
                if size > limit:
                    raise PayloadTooLarge(f"body is over the route's limit of {limit} bytes")
                chunks.append(chunk)
    except TimeoutError:
        raise RequestTimeout(f"request body not received within {timeout:g}s") from None
    except ConnectionResetError:
        raise ClientGone(f"client went away after {size} body bytes") from None
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _respond(
    request: BaseRequest, status: int, headers: Headers, body: bytes, length: str | None
) -> web.Response:
    """The client's response; HEAD keeps the upstream's Content-Length and sends no body."""
    out = CIMultiDict(headers)
    out["Server"] = SERVER
    if request.method == "HEAD":
        out["Content-Length"] = length if length is not None else str(len(body))
        body = b""
    return web.Response(status=status, headers=out, body=body)


def _error(request: BaseRequest, status: int, reason: str) -> web.Response:
    return _json(request, status, {"error": reason})


def _json(request: BaseRequest, status: int, payload: dict[str, str]) -> web.Response:
    body = json.dumps(payload).encode()
    return _respond(request, status, [("Content-Type", _JSON)], body, None)


def _loggable_path(request: BaseRequest) -> str:
    """The path without its query string (which may carry secrets), cut short."""
    path = request.raw_path.partition("?")[0]
    return path if len(path) <= 200 else path[:200] + "..."


def _loggable_reason(reason: str) -> str:
    """A reason on one line: upstream bytes escaped, cut at 200 characters."""
    text = reason if reason.isprintable() else repr(reason)[1:-1]
    return text if len(text) <= 200 else text[:200] + "..."


def _since(started: float) -> float:
    return time.perf_counter() - started
