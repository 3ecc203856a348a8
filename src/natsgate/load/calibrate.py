"""How fast is the generator itself? Measured against a hello server, beside baselines.

::

    hello_server() (separate process, aiohttp + uvloop)
        ├── natsgate load    concurrency 1 and 50   (this package, one worker)
        ├── aiohttp client   same concurrencies     (a general client library: the floor)
        └── wrk -t1          same concurrencies     (C, when on PATH: the ceiling)
    -> rows of req/s, and our rate as a ratio of each baseline

All runs are short and time-boxed; on a shared machine the ratios mean more than the rates.
"""

from __future__ import annotations

import asyncio
import os
import platform
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from importlib import metadata

import aiohttp

from natsgate import eventloop
from natsgate.load.hello import HELLO_BODY, hello_server
from natsgate.load.plan import LoadPlan, RequestSpec
from natsgate.load.runner import run_load

__all__ = [
    "CalibrationRow",
    "aiohttp_client_rate",
    "calibrate",
    "environment",
    "wrk_rate",
]

_WRK_RATE = re.compile(r"Requests/sec:\s+([0-9.]+)")


@dataclass(frozen=True, slots=True)
class CalibrationRow:
    concurrency: int
    ours: float
    p50_us: float | None
    p99_us: float | None
    cpu_percent: float
    aiohttp: float | None
    wrk: float | None


def calibrate(
    concurrencies: tuple[int, ...] = (1, 50),
    duration: float = 3.0,
    *,
    with_aiohttp: bool = True,
    with_wrk: bool = True,
) -> list[CalibrationRow]:
    """Measure the generator and its baselines against one hello server."""
    rows = []
    with hello_server() as url:
        for concurrency in concurrencies:
            plan = LoadPlan(
                url,
                (RequestSpec("GET", "/", expect_body=HELLO_BODY),),
                concurrency=concurrency,
                duration=duration,
                warmup=0.5,
            )
            result = run_load(plan)
            percentiles = result.percentiles()
            rows.append(
                CalibrationRow(
                    concurrency=concurrency,
                    ours=result.requests_per_second,
                    p50_us=percentiles["p50"],
                    p99_us=percentiles["p99"],
                    cpu_percent=result.workers[0]["cpu_percent_of_core"],
                    aiohttp=aiohttp_client_rate(url + "/", concurrency, duration)
                    if with_aiohttp
                    else None,
                    wrk=wrk_rate(url + "/", concurrency, duration) if with_wrk else None,
                )
            )
    return rows


def wrk_rate(url: str, concurrency: int, duration: float) -> float | None:
    """``wrk -t1`` requests per second, or None when wrk is not installed."""
    wrk = shutil.which("wrk")
    if wrk is None:
        return None
    seconds = max(1, round(duration))
    completed = subprocess.run(
        [wrk, "-t1", f"-c{concurrency}", f"-d{seconds}s", url],
        capture_output=True,
        text=True,
        timeout=seconds + 30,
        check=True,
    )
    match = _WRK_RATE.search(completed.stdout)
    return float(match.group(1)) if match else None


def aiohttp_client_rate(url: str, concurrency: int, duration: float) -> float:
    """Requests per second of ``concurrency`` aiohttp client loops on one keep-alive session."""
    return eventloop.run(_aiohttp_loops(url, concurrency, duration))


async def _aiohttp_loops(url: str, concurrency: int, duration: float) -> float:
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        deadline = time.perf_counter() + duration
        counts = [0] * concurrency

        async def one(index: int) -> None:
            while time.perf_counter() < deadline:
                async with session.get(url) as response:
                    await response.read()
                counts[index] += 1

        started = time.perf_counter()
        await asyncio.gather(*(one(index) for index in range(concurrency)))
        return sum(counts) / (time.perf_counter() - started)


def environment() -> dict[str, str]:
    """The machine and versions a calibration ran with."""
    versions = {}
    for name in ("aiohttp", "uvloop", "hdrhistogram"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "absent"
    wrk = shutil.which("wrk")
    return {
        "machine": f"{platform.machine()}, {os.cpu_count()} CPU(s), {platform.system()} "
        f"{platform.release()}",
        "python": platform.python_version(),
        **versions,
        "wrk": wrk or "not on PATH",
    }
