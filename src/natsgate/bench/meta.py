"""What a figure was measured on: machine, versions, revision, so it can be traced."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import subprocess
from pathlib import Path

import psutil

from natsgate.natsserver import NatsServerError, find_binary

__all__ = ["git_revision", "machine", "versions"]

_LIBRARIES = ("natsgate", "nats-py", "aiohttp", "uvloop", "hdrhistogram", "psutil", "matplotlib")


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine() -> dict[str, object]:
    return {
        "cpu_model": _cpu_model(),
        "cores": os.cpu_count(),
        "kernel": platform.release(),
        "platform": platform.platform(),
        "memory_bytes": psutil.virtual_memory().total,
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def _nats_server_version() -> str:
    try:
        out = subprocess.run(
            [find_binary(), "--version"], capture_output=True, text=True, timeout=5, check=False
        )
    except (NatsServerError, OSError, subprocess.TimeoutExpired):
        return "unknown"
    return out.stdout.strip().removeprefix("nats-server: ") or "unknown"


def versions() -> dict[str, str]:
    found = {"python": platform.python_version(), "nats-server": _nats_server_version()}
    for name in _LIBRARIES:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


def git_revision() -> str | None:
    """The checkout's commit (with ``-dirty`` for local changes), or None outside git."""
    root = Path(__file__).resolve().parents[3]
    try:
        rev = subprocess.run(
            ["git", "-C", str(root), "describe", "--always", "--dirty", "--abbrev=12"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return rev.stdout.strip() or None
