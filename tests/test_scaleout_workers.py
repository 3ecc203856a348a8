"""``natsgate gateway --workers 2``: two processes on one port, one supervisor.

::

    test --SIGTERM--> supervisor (ready file: pid, url, workers)
                        +-- worker A  LISTEN 127.0.0.1:P  (SO_REUSEPORT)
                        +-- worker B  LISTEN 127.0.0.1:P
    raw client, a new connection per request --> P --> A or B --> upstream / NATS
"""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import pytest

from natsgate.natsserver import NatsServer
from test_gateway_support import inspect_responder, inspect_upstream, raw_request

ROUTES = """
[gateway]
listen = "127.0.0.1:0"
shutdown_timeout = 2.0
[nats]
servers = ["{nats}"]
[[route]]
prefix = "/h"
upstream = "{upstream}"
[[route]]
prefix = "/n"
subject = "t"
"""


@dataclass
class Workers:
    process: subprocess.Popen[bytes]
    ready_file: Path
    ready: dict[str, Any]

    @property
    def port(self) -> int:
        return int(self.ready["url"].rsplit(":", 1)[1])


async def _wait_ready(path: Path, process: subprocess.Popen[bytes], old: object = None) -> Any:
    deadline = time.monotonic() + 30
    while True:
        assert process.poll() is None, "supervisor exited"
        assert time.monotonic() < deadline, "workers not ready in time"
        if path.exists():
            ready = json.loads(path.read_text())
            if ready != old:
                return ready
        await asyncio.sleep(0.05)


@pytest.fixture
async def workers(tmp_path: Path, shared_nats: NatsServer) -> AsyncIterator[Workers]:
    async with inspect_upstream() as upstream, inspect_responder(shared_nats.url):
        config = tmp_path / "routes.toml"
        config.write_text(ROUTES.format(nats=shared_nats.url, upstream=upstream))
        ready_file = tmp_path / "ready.json"
        command = [sys.executable, "-m", "natsgate.cli", "gateway", "--config", str(config)]
        command += ["--workers", "2", "--ready-file", str(ready_file)]
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        children: list[psutil.Process] = []
        try:
            ready = await _wait_ready(ready_file, process)
            children = [psutil.Process(pid) for pid in ready["workers"]]
            yield Workers(process, ready_file, ready)
        finally:
            if process.poll() is None:
                process.kill()
            process.communicate(timeout=30)
            for child in children:
                if child.is_running():
                    child.kill()


def _listening(pid: int, port: int) -> bool:
    return any(
        c.status == psutil.CONN_LISTEN and c.laddr.port == port
        for c in psutil.Process(pid).net_connections("tcp")
    )


async def test_both_workers_listen_on_one_port_and_serve(workers: Workers) -> None:
    pids = workers.ready["workers"]
    assert workers.ready["pid"] == workers.process.pid
    assert len(set(pids)) == 2 and workers.process.pid not in pids
    assert all(_listening(pid, workers.port) for pid in pids)
    assert not _listening(workers.process.pid, workers.port)  # reserved, not listening

    url = workers.ready["url"]
    responses = await asyncio.gather(
        *(
            raw_request(url, "GET", f"{prefix}/items/{i}")
            for i in range(40)
            for prefix in ("/h", "/n")
        )
    )
    assert {r.status for r in responses} == {200}

    # Each worker keeps its own upstream pool: the upstream saw connections from both.
    peers = {int(str(r.header("X-Upstream-Peer")).rsplit(":", 1)[1]) for r in responses[::2]}
    for pid in pids:
        own = {c.laddr.port for c in psutil.Process(pid).net_connections("tcp")}
        assert own & peers, f"worker {pid} served none of 40 new connections"


async def test_sigterm_stops_every_worker_and_exits_0(workers: Workers) -> None:
    children = [psutil.Process(pid) for pid in workers.ready["workers"]]
    workers.process.send_signal(signal.SIGTERM)

    assert await asyncio.to_thread(workers.process.wait, 20) == 0
    _, alive = psutil.wait_procs(children, timeout=5)
    assert not alive
    with pytest.raises(OSError):
        await raw_request(workers.ready["url"], "GET", "/healthz")


async def test_a_dead_worker_is_restarted_on_the_same_port(workers: Workers) -> None:
    victim, survivor = workers.ready["workers"]
    psutil.Process(victim).kill()

    ready = await _wait_ready(workers.ready_file, workers.process, workers.ready)
    assert ready["url"] == workers.ready["url"]
    assert survivor in ready["workers"] and victim not in ready["workers"]
    assert all(_listening(pid, workers.port) for pid in ready["workers"])
    assert (await raw_request(ready["url"], "GET", "/h/after")).status == 200
    workers.process.send_signal(signal.SIGTERM)
    assert await asyncio.to_thread(workers.process.wait, 20) == 0
    _, stderr = workers.process.communicate()
    assert b"exited with code -9" in stderr
