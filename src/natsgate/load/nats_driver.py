"""``run_nats_load``: the service called directly over NATS, no gateway (the baseline twin
of pointing the HTTP load generator at the service).

::

    LoadPlan.flow ──nats_steps()──> NatsStep per request, built once, as the gateway would:
      GET /items/1?x=1                subject  <subject_prefix>.GET.items.1
      headers, body                   Http-Method: GET, Http-Path: /items/1, Http-Query: x=1,
                                      the spec's headers; the body as the payload
    split_nats_plan() ──> NatsPart x workers ──run_parts()──> NatsClosedLoop per worker
                                      (threads or spawned processes, as for HTTP)
                      <── LoadResult (the same recorder and merge: comparable to an HTTP run)

Closed loop only: ``plan.rate`` (open loop) is refused with a ValueError. ``plan.url`` is
not used; the servers are given apart (the plan may hold a ``nats://`` URL for the record).
No responders is answered as the gateway would, a 503, and checked like any status.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from natsgate.load.nats_loop import NatsPart, NatsStep
from natsgate.load.plan import LoadPlan, PreparedRequest, RequestSpec, share
from natsgate.load.result import LoadResult
from natsgate.load.runner import run_parts
from natsgate.mapping import (
    build_subject,
    escape_token,
    nats_request,
    path_tokens,
    validate_subject_prefix,
)

__all__ = ["nats_steps", "run_nats_load", "split_nats_plan"]

log = logging.getLogger("natsgate.load")


def run_nats_load(
    plan: LoadPlan,
    servers: Sequence[str],
    subject_prefix: str,
    progress: Callable[[int], None] | None = None,
    *,
    in_process: bool | None = None,
) -> LoadResult:
    """Run a closed-loop plan against ``subject_prefix`` on ``servers``; blocks.

    ``in_process`` defaults to ``plan.workers == 1`` (a thread; several: spawned processes).
    """
    parts = split_nats_plan(plan, servers, subject_prefix)
    if in_process is None:
        in_process = len(parts) == 1
    log.info(
        "load: nats %s %s.>, %d request(s) per flow, %d worker(s), concurrency %d",
        ",".join(servers),
        subject_prefix,
        len(plan.flow),
        len(parts),
        plan.concurrency,
    )
    result = run_parts(parts, progress, in_process=in_process, connect_timeout=plan.connect_timeout)
    log.info("load: %d requests, %.0f req/s", result.requests, result.requests_per_second)
    return result


def split_nats_plan(plan: LoadPlan, servers: Sequence[str], subject_prefix: str) -> list[NatsPart]:
    """Divide a closed-loop plan among its workers, exactly as ``split_plan`` does for HTTP."""
    if plan.open_loop:
        raise ValueError("open loop (rate) is HTTP-only: the direct-NATS driver is closed loop")
    if not servers:
        raise ValueError("give at least one NATS server URL")
    steps = nats_steps(plan.flow, validate_subject_prefix(subject_prefix))
    workers = min(plan.workers, plan.concurrency)
    if plan.iterations is not None:
        workers = min(workers, plan.iterations)
    return [
        NatsPart(
            index=index,
            servers=tuple(servers),
            steps=steps,
            concurrency=share(plan.concurrency, workers, index),
            iterations=None if plan.iterations is None else share(plan.iterations, workers, index),
            duration=plan.duration,
            warmup=plan.warmup,
            timeout=plan.timeout,
            connect_timeout=plan.connect_timeout,
        )
        for index in range(workers)
    ]


def nats_steps(flow: Sequence[RequestSpec], subject_prefix: str) -> tuple[NatsStep, ...]:
    """Each spec as the NATS message the gateway would publish for it (no X-Forwarded-*)."""
    return tuple(_step(spec, subject_prefix) for spec in flow)


def _step(spec: RequestSpec, subject_prefix: str) -> NatsStep:
    path, _, query = spec.target.partition("?")
    tokens = [escape_token(spec.method.encode()), *path_tokens(path)]
    subject = build_subject(subject_prefix, tokens)
    request = nats_request(subject, spec.method, path, query, list(spec.headers), spec.body)
    expect = PreparedRequest(
        data=b"",
        head=spec.method == "HEAD",
        want_body=True,
        expect_status=spec.expect_status,
        expect_body=spec.expect_body,
        expect_contains=spec.expect_contains,
    )
    return NatsStep(request, expect)
