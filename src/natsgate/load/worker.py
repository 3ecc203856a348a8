"""One load worker: an event loop (uvloop) running one part of the plan.

::

    parent                                   worker (thread or spawned process)
      │                                        prepare: open connections
      │  <───────────── ready ─────────────────┤
      ├── start_at (wall clock, shared) ──────>│  sleep until start_at
      │  <──── progress(n) every 0.1 s ────────┤  run: warmup, then measure
      │  <──── WorkerReport ───────────────────┘  resource usage over the measurement

A worker is the same code in a thread (one worker, in the caller's process) and in a
spawned process (several); only the channel to the parent differs. The part says which
driver runs: an HTTP ``WorkerPart`` (closed or open loop) or a direct-NATS ``NatsPart``.
The common start instant lets the parent merge timelines second by second.
"""

from __future__ import annotations

import asyncio
import gc
import os
import resource
import time
import traceback
from multiprocessing.connection import Connection
from typing import Protocol

from natsgate import eventloop
from natsgate.load.closed_loop import ClosedLoop
from natsgate.load.nats_loop import NatsClosedLoop, NatsPart
from natsgate.load.open_loop import OpenLoop
from natsgate.load.plan import WorkerPart
from natsgate.load.recorder import Recorder, WorkerReport

__all__ = ["Channel", "Part", "PipeChannel", "process_main", "run_worker"]

_PROGRESS_PERIOD = 0.1

Part = WorkerPart | NatsPart
Driver = ClosedLoop | OpenLoop | NatsClosedLoop


class Channel(Protocol):
    """The worker's side of the link to its parent."""

    def ready(self) -> float:
        """Report the worker prepared; block until the parent names the start instant."""
        ...

    def progress(self, completed: int) -> None:
        """Report ``completed`` more measured requests."""
        ...

    def stopping(self) -> bool:
        """Whether the parent asks the run to stop now (an interrupt)."""
        ...


class PipeChannel:
    """Channel over a multiprocessing pipe (spawned worker processes)."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def ready(self) -> float:
        self._conn.send(("ready", None))
        start_at: float = self._conn.recv()
        return start_at

    def progress(self, completed: int) -> None:
        self._conn.send(("progress", completed))

    def stopping(self) -> bool:
        return False  # a process is stopped by its signals


def run_worker(part: Part, channel: Channel, *, thread: bool) -> WorkerReport:
    """Run one part to its end in a fresh uvloop event loop; blocks."""
    with asyncio.Runner(loop_factory=eventloop.loop_factory()) as runner:
        return runner.run(_run(part, channel, thread=thread))


def process_main(part: Part, conn: Connection) -> None:
    """Entry point of a spawned worker process."""
    try:
        report = run_worker(part, PipeChannel(conn), thread=False)
    except BaseException:
        conn.send(("error", traceback.format_exc()))
        raise
    conn.send(("done", report))
    conn.close()


async def _run(part: Part, channel: Channel, *, thread: bool) -> WorkerReport:
    recorder = Recorder(corrected=part.rate is not None)
    driver = _driver(part, recorder)
    await driver.prepare()

    # In a worker process, objects alive now (modules, plan, connections) live to the end:
    # keep the cyclic collector from walking them again and again. Not in a thread: that
    # would change the caller's whole process.
    if not thread:
        gc.freeze()

    # Wait for the common start instant, then start on the monotonic clock.
    start_at = channel.ready()
    await asyncio.sleep(max(0.0, start_at - time.time()))
    start_ns = time.perf_counter_ns()
    measure_ns = start_ns + int(part.warmup * 1e9)
    recorder.begin(measure_ns)

    run = asyncio.create_task(driver.run(start_ns))
    progress = _Progress(recorder, channel)
    reporter = asyncio.create_task(progress.report_every(_PROGRESS_PERIOD, run))
    usage_task = asyncio.create_task(_usage_at(measure_ns, thread))
    try:
        await run
        before = await usage_task
    finally:
        reporter.cancel()
        usage_task.cancel()
    end_ns = time.perf_counter_ns()
    progress.report()
    wall = max(end_ns - measure_ns, 1) / 1e9
    if part.duration is not None:
        wall = min(wall, part.duration)  # duration mode: the window; the drain is its tail
    return recorder.finish(
        index=part.index,
        pid=os.getpid(),
        wall_seconds=wall,
        usage=_usage_delta(before, _usage(thread), max(end_ns - measure_ns, 1) / 1e9),
        sent=driver.sent if isinstance(driver, OpenLoop) else 0,
        send_span_seconds=driver.send_span_seconds if isinstance(driver, OpenLoop) else 0.0,
        target_rate=part.rate,
    )


def _driver(part: Part, recorder: Recorder) -> Driver:
    if isinstance(part, NatsPart):
        return NatsClosedLoop(part, recorder)
    if part.rate is not None:
        return OpenLoop(part, recorder)
    return ClosedLoop(part, recorder)


class _Progress:
    """Sends the parent the increments of measured requests completed."""

    def __init__(self, recorder: Recorder, channel: Channel) -> None:
        self._recorder = recorder
        self._channel = channel
        self._reported = 0

    def report(self) -> None:
        completed = self._recorder.completed
        if completed > self._reported:
            self._channel.progress(completed - self._reported)
            self._reported = completed

    async def report_every(self, period: float, run: asyncio.Task[None]) -> None:
        """Report every ``period`` seconds; cancel ``run`` when the parent says stop."""
        while True:
            await asyncio.sleep(period)
            self.report()
            if self._channel.stopping():
                run.cancel()


async def _usage_at(measure_ns: int, thread: bool) -> tuple[float, ...]:
    """Resource usage at the instant measurement starts (after the warmup)."""
    await asyncio.sleep(max(0.0, (measure_ns - time.perf_counter_ns()) / 1e9))
    return _usage(thread)


def _usage(thread: bool) -> tuple[float, ...]:
    scope = resource.RUSAGE_THREAD if thread else resource.RUSAGE_SELF
    own = resource.getrusage(scope)
    process = resource.getrusage(resource.RUSAGE_SELF)
    return (own.ru_utime, own.ru_stime, own.ru_nvcsw, own.ru_nivcsw, process.ru_maxrss)


def _usage_delta(
    before: tuple[float, ...], after: tuple[float, ...], wall: float
) -> dict[str, float]:
    user = after[0] - before[0]
    system = after[1] - before[1]
    return {
        "cpu_user": user,
        "cpu_system": system,
        "cpu_percent_of_core": 100.0 * (user + system) / wall,
        "ctx_switches_voluntary": after[2] - before[2],
        "ctx_switches_involuntary": after[3] - before[3],
        "max_rss_bytes": after[4] * 1024,  # Linux reports kilobytes
    }
