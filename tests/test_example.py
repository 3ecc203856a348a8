"""examples/inventory.py started with the CLI, called over HTTP and over NATS."""

from __future__ import annotations

from typing import Any

import aiohttp

from natsgate.natsconn import connect
from natsgate.natsserver import NatsServer
from test_service_cli import start_service  # noqa: F401  (fixture)
from test_service_support import over_http, over_nats


async def test_inventory_example_over_both_transports(
    start_service: Any,  # noqa: F811
    nats_server: NatsServer,
) -> None:
    proc = start_service(
        "--app",
        "examples/inventory.py:service",
        "--http",
        "127.0.0.1:0",
        "--nats-url",
        nats_server.url,
    )
    ready = proc.wait_ready()
    assert ready["subject_prefix"] == "inventory"
    nc = await connect([nats_server.url], name="test-client")
    async with aiohttp.ClientSession() as session:
        got = await over_http(session, ready["http"], "GET", "/stock/apple")
        assert (got.status, got.body) == (200, b'{"sku":"apple","count":12}')
        same = await over_nats(nc, "inventory", "GET", "/stock/apple")
        assert same == got

        added = await over_nats(nc, "inventory", "POST", "/stock/pear", "", [], b'{"add": 2}')
        assert added.body == b'{"sku":"pear","count":5}'
        seen = await over_http(session, ready["http"], "GET", "/stock/pear")
        assert seen.body == b'{"sku":"pear","count":5}'

        missing = await over_http(session, ready["http"], "GET", "/stock/kiwi")
        assert missing == await over_nats(nc, "inventory", "GET", "/stock/kiwi")
        assert (missing.status, missing.body) == (404, b'{"error":"unknown sku \'kiwi\'"}')

        bad = await over_nats(nc, "inventory", "POST", "/stock/pear", "", [], b"not json")
        assert bad.status == 400
    await nc.close()
    assert proc.terminate() == 0
