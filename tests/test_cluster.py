"""A real three-node NATS cluster on loopback: routes come up, requests cross nodes."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError

from natsgate.natsconn import connect
from natsgate.natsserver import NatsCluster


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[NatsCluster]:
    with NatsCluster(tmp_path / "cluster", size=3) as nodes:
        yield nodes


def test_every_node_routes_to_the_others(cluster: NatsCluster) -> None:
    for node in cluster.nodes:
        names = {r["remote_name"] for r in node.monitor("routez")["routes"]}
        assert names == {n.name for n in cluster.nodes} - {node.name}


async def test_a_request_crosses_from_node_1_to_node_3(cluster: NatsCluster) -> None:
    responder = await connect([cluster.nodes[2].url], name="responder")
    requester = await connect([cluster.nodes[0].url], name="requester")

    async def answer(msg: object) -> None:
        await msg.respond(b"from n3")  # type: ignore[attr-defined]

    await responder.subscribe("cross.node", queue="q", cb=answer)
    await responder.flush()
    # Interest propagates over the route asynchronously: retry until n1 knows of it.
    for _ in range(50):
        try:
            reply = await requester.request("cross.node", b"hi", timeout=0.5)
            break
        except (NoRespondersError, NatsTimeoutError):
            continue
    else:
        pytest.fail("the request never crossed the cluster")
    assert reply.data == b"from n3"
    assert requester.connected_url.port == cluster.nodes[0].port
    await requester.close()
    await responder.close()


async def test_a_client_fails_over_when_its_node_dies(cluster: NatsCluster) -> None:
    client = await connect(cluster.urls, name="failover", dont_randomize=True)
    assert client.connected_url.port == cluster.nodes[0].port
    cluster.nodes[0].kill()
    moved = False
    for _ in range(100):
        if client.is_connected and client.connected_url.port != cluster.nodes[0].port:
            moved = True
            break
        await asyncio.sleep(0.05)
    assert moved, "the client did not reconnect to another node"
    await client.close()
