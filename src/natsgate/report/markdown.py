"""``report.md``: the whole report as GitHub-flavoured Markdown.

Order: title, what was run, errors and warnings in bold, the headline table
(the original's figures beside ours), the factors that explain the gap, one
section per scenario, the sweeps, and how the run was made.
"""

from __future__ import annotations

from natsgate.bench.schema import Report
from natsgate.report import story, tables
from natsgate.report.failover import failover_table
from natsgate.report.tables import Cell, Table

__all__ = ["markdown_table", "render_markdown"]

TITLE = "natsgate benchmark: HTTP or NATS between services"


def _cell(cell: Cell) -> str:
    text = cell.text.replace("|", "\\|").replace("\n", " ")
    return f"**{text}**" if (cell.alert or cell.strong) and text else text


def markdown_table(table: Table) -> str:
    """A caption line and a pipe table."""
    lines = [f"*{table.caption}*", ""]
    lines.append("| " + " | ".join(_cell(Cell(h)) for h in table.header) + " |")
    lines.append("|" + "|".join("---" for _ in table.header) + "|")
    lines.extend("| " + " | ".join(_cell(c) for c in row) + " |" for row in table.rows)
    return "\n".join(lines)


def _problems(report: Report) -> list[str]:
    lines = [f"**{line}**" for line in story.error_lines(report)]
    lines += [f"**Warning: {line}**" for line in story.warning_lines(report)]
    return ["\n\n".join(lines)] if lines else []


def _factors(report: Report) -> list[str]:
    parts = ["## Why: the factors measured"]
    found = story.factors(report)
    if not found:
        parts.append("This run has no pair of transports to compare.")
    for factor in found:
        parts.append(f"### {factor.title}")
        parts.append("\n".join(f"- {line}" for line in factor.lines))
    return parts


def _flows(concurrency: int) -> str:
    return "1 flow" if concurrency == 1 else f"{concurrency:,} flows"


def _scenarios(report: Report) -> list[str]:
    parts = []
    for scenario in report["scenarios"]:
        parts.append(f"## Scenario {scenario['name']}: {scenario['title']}")
        flow = ", ".join(f"{s['method']} {s['path']}" for s in scenario["flow"])
        load = (
            f"open loop at {scenario['rate']:g} requests/s"
            if scenario["mode"] == "open" and scenario["rate"]
            else f"closed loop, {_flows(scenario['concurrency'])} in flight"
        )
        parts.append(f"{scenario['description']} ({load}; flow: {flow}.)")
        parts.append(markdown_table(tables.scenario_table(scenario)))
        parts.append(markdown_table(tables.process_table(scenario)))
    return parts


def _sweeps(report: Report) -> list[str]:
    if not report["sweeps"]:
        return []
    return ["## Sweeps", *(markdown_table(tables.sweep_table(s)) for s in report["sweeps"])]


def _failover(report: Report) -> list[str]:
    table = failover_table(report)
    return [] if table is None else ["## Failover under load", markdown_table(table)]


def render_markdown(report: Report) -> str:
    parts = [f"# {TITLE}", story.intro(report), *_problems(report)]
    parts += ["## Headline", markdown_table(tables.headline_table(report))]
    notes = tables.headline_notes(report)
    if notes:
        parts.append("Published figures: " + "; ".join(notes) + ".")
    parts += _factors(report)
    parts += _scenarios(report)
    parts += _sweeps(report)
    parts += _failover(report)
    parts += ["## Metadata", markdown_table(tables.metadata_table(report))]
    return "\n\n".join(parts) + "\n"
