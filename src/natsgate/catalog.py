"""The reference service the benchmark drives: the original experiment's Go service, redone.

::

    GET  /items        200 {"items":[...2 items...],"query":"<raw query string>"}
    GET  /items/{id}   200 the item for a known id, 404 {"error":"item not found"} otherwise
    POST /echo         200 the request body byte for byte, with the request's Content-Type

The original answered an unknown id with status 200 and an error body, which
hid the errors from its benchmark; here it is a 404. Bodies are serialized once
at import (compact, deterministic JSON) and the ``expected_*`` functions give
the exact bytes, so the load generator can check every response body.
"""

from __future__ import annotations

from typing import Any

from natsgate.service import Request, Response, Service
from natsgate.service.message import dump_json

__all__ = [
    "ITEMS",
    "KNOWN_ITEM_ID",
    "UNKNOWN_ITEM_ID",
    "expected_error_body",
    "expected_item_body",
    "expected_list_body",
    "service",
]

service = Service("catalog", version="1.0.0", description="natsgate reference catalog service")

ITEMS: tuple[dict[str, Any], ...] = (
    {"id": "1", "name": "Red Apple", "description": "A crisp red apple", "price": 0.5},
    {"id": "2", "name": "Blue Pen", "description": "A ballpoint pen, blue ink", "price": 1.25},
)
KNOWN_ITEM_ID = "1"
UNKNOWN_ITEM_ID = "error"  # the original flow asked for /items/error

_JSON = [("Content-Type", "application/json")]
_ITEM_BODIES = {item["id"]: dump_json(item) for item in ITEMS}
_ERROR_BODY = dump_json({"error": "item not found"})
# The list body with the query spliced in: everything before and after the string.
_LIST_HEAD = dump_json({"items": list(ITEMS), "query": ""})[: -len('"}')]
_LIST_TAIL = b'"}'
_LIST_EMPTY = _LIST_HEAD + _LIST_TAIL


def expected_list_body(query: str) -> bytes:
    """The exact body of ``GET /items?<query>`` (``query`` is the raw query string)."""
    if not query:
        return _LIST_EMPTY
    if query.isascii() and query.isprintable() and '"' not in query and "\\" not in query:
        return _LIST_HEAD + query.encode() + _LIST_TAIL
    return dump_json({"items": list(ITEMS), "query": query})


def expected_item_body(item_id: str) -> bytes:
    """The exact body of ``GET /items/<item_id>`` for a known id."""
    return _ITEM_BODIES[item_id]


def expected_error_body() -> bytes:
    """The exact body of ``GET /items/<unknown id>`` (status 404)."""
    return _ERROR_BODY


@service.get("/items")
async def list_items(request: Request) -> Response:
    return Response(200, _JSON, expected_list_body(request.query_string))


@service.get("/items/{id}")
async def item_detail(request: Request) -> Response:
    body = _ITEM_BODIES.get(request.path_params["id"])
    if body is None:
        return Response(404, _JSON, _ERROR_BODY)
    return Response(200, _JSON, body)


@service.post("/echo")
async def echo(request: Request) -> Response:
    content_type = request.headers.get("Content-Type") or "application/octet-stream"
    return Response(200, [("Content-Type", content_type)], request.body)
