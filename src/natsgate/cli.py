"""The ``natsgate`` command line: one command, one subcommand per part.

Each part owns its subcommand in a module of its own, exposing
``add_parser(subparsers)``; the parser it adds carries a ``func`` default that
takes the parsed arguments and returns the exit status.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

__all__ = ["main"]

# Subcommand modules, in the order ``natsgate --help`` lists them.
_SUBCOMMANDS = (
    "natsgate.bench.cli",
    "natsgate.gateway.cli",
    "natsgate.service.cli",
    "natsgate.load.cli",
    "natsgate.report.cli",
    "natsgate.natsserver",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="natsgate",
        description="HTTP or NATS between services: a gateway, a service runtime, a benchmark.",
    )
    parser.add_argument(
        "--log-level",
        default="INFO",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="log level for every subsystem (default: INFO)",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in _SUBCOMMANDS:
        importlib.import_module(name).add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    status: int = args.func(args)
    return status


if __name__ == "__main__":
    sys.exit(main())
