"""The gateway in front of a natsgate service on both transports: same answers."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from natsgate.gateway import Gateway
from natsgate.natsserver import NatsServer
from natsgate.routes import parse_config
from natsgate.service import Request, ServeConfig, Service, ServiceServer
from test_gateway_support import raw_request, running_gateway

catalog = Service("gwcatalog", subject_prefix="gwcatalog")


@catalog.get("/items")
async def items(request: Request) -> dict[str, list[str]]:
    return {"items": ["a" * 40, "b" * 40, "c" * 40]}


@pytest.fixture
async def gateway(shared_nats: NatsServer) -> AsyncIterator[Gateway]:
    config = ServeConfig(http=("127.0.0.1", 0), nats_urls=(shared_nats.url,), stop_timeout=1.0)
    async with ServiceServer(catalog, config) as server:
        routes = {
            "gateway": {"listen": "127.0.0.1:0"},
            "nats": {"servers": [shared_nats.url]},
            "route": [
                {"prefix": "/http", "upstream": server.http_url},
                {"prefix": "/nats", "subject": "gwcatalog"},
            ],
        }
        async with running_gateway(parse_config(routes)) as gw:
            yield gw


async def test_head_has_the_same_content_length_on_both_transports(gateway: Gateway) -> None:
    get = await raw_request(gateway.url, "GET", "/http/items")
    over_http = await raw_request(gateway.url, "HEAD", "/http/items")
    over_nats = await raw_request(gateway.url, "HEAD", "/nats/items")

    assert over_http.status == over_nats.status == 200
    assert over_http.header("Content-Length") == str(len(get.body))
    assert over_nats.header("Content-Length") == str(len(get.body))
