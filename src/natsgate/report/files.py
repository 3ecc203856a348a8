"""Reading a saved ``report.json`` and writing the renderings beside it."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, cast

from natsgate.bench.schema import Report
from natsgate.report.html import render_html
from natsgate.report.markdown import render_markdown

__all__ = ["REPORT_JSON", "ReportError", "load_report", "write_reports"]

logger = logging.getLogger("natsgate.report")

REPORT_JSON = "report.json"
SCHEMA_PREFIX = "natsgate-report/"
_TOP_LEVEL: dict[str, type] = {"schema": str, "meta": dict, "scenarios": list}
_SCENARIO: dict[str, type] = {"name": str, "mode": str, "trials": list, "flow": list}
_TRIAL: dict[str, type] = {
    "transport": str,
    "round": int,
    "requests": int,
    "errors": dict,
    "processes": dict,
}


class ReportError(Exception):
    """A report.json that is missing, unreadable or not of our schema."""


def _check(found: dict[str, Any], expected: dict[str, type], where: str) -> None:
    for key, kind in expected.items():
        if not isinstance(found.get(key), kind):
            raise ReportError(f"{where}: field {key!r} missing or not a {kind.__name__}")


def _validate(data: object, source: Path) -> Report:
    """Check the shape the renderers rely on (not every field: the bench owns the rest)."""
    if not isinstance(data, dict):
        raise ReportError(f"{source}: not a JSON object")
    _check(data, _TOP_LEVEL, str(source))
    if not data["schema"].startswith(SCHEMA_PREFIX):
        raise ReportError(f"{source}: schema {data['schema']!r} is not a natsgate report")
    data.setdefault("sweeps", [])
    for index, scenario in enumerate(data["scenarios"]):
        where = f"{source}: scenarios[{index}]"
        if not isinstance(scenario, dict):
            raise ReportError(f"{where}: not an object")
        _check(scenario, _SCENARIO, where)
        for number, trial in enumerate(scenario["trials"]):
            if not isinstance(trial, dict):
                raise ReportError(f"{where}.trials[{number}]: not an object")
            _check(trial, _TRIAL, f"{where}.trials[{number}]")
    return cast(Report, data)


def load_report(path: Path) -> Report:
    """A report from ``path``: a run directory or a ``report.json`` file."""
    source = path / REPORT_JSON if path.is_dir() else path
    try:
        text = source.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ReportError(f"{source}: no such file") from None
    except OSError as exc:
        raise ReportError(f"{source}: cannot read ({exc.strerror})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ReportError(f"{source}: invalid JSON ({exc})") from None
    return _validate(data, source)


def write_reports(report: Report, out_dir: Path) -> list[Path]:
    """Write ``report.md`` and ``report.html`` into ``out_dir``; return their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, render in (("report.md", render_markdown), ("report.html", render_html)):
        target = out_dir / name
        target.write_text(render(report), encoding="utf-8")
        logger.info("wrote %s", target)
        written.append(target)
    return written
