"""A small user service on the natsgate runtime: served over HTTP and NATS at once.

::

    natsgate service --app examples/inventory.py:service --http 127.0.0.1:8081

    GET  /stock/{sku}   200 {"sku": ..., "count": ...}, or 404 {"error": "unknown sku ..."}
    POST /stock/{sku}   body {"add": N}: 200 with the new count; 400 on a bad body

The same handlers answer ``curl http://127.0.0.1:8081/stock/apple`` and a NATS
request on ``inventory.GET.stock.apple`` (what the gateway sends).
"""

from __future__ import annotations

import threading

from natsgate.service import HTTPError, Request, Response, Service

service = Service("inventory", version="1.0.0", description="stock counts per SKU")

_stock = {"apple": 12, "pear": 3}
_lock = threading.Lock()  # the plain (non-async) handler below runs in a worker thread


@service.get("/stock/{sku}")
async def get_stock(request: Request) -> Response:
    sku = request.path_params["sku"]
    if sku not in _stock:
        raise HTTPError(404, f"unknown sku {sku!r}")
    return Response.json({"sku": sku, "count": _stock[sku]})


@service.post("/stock/{sku}")
def add_stock(request: Request) -> dict[str, object]:
    body = request.json()
    if not isinstance(body, dict) or not isinstance(body.get("add"), int):
        raise HTTPError(400, 'body must be {"add": <integer>}')
    with _lock:
        count = _stock.get(request.path_params["sku"], 0) + body["add"]
        _stock[request.path_params["sku"]] = count
    return {"sku": request.path_params["sku"], "count": count}
