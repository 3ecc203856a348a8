"""Direct-NATS closed loop: ``concurrency`` flows, each a task awaiting one reply at a time.

::

    flow 1: [step 1 -> reply][step 2 -> reply] | next iteration ...
    flow 2:   [step 1 -> reply][step 2 -> reply] | ...
       └─ NatsUpstream.request (the gateway's own requester: one connection, one wildcard
          inbox, a future per request) ──PUB <prefix>.<METHOD>.<tokens>──> nats-server ──> service

The worker-side twin of ``closed_loop``: the same tickets, warmup and end rules, the same
Recorder. Each step's ``NatsRequest`` is built once, when the plan is split. A reply is
checked as the HTTP response the gateway would make of it (``mapping.parse_reply``); the
gateway's upstream errors map to the load generator's error classes:

    NATS not connected (or the connection lost mid-request)   "connect"
    no reply within the plan's timeout                        "timeout"
    no responders                                             status 503, then checked
    reply that does not decode (BadReply)                     "protocol"
    message over max_payload, bad header                      the gateway's status, checked
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass

from natsgate.errors import (
    BadReply,
    NatsgateError,
    NoResponders,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from natsgate.gateway.nats_upstream import NatsUpstream
from natsgate.load.plan import PreparedRequest
from natsgate.load.recorder import Recorder
from natsgate.mapping import NatsRequest
from natsgate.routes import NatsSettings

__all__ = ["CLIENT_NAME", "NatsClosedLoop", "NatsPart", "NatsStep"]

log = logging.getLogger("natsgate.load")

CLIENT_NAME = "natsgate-load"


@dataclass(frozen=True, slots=True)
class NatsStep:
    """One request of the flow as a NATS message, and the check of its mapped reply."""

    request: NatsRequest
    expect: PreparedRequest  # only its expectations are used (``data`` is empty)


@dataclass(frozen=True, slots=True)
class NatsPart:
    """One worker's share of a direct-NATS plan (picklable, like ``WorkerPart``)."""

    index: int
    servers: tuple[str, ...]
    steps: tuple[NatsStep, ...]
    concurrency: int
    iterations: int | None
    duration: float | None
    warmup: float
    timeout: float
    connect_timeout: float
    rate: None = None  # closed loop only; the worker reads ``rate`` of any part


class NatsClosedLoop:
    """One worker's run: connect while preparing, then flows as tasks from a common start."""

    def __init__(self, part: NatsPart, recorder: Recorder) -> None:
        self.part = part
        self.recorder = recorder
        self.upstream = NatsUpstream(NatsSettings(servers=part.servers, name=CLIENT_NAME))
        self.tickets = part.iterations  # None: time-boxed
        self.measure_ns = 0
        self.end_ns: int | None = None
        self._connecting: asyncio.Task[None] | None = None

    async def prepare(self) -> None:
        """Connect, waiting up to ``connect_timeout``; past it nats-py keeps trying."""
        self._connecting = asyncio.create_task(self.upstream.start())
        done, _ = await asyncio.wait({self._connecting}, timeout=self.part.connect_timeout)
        if not done:
            log.warning("NATS %s not reachable yet: requests fail as 'connect'", self.part.servers)
        elif self._connecting.exception() is not None:
            log.warning("NATS connect failed: %s", self._connecting.exception())

    async def run(self, start_ns: int) -> None:
        """Run from ``start_ns`` (warmup first) until the tickets or the time run out."""
        part = self.part
        self.measure_ns = start_ns + int(part.warmup * 1e9)
        if part.duration is not None:
            self.end_ns = self.measure_ns + int(part.duration * 1e9)
        try:
            await asyncio.gather(*(self._flow() for _ in range(part.concurrency)))
        finally:
            await self._close()

    async def _flow(self) -> None:
        """Iterations of the flow, one request at a time, until none are left."""
        while (measured := self._begin_iteration()) is not None:
            for step in self.part.steps:
                sent_ns = time.perf_counter_ns()
                kind = await self._exchange(step)
                now = time.perf_counter_ns()
                if measured:
                    if kind is None:
                        self.recorder.record_ok(now, now - sent_ns)
                    else:
                        self.recorder.record_error(now, kind)
                if self.end_ns is not None and now >= self.end_ns:
                    return

    def _begin_iteration(self) -> bool | None:
        """Whether the next iteration is measured, or None when the run is over."""
        now = time.perf_counter_ns()
        if self.end_ns is not None and now >= self.end_ns:
            return None
        if now < self.measure_ns:
            return False
        if self.tickets is not None:
            if self.tickets == 0:
                return None
            self.tickets -= 1
        self.recorder.iterations += 1
        return True

    async def _exchange(self, step: NatsStep) -> str | None:
        """Send one request and wait for its reply: its error class, or None when ok."""
        try:
            reply = await self.upstream.request(step.request, self.part.timeout)
        except UpstreamTimeout:
            return "timeout"
        except UpstreamUnavailable:
            await asyncio.sleep(0)  # refused before any wait: let the loop run
            return "connect"
        except NoResponders:
            return step.expect.check(NoResponders.status, b"")
        except BadReply:
            return "protocol"
        except NatsgateError as exc:  # refused by the requester, as the gateway would
            return step.expect.check(exc.status, None)
        return step.expect.check(reply.status, reply.body)

    async def _close(self) -> None:
        connecting = self._connecting
        if connecting is not None and not connecting.done():
            connecting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await connecting
        await self.upstream.close()
