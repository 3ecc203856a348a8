"""A service: its name, its route table, and the dispatch every transport shares.

::

    transport (HTTP or NATS) -> Request -> Service.dispatch -> Response -> transport
                                              |
                                   Router.match -> handler(request)
                                   HTTPError    -> {"error": message}
                                   exception    -> 500, logged, no details

:meth:`Service.dispatch` is the single place where a status is decided, so the
two transports cannot drift apart: they only translate to and from their wire.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import re
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import Any, TypeVar

from natsgate.mapping import validate_subject_prefix
from natsgate.service.message import HTTPError, Request, Response
from natsgate.service.router import Route, Router

__all__ = ["Handler", "Service"]

logger = logging.getLogger("natsgate.service")

Handler = Callable[[Request], Any]
H = TypeVar("H", bound=Handler)

# The NATS Services API allows these in a service name.
_NAME_RE = re.compile(r"[A-Za-z0-9\-_]+")
_DEFAULT_TYPE = ("Content-Type", "application/octet-stream")


def error_response(
    status: int, message: str | None = None, headers: list[tuple[str, str]] | None = None
) -> Response:
    """The runtime's own error body: ``{"error": message}`` (the status phrase by default)."""
    text = message if message is not None else HTTPStatus(status).phrase.lower()
    return HTTPError(status, text, headers or ()).to_response()


def _run_in_thread(func: Callable[[Request], Any]) -> Callable[[Request], Awaitable[Any]]:
    async def call(request: Request) -> Any:
        return await asyncio.to_thread(func, request)

    return call


class Service:
    """Handlers registered by method and path template, served over HTTP and NATS."""

    def __init__(
        self,
        name: str,
        version: str = "0.1.0",
        description: str = "",
        subject_prefix: str | None = None,
    ) -> None:
        if not _NAME_RE.fullmatch(name):
            raise ValueError(f"service name {name!r} must be A-Z a-z 0-9 - _")
        self.name = name
        self.version = version
        self.description = description
        self.subject_prefix = validate_subject_prefix(subject_prefix or name)
        self.router = Router()

    # -- registration ----------------------------------------------------------

    def route(self, method: str, path: str) -> Callable[[H], H]:
        """Decorator registering a handler; plain functions run in a worker thread."""

        def register(handler: H) -> H:
            self.add_route(method, path, handler)
            return handler

        return register

    def add_route(self, method: str, path: str, handler: Handler) -> Route:
        if inspect.iscoroutinefunction(handler):
            call: Callable[[Request], Awaitable[Any]] = handler
        else:
            call = _run_in_thread(handler)
        route = self.router.add(method, path, call)
        return route

    def get(self, path: str) -> Callable[[H], H]:
        return self.route("GET", path)

    def post(self, path: str) -> Callable[[H], H]:
        return self.route("POST", path)

    def put(self, path: str) -> Callable[[H], H]:
        return self.route("PUT", path)

    def patch(self, path: str) -> Callable[[H], H]:
        return self.route("PATCH", path)

    def delete(self, path: str) -> Callable[[H], H]:
        return self.route("DELETE", path)

    @property
    def routes(self) -> list[str]:
        """``METHOD /template`` for every registered handler, in registration order."""
        return [f"{m} {r.template}" for r in self.router.routes for m in r.handlers]

    # -- dispatch --------------------------------------------------------------

    async def dispatch(self, request: Request) -> Response:
        """Route and run one request; always a response (HEAD keeps its body here)."""
        match = self.router.match(request.method, request.path)
        handler = match.handler
        if handler is None:
            if match.status == 405:
                response = error_response(405, None, [("Allow", match.allow)])
            elif match.status == 400:
                response = error_response(400, "malformed percent-encoding in path")
            else:
                response = error_response(404)
        else:
            request.path_params = match.params
            try:
                response = Response.convert(await handler(request))
            except HTTPError as exc:
                response = exc.to_response()
            except Exception:
                route = match.route.template if match.route else request.path
                logger.exception("handler for %s %s failed", request.method, route)
                response = error_response(500)

        if response.body and not _has_content_type(response.headers):
            response.headers.append(_DEFAULT_TYPE)
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug(
                "%s %s via %s -> %d",
                request.method,
                request.path,
                request.transport,
                response.status,
            )
        return response

    def __repr__(self) -> str:
        return f"<Service {self.name} {self.version} ({len(self.routes)} routes)>"


def _has_content_type(headers: list[tuple[str, str]]) -> bool:
    return any(k.lower() == "content-type" for k, _ in headers)
