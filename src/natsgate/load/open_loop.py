"""Open loop: requests at a constant rate, whatever the responses do.

::

    schedule:  t0   t0+1/r   t0+2/r  ...    (intended send times; flow requests round-robin)
                │      │        │
                v      v        v
    dispatch:  idle connection? ──yes──> send now
                     │ no
                     ├─ fewer than max_connections open? ──> open one, then send
                     └─ else queue (FIFO) until a connection frees; a queued request older
                        than the timeout is a "timeout" and is never sent

    latency   = response - actual send
    corrected = response - intended send  (includes queueing and connecting: coordinated
                                           omission corrected, as in wrk2)

Requests intended before the warmup ends are sent but not recorded. The schedule stops
after ``iterations x len(flow)`` measured requests or when the duration is over; what is
in flight then still completes (bounded by the timeout) and is recorded.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Coroutine
from typing import Any

from natsgate.load.http1 import ConnectError, Http1Connection, open_connection
from natsgate.load.plan import PreparedRequest, WorkerPart
from natsgate.load.recorder import Recorder

__all__ = ["OpenLoop"]

log = logging.getLogger("natsgate.load")

# Event loop timers have millisecond resolution: requests due within the next millisecond
# go out now (a shorter sleep would spin). One sent early is measured from its actual
# send, which keeps ``corrected >= latency``.
_LOOKAHEAD_NS = 1_000_000


class _Job:
    """One scheduled request."""

    __slots__ = ("intended_ns", "measured", "request")

    def __init__(self, intended_ns: int, request: PreparedRequest, measured: bool) -> None:
        self.intended_ns = intended_ns
        self.request = request
        self.measured = measured


class OpenLoop:
    """One worker's open-loop run at ``part.rate`` requests per second."""

    def __init__(self, part: WorkerPart, recorder: Recorder) -> None:
        assert part.rate is not None
        self.part = part
        self.recorder = recorder
        self.timeout_ns = int(part.timeout * 1e9)
        self._interval_ns = 1e9 / part.rate
        self._target = None if part.iterations is None else part.iterations * len(part.requests)
        self._slots: set[_Slot] = set()
        self._idle: list[_Slot] = []
        self._pending: deque[_Job] = deque()
        self._tasks: set[asyncio.Task[None]] = set()
        self._open = 0
        self._in_flight = 0
        self._scheduled = 0
        self._measured_scheduled = 0
        self._t0 = self._measure_ns = 0
        self._end_ns: int | None = None
        self._scheduling = True
        self._done: asyncio.Future[None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self.sent = 0
        self.first_send_ns = self.last_send_ns = 0

    async def prepare(self) -> None:
        """Open ``concurrency`` connections ahead (more are opened on demand)."""
        part = self.part
        ahead = min(part.concurrency, part.max_connections)
        results = await asyncio.gather(
            *(open_connection(part.host, part.port, part.connect_timeout) for _ in range(ahead)),
            return_exceptions=True,
        )
        for result in results:
            if isinstance(result, Http1Connection):
                slot = _Slot(self, result)
                self._slots.add(slot)
                self._idle.append(slot)
                self._open += 1
            elif not isinstance(result, ConnectError):
                raise result

    async def run(self, start_ns: int) -> None:
        part = self.part
        self._t0 = start_ns + int(part.phase * 1e9)
        self._measure_ns = start_ns + int(part.warmup * 1e9)
        if part.duration is not None:
            self._end_ns = self._measure_ns + int(part.duration * 1e9)
        self._done = asyncio.get_running_loop().create_future()
        sweeper = asyncio.create_task(self._sweep())
        try:
            self._tick()
            await self._done
            self.recorder.iterations = self._measured_scheduled // len(part.requests)
        finally:
            sweeper.cancel()
            if self._timer is not None:
                self._timer.cancel()
            for slot in self._slots:
                if slot.conn is not None:
                    slot.conn.close()

    @property
    def send_span_seconds(self) -> float:
        if not self.sent:
            return 0.0
        return (self.last_send_ns - self.first_send_ns + self._interval_ns) / 1e9

    # -- schedule

    def _tick(self) -> None:
        """Dispatch every request whose intended time has come, then sleep until the next."""
        self._timer = None
        now = time.perf_counter_ns()
        while self._scheduling:
            intended = self._t0 + int(self._scheduled * self._interval_ns)
            if self._schedule_over(intended):
                self._scheduling = False
                self._check_done()
                return
            if intended > now + _LOOKAHEAD_NS:
                loop = asyncio.get_running_loop()
                self._timer = loop.call_later((intended - now) / 1e9, self._tick)
                return
            self._scheduled += 1
            self._dispatch(self._make_job(intended))

    def _schedule_over(self, intended: int) -> bool:
        if self._end_ns is not None:
            return intended >= self._end_ns
        return self._measured_scheduled == self._target

    def _make_job(self, intended: int) -> _Job:
        requests = self.part.requests
        if intended < self._measure_ns:
            return _Job(intended, requests[self._scheduled % len(requests)], False)
        request = requests[self._measured_scheduled % len(requests)]
        self._measured_scheduled += 1
        return _Job(intended, request, True)

    def _dispatch(self, job: _Job) -> None:
        self._in_flight += 1
        while self._idle:
            slot = self._idle.pop()
            if slot.conn is not None and not slot.conn.closed:
                slot.start(job)
                return
            self._drop(slot)
        if self._open < self.part.max_connections:
            self._open += 1
            slot = _Slot(self, None)
            self._slots.add(slot)
            self.spawn(slot.connect_and_start(job))
            return
        self._pending.append(job)

    # -- completion

    def complete(
        self, job: _Job, sent_ns: int, status: int, body: bytes | None, error: str | None
    ) -> None:
        """Record one request's outcome (called by its slot)."""
        self._in_flight -= 1
        if not job.measured:
            return
        now = time.perf_counter_ns()
        kind = error or job.request.check(status, body)
        if kind is None:
            self.recorder.record_ok(now, now - sent_ns, now - min(sent_ns, job.intended_ns))
        else:
            self.recorder.record_error(now, kind)

    def note_send(self, job: _Job, sent_ns: int) -> None:
        if job.measured:
            if not self.sent:
                self.first_send_ns = sent_ns
            self.sent += 1
            self.last_send_ns = sent_ns

    def release(self, slot: _Slot) -> None:
        """A slot is free again: give it the oldest queued request, or park it."""
        job = self._next_pending(time.perf_counter_ns())
        usable = slot.conn is not None and not slot.conn.closed
        if job is None:
            if usable:
                self._idle.append(slot)
            else:
                self._drop(slot)
        elif usable:
            slot.start(job)
        else:
            self.spawn(slot.connect_and_start(job))
        self._check_done()

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _next_pending(self, now: int) -> _Job | None:
        """The oldest queued request still in time; older ones become timeouts."""
        pending = self._pending
        while pending:
            job = pending.popleft()
            if now - job.intended_ns <= self.timeout_ns:
                return job
            self.complete(job, now, 0, None, "timeout")
        return None

    def _drop(self, slot: _Slot) -> None:
        self._open -= 1
        self._slots.discard(slot)

    def _check_done(self) -> None:
        if self._scheduling or self._in_flight or self._done is None or self._done.done():
            return
        self._done.set_result(None)

    async def _sweep(self) -> None:
        """Expire requests past their deadline, in flight or queued."""
        period = min(self.part.timeout / 10, 0.05)
        while True:
            await asyncio.sleep(period)
            now = time.perf_counter_ns()
            for slot in list(self._slots):
                conn = slot.conn
                if conn is not None and conn.busy and conn.deadline_ns <= now:
                    conn.expire()
            pending = self._pending
            while pending and now - pending[0].intended_ns > self.timeout_ns:
                self.complete(pending.popleft(), now, 0, None, "timeout")
            self._check_done()


class _Slot:
    """A connection of the pool and the request it carries."""

    __slots__ = ("_job", "_loop", "_sent_ns", "conn")

    def __init__(self, loop: OpenLoop, conn: Http1Connection | None) -> None:
        self._loop = loop
        self.conn = conn
        self._job: _Job | None = None
        self._sent_ns = 0

    def start(self, job: _Job) -> None:
        assert self.conn is not None
        self._job = job
        self._sent_ns = now = time.perf_counter_ns()
        self._loop.note_send(job, now)
        request = job.request
        self.conn.send(
            request.data,
            self._on_response,
            now + self._loop.timeout_ns,
            head_request=request.head,
            want_body=request.want_body,
        )

    async def connect_and_start(self, job: _Job) -> None:
        part = self._loop.part
        try:
            self.conn = await open_connection(part.host, part.port, part.connect_timeout)
        except ConnectError as exc:
            log.debug("connect: %s", exc)
            self.conn = None
            self._loop.complete(job, time.perf_counter_ns(), 0, None, "connect")
            self._loop.release(self)
            return
        self.start(job)

    def _on_response(self, status: int, body: bytes | None, error: str | None) -> None:
        job = self._job
        assert job is not None
        self._job = None
        self._loop.complete(job, self._sent_ns, status, body, error)
        self._loop.release(self)
