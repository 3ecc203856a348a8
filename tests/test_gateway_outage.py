"""NATS goes away under a running gateway and comes back on the same port."""

from __future__ import annotations

import asyncio
import time

from natsgate.natsserver import NatsServer
from test_gateway_support import (
    config_for,
    inspect_responder,
    inspect_upstream,
    raw_request,
    running_gateway,
)


async def _until_ok(url: str, target: str, deadline: float) -> int:
    status = 0
    while time.monotonic() < deadline:
        status = (await raw_request(url, "GET", target)).status
        if status == 200:
            return status
        await asyncio.sleep(0.1)
    return status


async def test_nats_down_fails_fast_and_recovers(nats_server: NatsServer) -> None:
    async with (
        inspect_upstream() as upstream,
        inspect_responder(nats_server.url),
        running_gateway(config_for(nats_server.url, upstream)) as gateway,
    ):
        assert (await raw_request(gateway.url, "GET", "/n/before")).status == 200

        # A request in flight when the server stops fails rather than waiting 5 s.
        in_flight = asyncio.create_task(
            raw_request(gateway.url, "GET", "/n/patient/x", [("X-Want", "stall")])
        )
        await asyncio.sleep(0.2)
        started = time.monotonic()
        await asyncio.to_thread(nats_server.stop)
        failed = await in_flight
        assert failed.status == 503
        assert time.monotonic() - started < 2.0

        # New requests are refused at once; the HTTP route keeps working.
        started = time.monotonic()
        down = await raw_request(gateway.url, "GET", "/n/during")
        assert down.status == 503 and down.json()["error"] == "upstream unavailable"
        assert time.monotonic() - started < 2.0
        assert (await raw_request(gateway.url, "GET", "/readyz")).status == 503
        assert (await raw_request(gateway.url, "GET", "/h/during")).status == 200

        # Back on the same port: the gateway and the responder reconnect by themselves.
        await asyncio.to_thread(nats_server.restart)
        assert await _until_ok(gateway.url, "/n/after", time.monotonic() + 10) == 200
        assert (await raw_request(gateway.url, "GET", "/readyz")).status == 200
        metrics = (await raw_request(gateway.url, "GET", "/metrics")).body.decode()
        assert "natsgate_gateway_nats_reconnects_total 1.0" in metrics
        assert gateway.nats is not None and gateway.nats.pending == {}
