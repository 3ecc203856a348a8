"""Closed loop: ``concurrency`` flows in flight, each on its own keep-alive connection.

::

    flow 1: [req 1 -> resp][req 2 -> resp][req 3 -> resp] | next iteration ...
    flow 2:   [req 1 -> resp][req 2 -> resp][req 3 -> resp] | ...
    ...       (a sliding window: a flow starts its next iteration as soon as it ends one)

Iterations are tickets shared by the worker's flows, so their total is exact. An iteration
that starts before the warmup ends is run but not recorded. Every request of an iteration
is attempted even after an error, so ``requests == iterations x len(flow)`` in count mode;
a request whose connection is gone reconnects first (connect time is not latency: latency
runs from the write of the request). A flow is driven by callbacks from the connection,
so the next request is written inside ``data_received``, without a task switch.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Coroutine
from typing import Any

from natsgate.load.http1 import ConnectError, Http1Connection, open_connection
from natsgate.load.plan import WorkerPart
from natsgate.load.recorder import Recorder

__all__ = ["ClosedLoop"]

log = logging.getLogger("natsgate.load")

_CONNECT_AHEAD = 256  # connections opened at once while preparing


class ClosedLoop:
    """One worker's closed-loop run: prepare (connect), then start at a common instant."""

    def __init__(self, part: WorkerPart, recorder: Recorder) -> None:
        self.part = part
        self.recorder = recorder
        self.requests = part.requests
        self.timeout_ns = int(part.timeout * 1e9)
        self.tickets = part.iterations  # None: time-boxed
        self.measure_ns = 0
        self.end_ns: int | None = None
        self.connections: list[Http1Connection] = []
        self._flows = [_Flow(self) for _ in range(part.concurrency)]
        self._active = 0
        self._done: asyncio.Future[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def prepare(self) -> None:
        """Open one connection per flow, ``_CONNECT_AHEAD`` at a time; failures retry later."""
        gate = asyncio.Semaphore(_CONNECT_AHEAD)
        part = self.part

        async def connect(flow: _Flow) -> None:
            async with gate:
                try:
                    flow.conn = await open_connection(part.host, part.port, part.connect_timeout)
                except ConnectError as exc:
                    log.debug("prepare: %s", exc)
                    return
                self.connections.append(flow.conn)

        await asyncio.gather(*(connect(flow) for flow in self._flows))
        log.debug("prepared %d of %d connections", len(self.connections), len(self._flows))

    async def run(self, start_ns: int) -> None:
        """Run from ``start_ns`` (warmup first) until the tickets or the time run out."""
        part = self.part
        self.measure_ns = start_ns + int(part.warmup * 1e9)
        if part.duration is not None:
            self.end_ns = self.measure_ns + int(part.duration * 1e9)
        self._done = asyncio.get_running_loop().create_future()
        self._active = len(self._flows)
        sweeper = asyncio.create_task(self._sweep())
        try:
            for flow in self._flows:
                flow.begin_iteration()
            await self._done
        finally:
            sweeper.cancel()
            for conn in self.connections:
                conn.close()

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        """Run a background task, keeping a reference to it until it ends."""
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def flow_finished(self) -> None:
        self._active -= 1
        if self._active == 0 and self._done is not None and not self._done.done():
            self._done.set_result(None)

    async def _sweep(self) -> None:
        """Expire requests past their deadline (cheaper than a timer per request)."""
        period = min(self.part.timeout / 10, 0.05)
        while True:
            await asyncio.sleep(period)
            now = time.perf_counter_ns()
            for conn in self.connections:
                if conn.busy and conn.deadline_ns <= now:
                    conn.expire()
            self.connections = [conn for conn in self.connections if not conn.closed]


class _Flow:
    """One slot of the window: runs iterations of the flow on its connection."""

    __slots__ = ("_measured", "_run", "_sent_ns", "_step", "conn")

    def __init__(self, run: ClosedLoop) -> None:
        self._run = run
        self.conn: Http1Connection | None = None
        self._step = 0
        self._measured = False
        self._sent_ns = 0

    def begin_iteration(self) -> None:
        run = self._run
        now = time.perf_counter_ns()
        if run.end_ns is not None and now >= run.end_ns:
            self._finish()
            return
        self._measured = now >= run.measure_ns
        if self._measured:
            if run.tickets is not None:
                if run.tickets == 0:
                    self._finish()
                    return
                run.tickets -= 1
            run.recorder.iterations += 1
        self._step = 0
        self._send()

    def _send(self) -> None:
        conn = self.conn
        if conn is None or conn.closed:
            self._run.spawn(self._connect_and_send())
            return
        request = self._run.requests[self._step]
        self._sent_ns = now = time.perf_counter_ns()
        conn.send(
            request.data,
            self._on_response,
            now + self._run.timeout_ns,
            head_request=request.head,
            want_body=request.want_body,
        )

    async def _connect_and_send(self) -> None:
        part = self._run.part
        try:
            self.conn = await open_connection(part.host, part.port, part.connect_timeout)
        except ConnectError as exc:
            log.debug("connect: %s", exc)
            self.conn = None
            self._on_response(0, None, "connect")
            return
        self._run.connections.append(self.conn)
        self._send()

    def _on_response(self, status: int, body: bytes | None, error: str | None) -> None:
        run = self._run
        now = time.perf_counter_ns()
        if self._measured:
            kind = error or run.requests[self._step].check(status, body)
            if kind is None:
                run.recorder.record_ok(now, now - self._sent_ns)
            else:
                run.recorder.record_error(now, kind)
        self._step += 1
        if self._step == len(run.requests):
            self.begin_iteration()
        elif run.end_ns is not None and now >= run.end_ns:
            self._finish()
        else:
            self._send()

    def _finish(self) -> None:
        self._run.flow_finished()
