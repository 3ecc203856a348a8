"""Failover under load: kill a nats-server node or a service instance mid-trial.

::

    load (count-based) ----------------------------------------------> done
                 |<- a third of the requests answered
                 kill -9 (the gateway's NATS node, or service instance 1)
                        |<-- error window -->|   the kill to the last failed request
    afterwards: restart the victim on its old ports, wait for the cluster's routes

Every request of the trial is accounted for: answered correctly, or counted as
an error by class. A *silent loss* would be a request the generator sent but
neither counted as answered nor as failed; the trial is count-based so that
number is exact (iterations x flow length - answered - failed), and must be 0.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Literal

from natsgate.bench.runner import BenchSettings, run_trial
from natsgate.bench.scenarios import Scenario
from natsgate.bench.schema import FailoverTrial, Transport
from natsgate.bench.stack import Stack
from natsgate.natsserver import NatsCluster

__all__ = ["FailoverTarget", "run_failover"]

logger = logging.getLogger("natsgate.bench")

FailoverTarget = Literal["nats-node", "service"]

KILL_AT_FRACTION = 1 / 3


def _gateway_node(stack: Stack) -> int:
    """Index of the cluster node the gateway's NATS connection is on."""
    assert isinstance(stack.nats, NatsCluster)
    for index, node in enumerate(stack.nats.nodes):
        connections = node.monitor("connz").get("connections", [])
        if any(c.get("name") == "natsgate-bench-gateway" for c in connections):
            return index
    return 0


def _victim(stack: Stack, target: FailoverTarget) -> tuple[str, Callable[[], None]]:
    """The victim's name and how to kill it."""
    if target == "nats-node":
        if not isinstance(stack.nats, NatsCluster):
            raise ValueError("killing a NATS node needs an embedded cluster (--cluster 3)")
        node = stack.nats.nodes[_gateway_node(stack)]
        return node.name, node.kill
    if len(stack.services) < 2:
        raise ValueError("killing a service instance needs --service-instances 2 or more")
    return stack.services[0].name, lambda: stack.kill_service(0)


def _revive(stack: Stack, target: FailoverTarget, victim: str) -> None:
    if target == "nats-node":
        assert isinstance(stack.nats, NatsCluster)
        node = next(n for n in stack.nats.nodes if n.name == victim)
        node.start()
        stack.nats.wait_routes()
    else:
        stack.restart_service(0)


def _kill_when(
    total: int, kill: Callable[[], None], killed_at: list[float]
) -> Callable[[int], None]:
    """A progress callback that kills the victim once a third of the requests are done."""
    done = 0
    threshold = max(1, int(total * KILL_AT_FRACTION))

    def advance(n: int) -> None:
        nonlocal done
        done += n
        if done >= threshold and not killed_at:
            killed_at.append(time.monotonic())
            threading.Thread(target=kill, name="failover-kill", daemon=True).start()

    return advance


def failover_trial(
    stack: Stack,
    scenario: Scenario,
    transport: Transport,
    target: FailoverTarget,
    settings: BenchSettings,
) -> FailoverTrial:
    """One count-based trial with a kill a third of the way through."""
    name, kill = _victim(stack, target)
    expected = (scenario.iterations or 0) * len(scenario.steps)
    killed_at: list[float] = []
    started = time.monotonic()
    # No warmup: every request of the trial is counted, those around the kill above all.
    trial = run_trial(
        stack,
        scenario,
        transport,
        0,
        replace(settings, trials=1, warmup=0.0),
        _kill_when(expected, kill, killed_at),
    )
    _revive(stack, target, name)
    errors = sum(trial["errors"].values())
    kill_at = round(killed_at[0] - started, 4) if killed_at else None
    first, last = trial.get("first_error_at"), trial.get("last_error_at")
    # From the kill to the last failed request, both timed from the trial's start:
    # a request that waited out its timeout counts for all the time it waited.
    window = None
    if last is not None:
        window = round(max(0.0, last - (kill_at if kill_at is not None else first or 0.0)), 4)
    result = FailoverTrial(
        target=target,
        victim=name,
        transport=transport,
        killed_at=kill_at,
        expected_requests=expected,
        requests=trial["requests"],
        ok=trial["ok"],
        errors=trial["errors"],
        first_error_at=first,
        last_error_at=last,
        error_window_seconds=window,
        silent_losses=expected - trial["ok"] - errors,
        requests_per_second=trial["requests_per_second"],
    )
    logger.info(
        "failover %s over %s: %d of %d failed, error window %s s, %d silent losses",
        target,
        transport,
        errors,
        expected,
        window,
        result["silent_losses"],
    )
    return result


def run_failover(
    stack: Stack,
    scenario: Scenario,
    targets: list[FailoverTarget],
    settings: BenchSettings,
) -> list[FailoverTrial]:
    """Failover trials: a node kill over NATS (the HTTP routes do not touch NATS), and a
    service kill over every transport."""
    trials = []
    for target in targets:
        transports = ["nats"] if target == "nats-node" else list(settings.transports)
        for transport in transports:
            trials.append(failover_trial(stack, scenario, transport, target, settings))  # type: ignore[arg-type]
    return trials
