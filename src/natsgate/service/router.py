"""Method + path template routing, with 404 and 405 decided in one place.

::

    "/items/{id}"  ->  ("items", {id})      segments: literals and captures
    GET /items/a%2Fb   ->  segments ["items", "a/b"]  ->  {"id": "a/b"}

A raw path is split on ``/`` first and each segment percent-decoded after, so
an encoded slash stays inside one parameter. Templates without captures go to
a dict keyed by their decoded segments (one lookup); the others are tried in
registration order among templates of the same length. A path that matches a
template but not its method is a 405 carrying ``Allow``; HEAD falls back to
the GET handler.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

__all__ = ["Match", "Route", "Router"]

_CAPTURE_RE = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_BAD_PERCENT_RE = re.compile(r"%(?![0-9A-Fa-f]{2})")
_METHOD_RE = re.compile(r"[A-Z]+")

Handler = Callable[..., Any]

# Outcomes of recent (method, path) pairs; cleared when full, since paths come from clients.
_MATCH_CACHE_SIZE = 2048


@dataclass(slots=True)
class Route:
    """One path template and the handler of each method registered on it."""

    template: str
    segments: tuple[str | None, ...]  # None marks a capture
    names: tuple[str, ...]
    handlers: dict[str, Handler] = field(default_factory=dict)

    @property
    def allow(self) -> str:
        methods = set(self.handlers)
        if "GET" in methods:
            methods.add("HEAD")
        return ", ".join(sorted(methods))


@dataclass(slots=True)
class Match:
    """The outcome of routing: a handler with its parameters, or a status with ``Allow``."""

    handler: Handler | None
    params: dict[str, str]
    route: Route | None
    status: int = 200
    allow: str = ""


_NOT_FOUND = Match(None, {}, None, 404)
_BAD_PATH = Match(None, {}, None, 400)


def _parse_template(template: str) -> tuple[tuple[str | None, ...], tuple[str, ...]]:
    if not template.startswith("/"):
        raise ValueError(f"path template {template!r} must start with '/'")
    if template == "/":
        return (), ()
    segments: list[str | None] = []
    names: list[str] = []
    for part in template[1:].split("/"):
        capture = _CAPTURE_RE.fullmatch(part)
        if capture:
            if capture.group(1) in names:
                raise ValueError(f"path template {template!r} repeats {{{capture.group(1)}}}")
            names.append(capture.group(1))
            segments.append(None)
        elif not part or "{" in part or "}" in part:
            raise ValueError(f"path template {template!r} has a bad segment {part!r}")
        else:
            segments.append(part)
    return tuple(segments), tuple(names)


def split_path(path: str) -> list[str] | None:
    """Percent-decoded segments of a raw path, or None when an escape is malformed."""
    if path in ("", "/"):
        return []
    if "%" not in path:
        return path[1:].split("/")
    if _BAD_PERCENT_RE.search(path):
        return None
    return [unquote(part, errors="replace") for part in path[1:].split("/")]


class Router:
    """The route table of one service."""

    def __init__(self) -> None:
        self._routes: dict[str, Route] = {}
        self._static: dict[tuple[str, ...], Route] = {}
        self._dynamic: dict[int, list[Route]] = {}
        self._cache: dict[tuple[str, str], Match] = {}

    def add(self, method: str, template: str, handler: Handler) -> Route:
        """Register ``handler`` for ``method`` on ``template``; a duplicate is a ValueError."""
        method = method.upper()
        if not _METHOD_RE.fullmatch(method):
            raise ValueError(f"method {method!r} is not an upper-case token")
        route = self._routes.get(template)
        if route is None:
            segments, names = _parse_template(template)
            route = Route(template, segments, names)
            self._routes[template] = route
            if names:
                self._dynamic.setdefault(len(segments), []).append(route)
            else:
                self._static[tuple(s for s in segments if s is not None)] = route
        if method in route.handlers:
            raise ValueError(f"{method} {template} is already registered")
        route.handlers[method] = handler
        self._cache.clear()
        return route

    @property
    def routes(self) -> list[Route]:
        return list(self._routes.values())

    def match(self, method: str, path: str) -> Match:
        """Route ``method`` and a raw ``path``: a handler, or a 400/404/405 outcome.

        The returned ``params`` dict is the caller's own (a copy of the cached one).
        """
        key = (method, path)
        cached = self._cache.get(key)
        if cached is None:
            cached = self._match(method, path)
            if len(self._cache) >= _MATCH_CACHE_SIZE:
                self._cache.clear()
            self._cache[key] = cached
        if cached.params:
            return Match(cached.handler, dict(cached.params), cached.route)
        return cached

    def _match(self, method: str, path: str) -> Match:
        segments = split_path(path)
        if segments is None:
            return _BAD_PATH
        route = self._static.get(tuple(segments))
        params: dict[str, str] = {}
        if route is None:
            route, params = self._match_dynamic(segments)
            if route is None:
                return _NOT_FOUND

        handler = route.handlers.get(method)
        if handler is None and method == "HEAD":
            handler = route.handlers.get("GET")
        if handler is None:
            return Match(None, {}, route, 405, route.allow)
        return Match(handler, params, route)

    def _match_dynamic(self, segments: list[str]) -> tuple[Route | None, dict[str, str]]:
        for route in self._dynamic.get(len(segments), ()):
            params: dict[str, str] = {}
            for expected, actual in zip(route.segments, segments, strict=True):
                if expected is None:
                    if not actual:
                        break
                    params[route.names[len(params)]] = actual
                elif expected != actual:
                    break
            else:
                return route, params
        return None, {}
