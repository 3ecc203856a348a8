"""``natsgate gateway`` as a process: ready file, bad config, graceful SIGTERM."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from natsgate.natsserver import NatsServer
from test_gateway_support import inspect_responder, inspect_upstream, raw_request

ROUTES = """
[gateway]
listen = "127.0.0.1:0"
shutdown_timeout = 5.0
[nats]
servers = ["{nats}"]
[[route]]
prefix = "/h"
upstream = "{upstream}"
[[route]]
prefix = "/n"
subject = "t"
"""


def _gateway_command(config: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "natsgate.cli", "gateway", "--config", str(config), *extra]


async def _wait_ready(path: Path, process: subprocess.Popen[bytes]) -> dict[str, object]:
    deadline = time.monotonic() + 15
    while not path.exists():
        assert process.poll() is None, "gateway exited before it was ready"
        assert time.monotonic() < deadline, "gateway not ready in time"
        await asyncio.sleep(0.05)
    ready: dict[str, object] = json.loads(path.read_text())
    return ready


@pytest.fixture
async def gateway_process(
    tmp_path: Path, shared_nats: NatsServer
) -> AsyncIterator[tuple[subprocess.Popen[bytes], str]]:
    async with inspect_upstream() as upstream, inspect_responder(shared_nats.url):
        config = tmp_path / "routes.toml"
        config.write_text(ROUTES.format(nats=shared_nats.url, upstream=upstream))
        ready_file = tmp_path / "run" / "ready.json"
        process = subprocess.Popen(
            _gateway_command(config, "--ready-file", str(ready_file)),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            ready = await _wait_ready(ready_file, process)
            assert ready["pid"] == process.pid
            yield process, str(ready["url"])
        finally:
            if process.poll() is None:
                process.kill()
            process.communicate(timeout=10)


async def test_sigterm_lets_in_flight_requests_finish(
    gateway_process: tuple[subprocess.Popen[bytes], str],
) -> None:
    process, url = gateway_process
    slow = [("X-Want", "slow")]  # both services answer after 1 s
    in_flight = [asyncio.create_task(raw_request(url, "GET", p + "/x", slow)) for p in ("/h", "/n")]
    await asyncio.sleep(0.3)
    process.send_signal(signal.SIGTERM)
    responses = await asyncio.gather(*in_flight)

    assert [r.status for r in responses] == [200, 200]
    assert await asyncio.to_thread(process.wait, 10) == 0
    with pytest.raises(OSError):
        await raw_request(url, "GET", "/healthz")


BAD_CONFIGS = [
    ('[gateway]\nlisten = "127.0.0.1:0"\nbacklog = \n', "line 3"),
    ('[[route]]\nprefix = "/x"\nupstream = "ftp://h"\n', "route 1 (prefix /x): upstream must be"),
]


@pytest.mark.parametrize(("text", "words"), BAD_CONFIGS)
def test_bad_config_is_refused_at_start(tmp_path: Path, text: str, words: str) -> None:
    config = tmp_path / "routes.toml"
    config.write_text(text)
    done = subprocess.run(_gateway_command(config), capture_output=True, timeout=30, check=False)

    assert done.returncode == 2
    assert words in done.stderr.decode()


UNREACHABLE = """
[gateway]
listen = "127.0.0.1:0"
[nats]
servers = ["nats://127.0.0.1:1"]
connect_timeout = {timeout}
[[route]]
prefix = "/n"
subject = "t"
"""


def test_unreachable_nats_at_start_exits_1_naming_the_url(tmp_path: Path) -> None:
    config = tmp_path / "routes.toml"
    config.write_text(UNREACHABLE.format(timeout=1.0))
    done = subprocess.run(_gateway_command(config), capture_output=True, timeout=30, check=False)

    assert done.returncode == 1
    assert "cannot connect to NATS at nats://127.0.0.1:1 within 1s" in done.stderr.decode()


async def test_sigterm_while_connecting_to_nats_stops_promptly(tmp_path: Path) -> None:
    config = tmp_path / "routes.toml"
    config.write_text(UNREACHABLE.format(timeout=120.0))
    process = subprocess.Popen(
        _gateway_command(config), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        assert process.stderr is not None
        line = await asyncio.to_thread(process.stderr.readline)
        while b"connecting to NATS" not in line:
            assert line, "gateway exited before connecting"
            line = await asyncio.to_thread(process.stderr.readline)
        process.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(process.wait, 10) == 0
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=10)
