"""The NATS side of scale-out: a queue group covers a dead instance, a cluster carries requests.

::

    raw client --> Gateway /nats --NATS--> nats-server --queue "catalog"--> service 1 (killed)
                                                                        --> service 2

    raw client --> Gateway --> n1 ==route== n2 ==route== n3 <-- service (connected to n3 only)

Services are real ``natsgate service`` processes (the catalog, NATS only);
servers are real nats-server processes.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
import tomllib
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from natsgate.natsserver import NatsCluster, NatsServer
from natsgate.routes import Config, parse_config
from test_gateway_support import RawConnection, raw_request, running_gateway


def _config(nats_url: str) -> Config:
    text = f"""
    [gateway]
    listen = "127.0.0.1:0"
    [nats]
    servers = ["{nats_url}"]
    [[route]]
    prefix = "/nats"
    subject = "catalog"
    timeout = 2.0
    """
    return parse_config(tomllib.loads(text))


@asynccontextmanager
async def catalog(nats_url: str, ready_file: Path) -> AsyncIterator[subprocess.Popen[bytes]]:
    """One ``natsgate service`` process (catalog, NATS only), ready to answer."""
    command = [sys.executable, "-m", "natsgate.cli", "service", "--no-http"]
    command += ["--nats-url", nats_url, "--ready-file", str(ready_file)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while not ready_file.exists():
            assert process.poll() is None, "service exited before it was ready"
            assert time.monotonic() < deadline, "service not ready in time"
            await asyncio.sleep(0.05)
        assert json.loads(ready_file.read_text())["queue_group"] == "catalog"
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(10)


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[NatsCluster]:
    with NatsCluster(tmp_path / "cluster", size=3) as nodes:
        yield nodes


async def test_queue_group_covers_a_killed_instance(
    nats_server: NatsServer, tmp_path: Path
) -> None:
    async with (
        catalog(nats_server.url, tmp_path / "s1.json") as first,
        catalog(nats_server.url, tmp_path / "s2.json") as second,
        running_gateway(_config(nats_server.url)) as gateway,
    ):
        conn = await RawConnection.open(gateway.url)
        statuses = []
        for i in range(300):
            if i == 100:
                first.kill()  # SIGKILL: no drain, its subscription dies with the connection
            response = await conn.send("GET", "/nats/items/1")
            statuses.append(response.status)
            if response.status == 200:
                assert response.json()["id"] == "1"
        await conn.close()

        failed = [s for s in statuses if s != 200]
        # A request routed to the dead instance before the server noticed may time out.
        assert len(failed) <= 3, failed
        assert set(failed) <= {503, 504}
        assert statuses[:100] == [200] * 100
        assert second.poll() is None


async def test_a_request_crosses_the_cluster_to_a_service_on_another_node(
    cluster: NatsCluster, tmp_path: Path
) -> None:
    node1, node3 = cluster.nodes[0], cluster.nodes[2]
    async with (
        catalog(node3.url, tmp_path / "s.json"),
        running_gateway(_config(node1.url)) as gateway,
    ):
        assert gateway.nats is not None
        # Interest in catalog.> travels over the routes asynchronously: retry, bounded.
        status = 0
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            response = await raw_request(gateway.url, "GET", "/nats/items")
            status = response.status
            if status == 200:
                break
            assert status == 503  # no responders yet
            await asyncio.sleep(0.1)
        assert status == 200
        assert len(response.json()["items"]) == 2
        connections = node1.monitor("connz")["connections"]
        assert any(c.get("name") == "natsgate-gateway" for c in connections)
        assert not any(
            c.get("name") == "natsgate-gateway" for c in node3.monitor("connz")["connections"]
        )
