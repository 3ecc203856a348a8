"""``natsgate service`` as a subprocess: bad --app, unreachable NATS, ready file, SIGTERM."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from natsgate.natsserver import NatsServer

ROOT = Path(__file__).resolve().parent.parent


def natsgate(*args: str) -> list[str]:
    return [sys.executable, "-m", "natsgate.cli", *args]


class ServiceProcess:
    """``natsgate service ...`` started with a ready file; stopped with SIGTERM."""

    def __init__(self, args: Sequence[str], ready_file: Path) -> None:
        self.ready_file = ready_file
        self.process = subprocess.Popen(
            natsgate("service", *args, "--ready-file", str(ready_file)),
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )

    def wait_ready(self, timeout: float = 30) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.ready_file.exists():
                ready: dict[str, Any] = json.loads(self.ready_file.read_text())
                return ready
            if self.process.poll() is not None:
                raise AssertionError(f"service exited: {self.process.communicate()[1].decode()}")
            time.sleep(0.02)
        raise AssertionError("service did not write its ready file")

    def terminate(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise
        finally:
            self.process.communicate()


@pytest.fixture
def start_service(tmp_path: Path) -> Iterator[Any]:
    started: list[ServiceProcess] = []

    def start(*args: str) -> ServiceProcess:
        proc = ServiceProcess(args, tmp_path / f"ready-{len(started)}.json")
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.terminate()


def test_bad_app_module_is_one_clear_line_and_status_2() -> None:
    done = subprocess.run(
        natsgate("service", "--app", "no_such_pkg.mod:service", "--no-nats"),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2
    (line,) = done.stderr.strip().splitlines()
    assert "no_such_pkg.mod" in line


@pytest.mark.parametrize(
    ("app", "named"),
    [
        ("natsgate.catalog:nope", "'nope'"),
        ("natsgate.catalog:ITEMS", "not a natsgate Service"),
        ("examples/missing.py:service", "missing.py"),
        ("natsgate.catalog", "MODULE:ATTRIBUTE"),
    ],
)
def test_bad_app_attribute_or_file(app: str, named: str) -> None:
    done = subprocess.run(
        natsgate("service", "--app", app, "--no-nats"),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2
    assert named in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_unreachable_nats_exits_non_zero() -> None:
    done = subprocess.run(
        natsgate("service", "--http", "127.0.0.1:0", "--nats-url", "nats://127.0.0.1:1"),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert "nats://127.0.0.1:1" in done.stderr.strip().splitlines()[-1]


def test_catalog_ready_file_and_sigterm_exit_0(start_service: Any, nats_server: NatsServer) -> None:
    proc = start_service("--http", "127.0.0.1:0", "--nats-url", nats_server.url)
    ready = proc.wait_ready()
    assert ready["pid"] == proc.process.pid
    assert ready["http"].startswith("http://127.0.0.1:")
    assert ready["nats"] == [nats_server.url]
    assert (ready["subject_prefix"], ready["queue_group"]) == ("catalog", "catalog")
    assert proc.terminate() == 0
    assert list(proc.ready_file.parent.glob(".*.tmp")) == []


def test_no_nats_ready_file(start_service: Any) -> None:
    proc = start_service("--http", "127.0.0.1:0", "--no-nats", "--queue-group", "q")
    ready = proc.wait_ready()
    assert ready["nats"] is None and ready["queue_group"] is None
    assert proc.terminate() == 0
