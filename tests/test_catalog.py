"""The reference catalog answers exactly the bytes its ``expected_*`` functions give."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import aiohttp
import pytest

from natsgate import catalog
from natsgate.natsconn import Client, connect
from natsgate.natsserver import NatsServer
from natsgate.service import ServeConfig, ServiceServer
from test_service_support import Answer, over_http, over_nats

JSON = ("Content-Type", "application/json")


@pytest.fixture
async def calls(shared_nats: NatsServer) -> AsyncIterator[list[object]]:
    config = ServeConfig(http=("127.0.0.1", 0), nats_urls=(shared_nats.url,))
    async with ServiceServer(catalog.service, config) as server, aiohttp.ClientSession() as s:
        nc: Client = await connect([shared_nats.url], name="test-client")
        yield [s, str(server.http_url), nc]
        await nc.close()


async def both(calls: list[object], *args: object) -> Answer:
    session, base, nc = calls
    http = await over_http(session, base, *args)  # type: ignore[arg-type]
    nats = await over_nats(nc, "catalog", *args)  # type: ignore[arg-type]
    assert http == nats
    return http


@pytest.mark.parametrize("query", ["", "a=1&a=2", "q=%22quoted%22&x=\\", "page=2&size=50"])
async def test_list(calls: list[object], query: str) -> None:
    answer = await both(calls, "GET", "/items", query)
    assert (answer.status, answer.headers) == (200, [JSON])
    assert answer.body == catalog.expected_list_body(query)
    assert json.loads(answer.body)["query"] == query
    assert len(json.loads(answer.body)["items"]) == 2


async def test_known_item(calls: list[object]) -> None:
    answer = await both(calls, "GET", f"/items/{catalog.KNOWN_ITEM_ID}")
    assert answer.status == 200
    assert answer.body == catalog.expected_item_body(catalog.KNOWN_ITEM_ID)
    assert json.loads(answer.body)["id"] == catalog.KNOWN_ITEM_ID


async def test_unknown_item_is_404(calls: list[object]) -> None:
    answer = await both(calls, "GET", f"/items/{catalog.UNKNOWN_ITEM_ID}")
    assert (answer.status, answer.headers) == (404, [JSON])
    assert answer.body == catalog.expected_error_body()


@pytest.mark.parametrize(
    ("headers", "content_type"),
    [([], "application/octet-stream"), ([("Content-Type", "text/csv")], "text/csv")],
)
async def test_echo(calls: list[object], headers: list[tuple[str, str]], content_type: str) -> None:
    body = bytes(range(256)) * 4
    answer = await both(calls, "POST", "/echo", "", headers, body)
    assert (answer.status, answer.body) == (200, body)
    assert answer.headers == [("Content-Type", content_type)]


def test_expected_list_body_matches_json_for_any_query() -> None:
    for query in ["", "a=1", 'x="y"', "é=1", "tab\there", "back\\slash"]:
        body = catalog.expected_list_body(query)
        assert json.loads(body) == {"items": list(catalog.ITEMS), "query": query}
