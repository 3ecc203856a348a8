"""``natsgate load``: the load generator on its own, and ``--calibrate`` to measure it.

::

    natsgate load URL [--concurrency N | --rate R] [--requests N | --duration S] ...
        one-request flow built from the options -> run_load() with a progress bar
        -> summary table (rate, percentiles, errors by class, worker CPU) [-> --json file]
    natsgate load --calibrate
        -> hello server in a child process; us vs aiohttp client vs wrk at concurrency 1, 50

Exit status: 0 when every request succeeded, 1 when any failed, 2 on bad arguments.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import Any

from rich.console import Console, Group
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from natsgate.load.calibrate import CalibrationRow, calibrate, environment
from natsgate.load.plan import DEFAULT_MAX_CONNECTIONS, LoadPlan, RequestSpec, split_target
from natsgate.load.recorder import ERROR_KINDS
from natsgate.load.result import LoadResult
from natsgate.load.runner import run_load

__all__ = ["add_parser", "build_plan", "result_table"]

log = logging.getLogger("natsgate.load")

_DEFAULT_DURATION = 10.0


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "load",
        help="drive an HTTP server: closed loop (--concurrency) or open loop (--rate)",
        description="HTTP/1.1 load generator (keep-alive, one request in flight per "
        "connection); latency in HDR histograms, every response checked.",
        epilog="exit status: 0 when every request succeeded, 1 when any failed",
    )
    parser.add_argument("url", nargs="?", help="http://host:port/path?query")
    parser.add_argument("--method", help="request method (default GET, POST with a body)")
    body = parser.add_mutually_exclusive_group()
    body.add_argument("--body-size", type=int, metavar="N", help="send a body of N bytes")
    body.add_argument("--body-file", type=Path, metavar="F", help="send the bytes of file F")
    parser.add_argument(
        "--header", action="append", default=[], metavar="'K: V'", help="add a request header"
    )
    parser.add_argument("--expect-status", type=int, default=200, metavar="CODE")
    parser.add_argument("--expect-contains", metavar="TEXT", help="body must contain TEXT")
    loop = parser.add_mutually_exclusive_group()
    loop.add_argument("--concurrency", type=int, default=1, metavar="N", help="flows in flight")
    loop.add_argument("--rate", type=float, metavar="R", help="open loop: requests per second")
    amount = parser.add_mutually_exclusive_group()
    amount.add_argument("--requests", type=int, metavar="N", help="total requests")
    amount.add_argument(
        "--duration", type=float, metavar="S", help=f"seconds (default {_DEFAULT_DURATION:g})"
    )
    parser.add_argument("--warmup", type=float, default=0.0, metavar="S", help="unrecorded lead")
    parser.add_argument("--workers", type=int, default=1, metavar="N", help="load processes")
    parser.add_argument("--timeout", type=float, default=10.0, metavar="S", help="per request")
    parser.add_argument("--connect-timeout", type=float, default=5.0, metavar="S")
    parser.add_argument(
        "--max-connections",
        type=int,
        default=DEFAULT_MAX_CONNECTIONS,
        metavar="N",
        help="open loop: most connections at once",
    )
    parser.add_argument("--json", type=Path, metavar="FILE", help="write the result as JSON")
    parser.add_argument(
        "--calibrate",
        action="store_true",
        help="measure the generator against a local hello server (and wrk, if installed)",
    )
    parser.set_defaults(func=_run)
    return parser


def build_plan(args: argparse.Namespace) -> LoadPlan:
    """The plan the command line describes: a flow of one request."""
    base, target = split_target(args.url)
    body = b""
    if args.body_size is not None:
        body = b"x" * args.body_size
    elif args.body_file is not None:
        body = args.body_file.read_bytes()
    headers = []
    for header in args.header:
        name, sep, value = header.partition(":")
        if not sep:
            raise ValueError(f"--header needs 'Name: value', got {header!r}")
        headers.append((name.strip(), value.strip()))
    spec = RequestSpec(
        method=args.method or ("POST" if body else "GET"),
        target=target,
        body=body,
        headers=tuple(headers),
        expect_status=args.expect_status,
        expect_contains=None if args.expect_contains is None else args.expect_contains.encode(),
    )
    duration = args.duration
    if args.requests is None and duration is None:
        duration = _DEFAULT_DURATION
    return LoadPlan(
        url=base,
        flow=(spec,),
        concurrency=args.concurrency,
        rate=args.rate,
        iterations=args.requests,
        duration=duration,
        warmup=args.warmup,
        workers=args.workers,
        timeout=args.timeout,
        connect_timeout=args.connect_timeout,
        max_connections=args.max_connections,
    )


def result_table(result: LoadResult, title: str = "load") -> Group:
    """Rate and errors by class, then the latency percentiles (and corrected ones)."""
    summary = Table(title=title, show_header=False, title_justify="left")
    summary.add_column("what", style="bold")
    summary.add_column("value")
    summary.add_row("requests", f"{result.requests:,} ({result.iterations:,} iterations)")
    summary.add_row("ok", f"{result.ok:,}")
    rate = f"{result.requests_per_second:,.0f} req/s over {result.wall_seconds:.2f} s"
    summary.add_row("rate", rate)
    if result.target_rate is not None:
        sent = result.achieved_rate or 0.0
        summary.add_row("open loop", f"asked {result.target_rate:,.0f}/s, sent {sent:,.0f}/s")
    errors = "  ".join(f"{kind} {result.errors[kind]:,}" for kind in ERROR_KINDS)
    summary.add_row("errors", f"[red]{errors}[/]" if result.ok < result.requests else errors)
    for note in result.notes:
        summary.add_row("note", f"[yellow]{note}[/]")

    latency = Table(title="latency (successful requests)", title_justify="left")
    latency.add_column("measured from")
    for key in ("p50", "p90", "p99", "p99.9", "max", "mean"):
        latency.add_column(key, justify="right")
    latency.add_row("actual send", *(_us(value) for value in result.percentiles().values()))
    if result.corrected is not None:
        corrected = result.percentiles(corrected=True).values()
        latency.add_row("intended send", *(_us(value) for value in corrected))
    return Group(summary, latency)


def _workers_table(result: LoadResult) -> Table:
    table = Table(title="load workers", title_justify="left")
    for column in ("pid", "cpu user s", "cpu sys s", "% of a core", "max RSS MiB", "ctx vol/invol"):
        table.add_column(column, justify="right")
    for worker in result.workers:
        table.add_row(
            str(worker["pid"]),
            f"{worker['cpu_user']:.2f}",
            f"{worker['cpu_system']:.2f}",
            f"{worker['cpu_percent_of_core']:.0f}",
            f"{worker['max_rss_bytes'] / 2**20:.0f}",
            f"{worker['ctx_switches_voluntary']:,}/{worker['ctx_switches_involuntary']:,}",
        )
    return table


def _us(value: float | None) -> str:
    if value is None:
        return "n/a"
    if value >= 10_000:
        return f"{value / 1000:,.1f}ms"
    if value >= 1000:
        return f"{value / 1000:.2f}ms"
    return f"{value:.0f}us"


def _run(args: argparse.Namespace) -> int:
    console = Console()
    if args.calibrate:
        return _calibrate(console)
    if args.url is None:
        console.print("[red]natsgate load: a URL is needed (or --calibrate)[/]")
        return 2
    try:
        plan = build_plan(args)
    except (ValueError, OSError) as exc:
        console.print(f"[red]natsgate load: {exc}[/]")
        return 2
    result = _run_with_progress(plan, console)
    console.print(result_table(result, title=f"natsgate load {args.url}"))
    console.print(_workers_table(result))
    if args.json is not None:
        args.json.write_text(json.dumps(result.to_json(), indent=2) + "\n")
        log.info("result written to %s", args.json)
    return 0 if result.ok == result.requests else 1


def _run_with_progress(plan: LoadPlan, console: Console) -> LoadResult:
    total = None if plan.iterations is None else plan.iterations * len(plan.flow)
    columns = [
        TextColumn("[bold]load"),
        BarColumn(),
        MofNCompleteColumn() if total is not None else TextColumn("{task.completed:,} requests"),
        TimeElapsedColumn(),
    ]
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("load", total=total)
        return run_load(plan, lambda n: progress.advance(task, n))


def _calibrate(console: Console) -> int:
    for key, value in environment().items():
        console.print(f"[dim]{key}: {value}[/]")
    with console.status("calibrating against a local hello server (about 20 s)"):
        rows = calibrate()
    console.print(_calibration_table(rows))
    return 0


def _calibration_table(rows: list[CalibrationRow]) -> Table:
    table = Table(title="load generator vs baselines, one hello server", title_justify="left")
    columns = ("flows", "ours/s", "p50", "p99", "cpu%", "aiohttp/s", "x aio", "wrk/s", "x wrk")
    for column in columns:
        table.add_column(column, justify="right")
    for row in rows:
        table.add_row(
            str(row.concurrency),
            f"{row.ours:,.0f}",
            _us(row.p50_us),
            _us(row.p99_us),
            f"{row.cpu_percent:.0f}",
            _rate(row.aiohttp),
            _ratio(row.ours, row.aiohttp),
            _rate(row.wrk),
            _ratio(row.ours, row.wrk),
        )
    return table


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def _ratio(ours: float, baseline: float | None) -> str:
    return "-" if not baseline else f"{ours / baseline:.2f}"
