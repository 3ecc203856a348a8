"""``natsgate bench``: the main job, from an empty machine to a report."""

from __future__ import annotations

import argparse
import json
import logging
import signal
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from natsgate.bench.failover import run_failover
from natsgate.bench.runner import GATEWAY_TRANSPORTS, BenchSettings, run_bench
from natsgate.bench.scenarios import SCENARIOS, Scenario
from natsgate.bench.schema import FailoverTrial, Report, Sweep, Transport
from natsgate.bench.stack import Stack, StackError
from natsgate.bench.sweeps import SweepSettings, concurrency_sweep, instances_sweep, rate_sweep
from natsgate.natsserver import NatsServerError

__all__ = ["add_parser"]

logger = logging.getLogger("natsgate.bench")

DEFAULT_SCENARIOS = ("seed-sequential", "seed-payload", "seed-parallel")
TRANSPORTS = (*GATEWAY_TRANSPORTS, "direct-http", "direct-nats")


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "bench",
        help="run the benchmark: nats-server, service and gateway, every transport, a report",
        description="Start an embedded nats-server (or use --nats-url), the reference service "
        "and the gateway; run the scenarios over every transport in interleaved trials; write "
        "report.json, report.md and report.html into --out.",
    )
    parser.add_argument(
        "scenarios",
        nargs="*",
        metavar="SCENARIO",
        help=f"scenarios to run (default: {' '.join(DEFAULT_SCENARIOS)}; all: "
        f"{', '.join(SCENARIOS)})",
    )
    parser.add_argument("--out", type=Path, default=Path("bench-out"), help="output folder")
    parser.add_argument(
        "--scale", type=float, default=1.0, help="multiply request counts (0.01 for a quick run)"
    )
    parser.add_argument("--trials", type=int, default=5, help="interleaved trials per transport")
    parser.add_argument(
        "--order", choices=["rotate", "shuffle", "fixed"], default="rotate", help="trial order"
    )
    parser.add_argument(
        "--transport",
        dest="transports",
        action="append",
        choices=TRANSPORTS,
        help="transports to run (repeatable; default: http, http-close, nats)",
    )
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds excluded per trial")
    parser.add_argument("--workers", type=int, default=1, help="load generator processes")
    parser.add_argument("--timeout", type=float, default=30.0, help="per-request timeout (s)")
    parser.add_argument(
        "--nats-url",
        action="append",
        default=[],
        help="use this NATS server (repeatable for a cluster) instead of an embedded one",
    )
    parser.add_argument(
        "--baselines",
        action="store_true",
        help="also call the service directly (direct-http, direct-nats): the gateway's share",
    )
    scale_out = parser.add_argument_group("scale-out and failover")
    scale_out.add_argument("--cluster", type=int, default=1, help="embedded NATS cluster nodes")
    scale_out.add_argument(
        "--service-instances", type=int, default=1, help="service processes in one queue group"
    )
    scale_out.add_argument(
        "--gateway-workers", type=int, default=1, help="gateway processes sharing one port"
    )
    scale_out.add_argument(
        "--failover",
        action="append",
        choices=["nats-node", "service"],
        default=[],
        help="after the scenarios, kill this part a third of the way into a trial "
        "(nats-node needs --cluster 3, service needs --service-instances 2)",
    )
    scale_out.add_argument(
        "--failover-iterations", type=int, default=3000, help="iterations of a failover trial"
    )
    workload = parser.add_argument_group("workload overrides (applied to every scenario)")
    workload.add_argument("--concurrency", type=int, help="closed loop: flows in flight")
    workload.add_argument("--rate", type=float, help="open loop: requests/s, whatever responses do")
    workload.add_argument("--iterations", type=int, help="flow iterations per transport")
    workload.add_argument("--duration", type=float, help="seconds per trial instead of a count")
    sweeps = parser.add_argument_group("sweeps (run after the scenarios, on the first one's flow)")
    sweeps.add_argument(
        "--sweep",
        action="append",
        choices=["concurrency", "rate", "instances"],
        default=[],
        help="throughput vs concurrency; highest sustainable rate and latency below it; "
        "throughput with 1, 2 and 4 service instances",
    )
    sweeps.add_argument("--sweep-seconds", type=float, default=5.0, help="seconds per point")
    sweeps.add_argument(
        "--p99-bound-ms", type=float, default=50.0, help="rate sweep: p99 above this fails"
    )
    parser.set_defaults(func=_run)


def _override(scenario: Scenario, args: argparse.Namespace) -> Scenario:
    """Apply the workload flags; a duration or rate replaces the iteration count."""
    changes: dict[str, Any] = {}
    if args.concurrency is not None:
        changes["concurrency"] = args.concurrency
    if args.rate is not None:
        changes["rate"] = args.rate
    if args.iterations is not None:
        changes.update(iterations=args.iterations, duration=None)
    if args.duration is not None:
        changes.update(duration=args.duration, iterations=None)
    elif args.rate is not None and args.iterations is None:
        changes.update(duration=scenario.duration or 10.0, iterations=None)
    return replace(scenario, **changes)


def _sweeps(
    args: argparse.Namespace, scenario: Scenario, settings: BenchSettings
) -> list[Callable[[Stack], Sweep]]:
    sweep = SweepSettings(point_seconds=args.sweep_seconds, p99_bound_us=args.p99_bound_ms * 1000)
    planned: list[Callable[[Stack], Sweep]] = []
    for kind in args.sweep:
        if kind == "concurrency":
            planned.append(lambda stack: concurrency_sweep(stack, scenario, settings, sweep))
        elif kind == "rate":
            planned.append(lambda stack: rate_sweep(stack, scenario, settings, sweep))
    return planned


def _after(
    args: argparse.Namespace, scenario: Scenario, settings: BenchSettings
) -> list[Callable[[], Sweep]]:
    if "instances" not in args.sweep:
        return []
    sweep = SweepSettings(point_seconds=args.sweep_seconds)
    return [lambda: instances_sweep(scenario, settings, sweep)]


def _transports(args: argparse.Namespace) -> list[str]:
    transports = list(args.transports or GATEWAY_TRANSPORTS)
    if args.baselines:
        transports += [t for t in ("direct-http", "direct-nats") if t not in transports]
    return transports


def _failover(
    args: argparse.Namespace, settings: BenchSettings
) -> Callable[[Stack], list[FailoverTrial]] | None:
    if not args.failover:
        return None
    scenario = replace(
        SCENARIOS["keepalive-c64"], iterations=args.failover_iterations, duration=None
    )
    gateway_only = replace(
        settings, transports=[t for t in settings.transports if not t.startswith("direct")]
    )
    return lambda stack: run_failover(stack, scenario, args.failover, gateway_only)


def _progress_factory(progress: Progress) -> Callable[[str, int, int], Callable[[int], None]]:
    def start(label: str, total: int, _round: int) -> Callable[[int], None]:
        task = progress.add_task(label, total=total or None)

        def advance(n: int) -> None:
            progress.advance(task, n)

        return advance

    return start


def _exit_on_signal(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def _error_count(report: Report) -> int:
    return sum(sum(t["errors"].values()) for s in report["scenarios"] for t in s["trials"])


def _run(args: argparse.Namespace) -> int:
    names = args.scenarios or list(DEFAULT_SCENARIOS)
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        logger.error("unknown scenario(s) %s; known: %s", ", ".join(unknown), ", ".join(SCENARIOS))
        return 2
    if args.trials < 1 or args.scale <= 0:
        logger.error("--trials must be at least 1 and --scale positive")
        return 2
    if "nats-node" in args.failover and args.cluster < 2 and not args.nats_url:
        logger.error("--failover nats-node needs an embedded cluster: add --cluster 3")
        return 2
    if "service" in args.failover and args.service_instances < 2:
        logger.error("--failover service needs --service-instances 2 or more")
        return 2
    scenarios = [_override(SCENARIOS[n].scaled(args.scale), args) for n in names]
    settings = BenchSettings(
        scenarios=scenarios,
        out=args.out.resolve(),
        transports=cast(list[Transport], _transports(args)),
        trials=args.trials,
        order=args.order,
        warmup=args.warmup,
        workers=args.workers,
        timeout=args.timeout,
        nats_urls=args.nats_url,
        cluster=args.cluster,
        service_instances=args.service_instances,
        gateway_workers=args.gateway_workers,
        scale=args.scale,
    )
    # SIGTERM unwinds like Ctrl-C, so the stack stops the processes it started.
    signal.signal(signal.SIGTERM, _exit_on_signal)
    console = Console(stderr=True)
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    try:
        with Progress(*columns, console=console, transient=False) as progress:
            report = run_bench(
                settings,
                _progress_factory(progress),
                _sweeps(args, scenarios[0], settings),
                _failover(args, settings),
                _after(args, scenarios[0], settings),
            )
    except (StackError, NatsServerError) as exc:
        logger.error("%s", exc)
        return 1
    return _write(report, settings, console)


def _write(report: Report, settings: BenchSettings, console: Console) -> int:
    from natsgate.report import summary_table, write_reports

    settings.out.mkdir(parents=True, exist_ok=True)
    path = settings.out / "report.json"
    path.write_text(json.dumps(report, indent=1))
    written = [path, *write_reports(report, settings.out)]
    Console().print(summary_table(report))
    for item in written:
        console.print(f"wrote {item}")
    errors = _error_count(report)
    if errors:
        console.print(f"[bold red]{errors} request(s) failed: see the reports[/]")
    # Requests a failover kill makes fail are its measurement; one lost silently is a bug.
    lost = sum(f["silent_losses"] for f in report.get("failover", []))
    if lost:
        console.print(f"[bold red]{lost} request(s) lost silently during failover[/]")
    return 1 if errors or lost else 0
