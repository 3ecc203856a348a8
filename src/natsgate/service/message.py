"""What a handler sees and returns: :class:`Request`, :class:`Response`, :class:`HTTPError`.

Both transports build the same :class:`Request` (HTTP from the aiohttp request,
NATS from the mapping's headers), so a handler cannot tell them apart except by
``request.transport``. Headers and query parameters are multi-valued and kept
in wire order; header names are looked up case-insensitively.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator, Sequence
from typing import Any
from urllib.parse import parse_qsl

__all__ = ["HTTPError", "HeaderList", "QueryParams", "Request", "Response"]

_JSON = "application/json"
_TEXT = "text/plain; charset=utf-8"


def dump_json(obj: Any) -> bytes:
    """Deterministic compact JSON, as every JSON body of the runtime is written."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


class _MultiValued:
    """An ordered list of (name, value) pairs with a lazily built lookup index."""

    __slots__ = ("_fold", "_index", "_items")

    def __init__(self, items: Collection[tuple[str, str]], fold: bool) -> None:
        self._items = items
        self._fold = fold
        self._index: dict[str, list[str]] | None = None

    def _lookup(self) -> dict[str, list[str]]:
        index = self._index
        if index is None:
            index = {}
            for key, value in self._items:
                index.setdefault(key.lower() if self._fold else key, []).append(value)
            self._index = index
        return index

    def get(self, name: str, default: str | None = None) -> str | None:
        """The first value of ``name``, or ``default``."""
        values = self._lookup().get(name.lower() if self._fold else name)
        return values[0] if values else default

    def getall(self, name: str) -> list[str]:
        """Every value of ``name`` in wire order (an empty list when absent)."""
        return list(self._lookup().get(name.lower() if self._fold else name, ()))

    def __getitem__(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise KeyError(name)
        return value

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and (name.lower() if self._fold else name) in self._lookup()

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def items(self) -> list[tuple[str, str]]:
        """Every (name, value) pair in wire order."""
        return list(self._items)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({list(self._items)!r})"


class HeaderList(_MultiValued):
    """Request header fields: names as sent, compared case-insensitively."""

    __slots__ = ()

    def __init__(self, items: Collection[tuple[str, str]]) -> None:
        super().__init__(items, fold=True)


class QueryParams(_MultiValued):
    """Query parameters decoded from the raw query string (names case-sensitive)."""

    __slots__ = ()

    def __init__(self, raw: str) -> None:
        super().__init__(parse_qsl(raw, keep_blank_values=True), fold=False)


class Request:
    """One request, whichever transport brought it."""

    __slots__ = (
        "_query",
        "body",
        "headers",
        "method",
        "path",
        "path_params",
        "query_string",
        "transport",
    )

    def __init__(
        self,
        method: str,
        path: str,
        query_string: str,
        headers: Collection[tuple[str, str]],
        body: bytes,
        transport: str,
        path_params: dict[str, str] | None = None,
    ) -> None:
        self.method = method
        self.path = path
        self.query_string = query_string
        self.headers = HeaderList(headers)
        self.body = body
        self.transport = transport
        self.path_params: dict[str, str] = path_params if path_params is not None else {}
        self._query: QueryParams | None = None

    @property
    def query(self) -> QueryParams:
        """Decoded query parameters, parsed on first use."""
        if self._query is None:
            self._query = QueryParams(self.query_string)
        return self._query

    def json(self) -> Any:
        """The body decoded as JSON; a 400 :class:`HTTPError` when it is not."""
        try:
            return json.loads(self.body)
        except ValueError:
            raise HTTPError(400, "request body is not valid JSON") from None

    def __repr__(self) -> str:
        return f"<Request {self.method} {self.path} via {self.transport}>"


class Response:
    """A status, header lines in order (repeats allowed) and a raw body."""

    __slots__ = ("body", "headers", "status")

    def __init__(
        self,
        status: int = 200,
        headers: Sequence[tuple[str, str]] = (),
        body: bytes = b"",
    ) -> None:
        if not 100 <= status <= 599:
            raise ValueError(f"status {status} outside 100-599")
        self.status = status
        self.headers: list[tuple[str, str]] = list(headers)
        self.body = body

    @classmethod
    def json(cls, obj: Any, status: int = 200, headers: Sequence[tuple[str, str]] = ()) -> Response:
        """``obj`` as compact JSON with ``Content-Type: application/json``."""
        return cls(status, [("Content-Type", _JSON), *headers], dump_json(obj))

    @classmethod
    def text(
        cls, text: str, status: int = 200, headers: Sequence[tuple[str, str]] = ()
    ) -> Response:
        """``text`` as UTF-8 with ``Content-Type: text/plain; charset=utf-8``."""
        return cls(status, [("Content-Type", _TEXT), *headers], text.encode())

    @classmethod
    def convert(cls, result: object) -> Response:
        """A handler's return value as a response: Response, bytes, str, dict/list or None."""
        if isinstance(result, Response):
            return result
        if isinstance(result, bytes | bytearray | memoryview):
            return cls(200, [("Content-Type", "application/octet-stream")], bytes(result))
        if isinstance(result, str):
            return cls.text(result)
        if isinstance(result, dict | list):
            return cls.json(result)
        if result is None:
            return cls(204)
        raise TypeError(f"handler returned {type(result).__name__}, not a response")

    def __repr__(self) -> str:
        return f"<Response {self.status} {len(self.body)} bytes>"


class HTTPError(Exception):
    """Raise in a handler to answer ``status`` with the JSON body ``{"error": message}``."""

    def __init__(
        self, status: int, message: str = "", headers: Sequence[tuple[str, str]] = ()
    ) -> None:
        if not 400 <= status <= 599:
            raise ValueError(f"HTTPError status {status} outside 400-599")
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = list(headers)

    def to_response(self) -> Response:
        return Response.json({"error": self.message}, self.status, self.headers)
