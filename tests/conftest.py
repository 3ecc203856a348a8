"""Shared fixtures: real nats-server processes on loopback, cleaned up after use."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from natsgate.natsserver import NatsServer


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[NatsServer]:
    """A fresh single nats-server for one test."""
    with NatsServer(tmp_path / "nats", max_payload=64 * 1024) as server:
        yield server


@pytest.fixture(scope="session")
def shared_nats(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsServer]:
    """One nats-server for the tests that only publish and subscribe."""
    with NatsServer(tmp_path_factory.mktemp("nats"), max_payload=64 * 1024) as server:
        yield server
