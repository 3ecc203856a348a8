"""The NATS adapter keeps repeated header lines both ways, against a real server."""

from __future__ import annotations

import asyncio

from natsgate.natsconn import HeaderLines, connect, header_lines
from natsgate.natsserver import NatsServer


async def test_repeated_header_lines_round_trip(shared_nats: NatsServer) -> None:
    nc = await connect([shared_nats.url], name="test")
    received: asyncio.Future[list[tuple[str, str]]] = asyncio.get_running_loop().create_future()

    async def handler(msg: object) -> None:
        received.set_result(header_lines(msg.headers))  # type: ignore[attr-defined]

    await nc.subscribe("hdr.test", cb=handler)
    lines = [("X-Tag", "a"), ("X-Tag", "b"), ("Set-Cookie", "k=v; Path=/"), ("x-tag", "c")]
    await nc.publish("hdr.test", b"", headers=HeaderLines(lines))
    assert await asyncio.wait_for(received, 2) == lines
    await nc.close()


async def test_values_with_colons_and_utf8_survive(shared_nats: NatsServer) -> None:
    nc = await connect([shared_nats.url], name="test")
    sub = await nc.subscribe("hdr.utf8")
    lines = [("X-Url", "http://a:1/b"), ("X-Name", "Zoë ünïcode")]
    await nc.publish("hdr.utf8", b"x", headers=HeaderLines(lines))
    msg = await sub.next_msg(timeout=2)
    assert header_lines(msg.headers) == lines
    await nc.close()


async def test_no_responders_status_is_kept(shared_nats: NatsServer) -> None:
    nc = await connect([shared_nats.url], name="test")
    inbox = nc.new_inbox()
    sub = await nc.subscribe(inbox)
    await nc.publish("nobody.listens", b"", reply=inbox, headers=HeaderLines([("A", "1")]))
    msg = await sub.next_msg(timeout=2)
    assert msg.headers is not None and msg.headers.get("Status") == "503"
    await nc.close()
