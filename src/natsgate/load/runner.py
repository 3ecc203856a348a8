"""``run_load``: split the plan, run the workers, relay progress, merge their reports.

::

    run_load(plan) ──split_plan──> parts
        workers == 1: one thread in this process          (no spawn cost)
        workers  > 1: spawned processes, one pipe each    (never forked from a running loop)
      wait until every worker is prepared, name a common start instant (wall clock)
      relay progress(n) in the caller's thread, ~10 times a second
      merge_reports() ──> LoadResult

``run_parts`` is the same machinery for parts made elsewhere (the direct-NATS driver).
"""

from __future__ import annotations

import logging
import multiprocessing
import threading
import time
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection, wait
from typing import Any

from natsgate.load.plan import LoadPlan, split_plan
from natsgate.load.recorder import WorkerReport
from natsgate.load.result import LoadResult, merge_reports
from natsgate.load.worker import Part, process_main, run_worker

__all__ = ["ProgressCallback", "run_load", "run_parts"]

log = logging.getLogger("natsgate.load")

ProgressCallback = Callable[[int], None]

_START_DELAY = 0.05  # seconds between "all ready" and the common start instant
_POLL = 0.1
_READY_TIMEOUT = 60.0  # spawning, importing and connecting, beyond connect_timeout


def run_load(
    plan: LoadPlan,
    progress: ProgressCallback | None = None,
    *,
    in_process: bool | None = None,
) -> LoadResult:
    """Run a plan to its end; blocks. ``in_process`` defaults to ``plan.workers == 1``."""
    parts = split_plan(plan)
    if in_process is None:
        in_process = len(parts) == 1
    log.info(
        "load: %s, %d request(s) per flow, %d worker(s), %s",
        plan.url,
        len(plan.flow),
        len(parts),
        f"rate {plan.rate}/s" if plan.rate is not None else f"concurrency {plan.concurrency}",
    )
    result = run_parts(parts, progress, in_process=in_process, connect_timeout=plan.connect_timeout)
    log.info("load: %d requests, %.0f req/s", result.requests, result.requests_per_second)
    return result


def run_parts(
    parts: Sequence[Part],
    progress: ProgressCallback | None,
    *,
    in_process: bool,
    connect_timeout: float,
) -> LoadResult:
    """Run prepared parts in threads or spawned processes and merge their reports."""
    relay = progress or (lambda _n: None)
    if in_process:
        reports = _run_threads(parts, relay)
    else:
        reports = _run_processes(parts, relay, connect_timeout)
    return merge_reports(sorted(reports, key=lambda report: report.index))


class _ThreadChannel:
    """Channel for a worker thread; the parent reads ``completed`` and sets the start."""

    def __init__(self) -> None:
        self.prepared = threading.Event()
        self.started = threading.Event()
        self.start_at = 0.0
        self.completed = 0
        self.stop = threading.Event()

    def ready(self) -> float:
        self.prepared.set()
        self.started.wait()
        return self.start_at

    def progress(self, completed: int) -> None:
        self.completed += completed

    def stopping(self) -> bool:
        return self.stop.is_set()


def _run_threads(parts: Sequence[Part], progress: ProgressCallback) -> list[WorkerReport]:
    channels = [_ThreadChannel() for _ in parts]
    reports: list[WorkerReport] = []
    failures: list[BaseException] = []

    def target(part: Part, channel: _ThreadChannel) -> None:
        try:
            reports.append(run_worker(part, channel, thread=True))
        except BaseException as exc:
            failures.append(exc)
            channel.prepared.set()

    threads = [
        threading.Thread(target=target, args=(part, channel), name=f"natsgate-load-{part.index}")
        for part, channel in zip(parts, channels, strict=True)
    ]
    for thread in threads:
        thread.start()
    try:
        for channel in channels:
            channel.prepared.wait()
        start_at = time.time() + _START_DELAY
        for channel in channels:
            channel.start_at = start_at
            channel.started.set()
        _relay_threads(threads, channels, progress)
    finally:
        for channel in channels:
            if any(thread.is_alive() for thread in threads):
                channel.stop.set()  # interrupted: the workers stop within ~0.1 s
            channel.started.set()
        for thread in threads:
            thread.join()
    if failures:
        raise RuntimeError("load worker failed") from failures[0]
    return reports


def _relay_threads(
    threads: list[threading.Thread], channels: list[_ThreadChannel], progress: ProgressCallback
) -> None:
    relayed = 0
    while True:
        alive = any(thread.is_alive() for thread in threads)
        completed = sum(channel.completed for channel in channels)
        if completed > relayed:
            progress(completed - relayed)
            relayed = completed
        if not alive:
            return
        next(thread for thread in threads if thread.is_alive()).join(_POLL)


def _run_processes(
    parts: Sequence[Part], progress: ProgressCallback, connect_timeout: float
) -> list[WorkerReport]:
    context = multiprocessing.get_context("spawn")
    pipes: dict[Connection, Any] = {}
    finished = False
    try:
        for part in parts:
            ours, theirs = context.Pipe()
            process = context.Process(
                target=process_main, args=(part, theirs), name=f"natsgate-load-{part.index}"
            )
            process.daemon = True
            process.start()
            theirs.close()
            pipes[ours] = process
        _wait_ready(pipes, _READY_TIMEOUT + connect_timeout * 2)
        start_at = time.time() + _START_DELAY
        for conn in pipes:
            conn.send(start_at)
        reports = _relay_processes(pipes, progress)
        finished = True
        return reports
    finally:
        for process in pipes.values():
            process.join(timeout=5 if finished else 0.1)  # on failure, stop the others now
            if process.is_alive():
                process.terminate()
                process.join()


def _wait_ready(pipes: dict[Connection, Any], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    waiting = set(pipes)
    while waiting:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise RuntimeError(f"{len(waiting)} load worker(s) not ready after {timeout:.0f} s")
        for conn in wait(list(waiting), remaining):
            assert isinstance(conn, Connection)
            kind, payload = _receive(conn, pipes)
            if kind == "ready":
                waiting.discard(conn)
            else:
                raise RuntimeError(f"load worker failed while preparing:\n{payload}")


def _relay_processes(
    pipes: dict[Connection, Any], progress: ProgressCallback
) -> list[WorkerReport]:
    reports: list[WorkerReport] = []
    running = set(pipes)
    while running:
        for conn in wait(list(running), _POLL):
            assert isinstance(conn, Connection)
            kind, payload = _receive(conn, pipes)
            if kind == "progress":
                progress(payload)
            elif kind == "done":
                reports.append(payload)
                running.discard(conn)
            else:
                raise RuntimeError(f"load worker failed:\n{payload}")
    return reports


def _receive(conn: Connection, pipes: dict[Connection, Any]) -> tuple[str, Any]:
    try:
        message: tuple[str, Any] = conn.recv()
    except EOFError:
        process = pipes[conn]
        process.join(timeout=1)
        raise RuntimeError(
            f"load worker {process.name} died (exit code {process.exitcode})"
        ) from None
    return message
