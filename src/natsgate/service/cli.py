"""``natsgate service``: run a service (the reference catalog by default) over HTTP and NATS.

::

    natsgate service [--app package.module:attribute | --app path/to/file.py:attribute]
                     [--http HOST:PORT] [--nats-url URL]... [--queue-group Q]
                     [--max-in-flight N] [--no-http] [--no-nats] [--ready-file PATH]

``--app`` takes a module path (the current directory is put on ``sys.path``
first, so ``examples.inventory:service`` works from the repository root) or a
file path ending in ``.py``. Once both transports take requests, the ready file
(if asked for) is written atomically with the pid, URLs, subject prefix and
queue group. SIGTERM or SIGINT stops gracefully and exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import importlib.util
import json
import logging
import os
import signal
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from natsgate import eventloop
from natsgate.service.app import Service
from natsgate.service.server import ServeConfig, ServiceServer

__all__ = ["AppLoadError", "add_parser", "load_app", "run"]

logger = logging.getLogger("natsgate.service")

DEFAULT_APP = "natsgate.catalog:service"
DEFAULT_HTTP = "127.0.0.1:8080"
DEFAULT_NATS_URL = "nats://127.0.0.1:4222"


class AppLoadError(Exception):
    """The ``--app`` module or attribute cannot be loaded."""


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "service",
        help="run a service over HTTP and NATS (default: the reference catalog)",
        description="Serve a natsgate Service over HTTP and NATS (Services API) at once.",
    )
    parser.add_argument(
        "--app",
        default=DEFAULT_APP,
        help="MODULE:ATTRIBUTE or FILE.py:ATTRIBUTE of a Service (default: %(default)s); "
        "the current directory is on the module path",
    )
    parser.add_argument(
        "--http",
        default=DEFAULT_HTTP,
        metavar="HOST:PORT",
        help="HTTP listen address, port 0 picks a free one (default: %(default)s)",
    )
    parser.add_argument(
        "--nats-url",
        action="append",
        dest="nats_urls",
        metavar="URL",
        help=f"NATS server URL, repeatable (default: {DEFAULT_NATS_URL})",
    )
    parser.add_argument("--queue-group", help="NATS queue group (default: the service name)")
    parser.add_argument(
        "--max-in-flight",
        type=int,
        default=1024,
        metavar="N",
        help="requests handled at once; past it HTTP answers 503 and NATS waits "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--stop-timeout",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="how long in-flight requests may take to finish on SIGTERM (default: %(default)s)",
    )
    parser.add_argument("--no-http", action="store_true", help="do not serve HTTP")
    parser.add_argument("--no-nats", action="store_true", help="do not serve NATS")
    parser.add_argument(
        "--ready-file",
        type=Path,
        metavar="PATH",
        help="write a JSON description here once every transport is ready",
    )
    parser.set_defaults(func=run)


def _parse_hostport(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise ValueError(f"--http {value!r} is not HOST:PORT")
    return host.strip("[]") or "127.0.0.1", int(port)


def _import_file(path: Path) -> ModuleType:
    if not path.is_file():
        raise AppLoadError(f"app file {str(path)!r} not found")
    name = f"_natsgate_app_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise AppLoadError(f"app file {str(path)!r} cannot be imported")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def load_app(spec: str) -> Service:
    """The :class:`Service` named by ``MODULE:ATTRIBUTE`` or ``FILE.py:ATTRIBUTE``."""
    target, sep, attribute = spec.rpartition(":")
    if not sep or not target or not attribute:
        raise AppLoadError(f"--app {spec!r} is not MODULE:ATTRIBUTE or FILE.py:ATTRIBUTE")
    try:
        if target.endswith(".py") or os.sep in target:
            module = _import_file(Path(target))
        else:
            if "" not in sys.path and os.getcwd() not in sys.path:
                sys.path.insert(0, os.getcwd())
            module = importlib.import_module(target)
    except AppLoadError:
        raise
    except ImportError as exc:
        raise AppLoadError(f"cannot import app module {target!r}: {exc}") from exc
    app = getattr(module, attribute, None)
    if app is None:
        raise AppLoadError(f"app module {target!r} has no attribute {attribute!r}")
    if not isinstance(app, Service):
        raise AppLoadError(f"{spec!r} is a {type(app).__name__}, not a natsgate Service")
    return app


def _write_ready_file(path: Path, server: ServiceServer) -> None:
    ready = {
        "pid": os.getpid(),
        "http": server.http_url,
        "nats": list(server.config.nats_urls) or None,
        "subject_prefix": server.service.subject_prefix,
        "queue_group": server.queue_group if server.config.nats_urls else None,
    }
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(json.dumps(ready) + "\n")
    os.replace(temporary, path)


async def _serve(server: ServiceServer, ready_file: Path | None) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await server.start()
    try:
        if ready_file is not None:
            _write_ready_file(ready_file, server)
        await stop.wait()
    finally:
        await server.stop()


def run(args: argparse.Namespace) -> int:
    """Entry point of ``natsgate service``: 0 after a graceful stop, 2 on bad arguments."""
    try:
        service = load_app(args.app)
        http = None if args.no_http else _parse_hostport(args.http)
        nats_urls = () if args.no_nats else tuple(args.nats_urls or [DEFAULT_NATS_URL])
        config = ServeConfig(
            http=http,
            nats_urls=nats_urls,
            queue_group=args.queue_group,
            max_in_flight=args.max_in_flight,
            stop_timeout=args.stop_timeout,
        )
    except (AppLoadError, ValueError) as exc:
        print(f"natsgate service: error: {exc}", file=sys.stderr)
        return 2

    server = ServiceServer(service, config)
    try:
        with asyncio.Runner(loop_factory=eventloop.loop_factory()) as runner:
            runner.run(_serve(server, args.ready_file))
    except (ConnectionError, OSError) as exc:
        print(f"natsgate service: error: {exc}", file=sys.stderr)
        return 1
    return 0
