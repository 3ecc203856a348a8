"""``natsgate report``: rebuild a run's report, or compare two saved runs.

::

    natsgate report DIR               DIR/report.json -> DIR/report.md, DIR/report.html
    natsgate report A B [--out DIR]   A, B -> DIR/compare.md, DIR/compare.html (DIR: B)
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

from natsgate.report.compare import write_comparison
from natsgate.report.files import ReportError, load_report, write_reports

__all__ = ["add_parser", "run"]

logger = logging.getLogger("natsgate.report")


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "report",
        help="rebuild report.md and report.html from a saved run, or compare two runs",
        description=(
            "With one run directory (or report.json), rebuild its report.md and report.html. "
            "With two, write compare.md and compare.html: B's figures against A's."
        ),
    )
    parser.add_argument(
        "runs", nargs="+", type=Path, metavar="RUN", help="a run directory or its report.json"
    )
    parser.add_argument(
        "--out", type=Path, default=None, help="where a comparison goes (default: the second run)"
    )
    parser.set_defaults(func=run)
    return parser


def _directory_of(path: Path) -> Path:
    return path if path.is_dir() else path.parent


def run(args: argparse.Namespace) -> int:
    runs: list[Path] = args.runs
    if len(runs) > 2:
        print("natsgate report: give one run to rebuild or two to compare", file=sys.stderr)
        return 2
    try:
        reports = [load_report(path) for path in runs]
    except ReportError as exc:
        print(f"natsgate report: {exc}", file=sys.stderr)
        return 2
    if len(reports) == 1:
        written = write_reports(reports[0], args.out or _directory_of(runs[0]))
    else:
        out = args.out or _directory_of(runs[1])
        written = write_comparison(reports[0], reports[1], out, labels=(str(runs[0]), str(runs[1])))
    for path in written:
        print(path)
    return 0
