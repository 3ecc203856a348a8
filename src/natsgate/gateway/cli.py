"""``natsgate gateway --config routes.toml``: run the gateway until SIGTERM or SIGINT.

::

    load routes.toml --> connect NATS --> listen --> write --ready-file --> serve
                                                                            | SIGTERM
    exit 0 <-- close pools <-- drain NATS <-- finish in-flight <-- stop accepting

No NATS server within ``[nats] connect_timeout`` is exit 1; SIGTERM or SIGINT
while still connecting stops at once (exit 0).

With ``--workers N`` (N > 1) this process becomes the supervisor of N such
gateways sharing the port (:mod:`natsgate.gateway.supervisor`); ``--reuse-port``
and ``--parent-pid`` are how it starts them, not options for users.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
from dataclasses import replace
from pathlib import Path
from typing import Any

from natsgate import eventloop
from natsgate.gateway.ready import write_ready_file
from natsgate.gateway.server import Gateway
from natsgate.gateway.supervisor import Supervisor
from natsgate.routes import ConfigError, load_config, parse_listen

__all__ = ["add_parser", "run"]

logger = logging.getLogger("natsgate.gateway")


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "gateway",
        help="run the HTTP edge gateway (routes to HTTP or NATS upstreams)",
        description="Serve the routes of a TOML route table until SIGTERM or SIGINT.",
    )
    parser.add_argument("--config", required=True, type=Path, help="route table (TOML)")
    parser.add_argument("--listen", metavar="HOST:PORT", help="override [gateway] listen")
    parser.add_argument(
        "--nats-url",
        action="append",
        default=None,
        metavar="URL",
        help="NATS server URL, repeatable (overrides [nats] servers)",
    )
    parser.add_argument(
        "--ready-file",
        type=Path,
        help='write {"pid": ..., "url": ...} here once listening and connected '
        '(with --workers N: {"pid": ..., "url": ..., "workers": [pids]} once all are)',
    )
    parser.add_argument(
        "--workers",
        type=_positive_int,
        default=1,
        metavar="N",
        help="gateway processes sharing the port via SO_REUSEPORT (default: %(default)s)",
    )
    parser.add_argument("--reuse-port", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--parent-pid", type=int, default=0, help=argparse.SUPPRESS)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.config)
        if args.listen:
            host, port = parse_listen(args.listen)
            config = replace(config, gateway=replace(config.gateway, host=host, port=port))
    except ConfigError as exc:
        logger.error("%s", exc)
        return 2
    _raise_open_file_limit()
    if args.workers > 1:
        supervisor = Supervisor(config, args.config, args.workers, args.nats_url, args.ready_file)
        return supervisor.run()
    gateway = Gateway(config, nats_servers=args.nats_url, reuse_port=args.reuse_port)
    return eventloop.run(_serve(gateway, args.ready_file, args.parent_pid))


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _raise_open_file_limit() -> None:
    """Each client connection may hold an upstream one: lift the soft limit to the hard one."""
    try:
        import resource
    except ImportError:  # pragma: no cover - not on Windows
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        logger.info("open file limit raised from %d to %d", soft, hard)


async def _serve(gateway: Gateway, ready_file: Path | None, parent_pid: int = 0) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    watch = asyncio.create_task(_watch_parent(parent_pid, stop)) if parent_pid else None
    try:
        started = await _start_unless_stopped(gateway, stop)
    except Exception as exc:  # any start failure is reported, exit 1
        logger.error("gateway failed to start: %s", exc)
        await gateway.stop(timeout=0)
        return 1
    if not started:
        logger.info("stopped while starting")
        await gateway.stop(timeout=0)
        return 0
    if ready_file is not None:
        write_ready_file(ready_file, {"pid": os.getpid(), "url": gateway.url})
    await stop.wait()
    if watch is not None:
        watch.cancel()
    timeout = gateway.config.gateway.shutdown_timeout
    logger.info("shutting down (up to %gs for in-flight requests)", timeout)
    await gateway.stop()
    return 0


async def _start_unless_stopped(gateway: Gateway, stop: asyncio.Event) -> bool:
    """``gateway.start()``, cut short (False) when a signal sets ``stop`` first."""
    start = asyncio.ensure_future(gateway.start())
    stopped = asyncio.ensure_future(stop.wait())
    await asyncio.wait({start, stopped}, return_when=asyncio.FIRST_COMPLETED)
    stopped.cancel()
    if not start.done():
        start.cancel()
        await asyncio.gather(start, return_exceptions=True)
        return False
    start.result()
    return True


async def _watch_parent(parent_pid: int, stop: asyncio.Event) -> None:
    """A worker stops by itself once its supervisor is gone (it would be reparented)."""
    while os.getppid() == parent_pid:
        await asyncio.sleep(1.0)
    logger.error("supervisor (pid %d) is gone: worker %d stopping", parent_pid, os.getpid())
    stop.set()
