"""Two saved runs side by side: A's figures, B's, and B/A, per scenario and transport.

A scenario or transport that only one run has is listed with "-" for the other,
so a comparison of runs with different settings still shows everything.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from html import escape
from pathlib import Path

from natsgate.bench.schema import Report, Scenario
from natsgate.report import fmt, model, plots
from natsgate.report.html import html_page, html_table, plot_figure
from natsgate.report.markdown import markdown_table
from natsgate.report.tables import Cell, Table, meta_value

__all__ = [
    "comparison_tables",
    "render_comparison_html",
    "render_comparison_markdown",
    "write_comparison",
]

logger = logging.getLogger("natsgate.report")

TITLE = "natsgate benchmark: comparison of two runs"
Labels = tuple[str, str]
DEFAULT_LABELS: Labels = ("A", "B")


def _scenario_names(a: Report, b: Report) -> list[str]:
    names = [s["name"] for s in a["scenarios"]]
    return names + [s["name"] for s in b["scenarios"] if s["name"] not in names]


def _find(report: Report, name: str) -> Scenario | None:
    return next((s for s in report["scenarios"] if s["name"] == name), None)


def _change(old: float | None, new: float | None) -> Cell:
    if old is None or new is None or old <= 0:
        return Cell("-")
    return Cell(f"{new / old:.2f}x", strong=True)


def _figures(scenario: Scenario | None, transport: str) -> tuple[float | None, ...]:
    """Median requests/s, p50, p99 and the error count; None where the run lacks them."""
    if scenario is None or transport not in model.transports(scenario):
        return (None, None, None, None)
    rate = model.rate_figure(scenario, transport)
    trials = model.trials_of(scenario, transport)
    found = model.latency(trials)
    errors = float(sum(model.error_counts(trials).values()))
    return (
        rate["median"] if rate else None,
        found["p50"] if found else None,
        found["p99"] if found else None,
        errors,
    )


def _shown(value: float | None, kind: str) -> Cell:
    if value is None:
        return Cell("-")
    if kind == "errors":
        return Cell(fmt.count(value), alert=value > 0)
    return Cell(fmt.rate(value) if kind == "rate" else fmt.latency(value))


def scenario_comparison(name: str, a: Scenario | None, b: Scenario | None) -> Table:
    table = Table(
        key=f"compare-{name}",
        caption=f"{name}: A, B and B/A per transport (latency B/A <1: B is faster)",
        header=["transport"]
        + [f"{what} {run}" for what in ("req/s", "p50", "p99") for run in ("A", "B", "B/A")]
        + ["errors A", "errors B"],
    )
    present = [s for s in (a, b) if s is not None]
    names = model.sort_transports(t for s in present for t in model.transports(s))
    for transport in names:
        old, new = _figures(a, transport), _figures(b, transport)
        row = [Cell(transport, strong=True)]
        for index, kind in enumerate(("rate", "latency", "latency")):
            row += [_shown(old[index], kind), _shown(new[index], kind)]
            row.append(_change(old[index], new[index]))
        row += [_shown(old[3], "errors"), _shown(new[3], "errors")]
        table.rows.append(row)
    return table


def _ratio_text(scenario: Scenario | None, numerator: str, denominator: str) -> Cell:
    figure = None if scenario is None else model.ratio(scenario, numerator, denominator)
    if figure is None:
        return Cell("-")
    return Cell(fmt.ratio(figure.median, figure.ci_low, figure.ci_high))


def ratio_comparison(a: Report, b: Report) -> Table:
    table = Table(
        key="compare-ratios",
        caption="Ratios of median requests/s (>1: the first transport is faster)",
        header=["scenario", "ratio", "A", "B"],
    )
    for name in _scenario_names(a, b):
        old, new = _find(a, name), _find(b, name)
        for numerator, denominator in (("nats", "http"), ("nats", "http-close")):
            table.rows.append(
                [
                    Cell(name, strong=True),
                    Cell(f"{numerator}/{denominator}"),
                    _ratio_text(old, numerator, denominator),
                    _ratio_text(new, numerator, denominator),
                ]
            )
    return table


def _meta_rows(a: Report, b: Report) -> list[list[Cell]]:
    rows = []
    for key in ("started", "git_revision"):
        rows.append([Cell(key), Cell(str(a["meta"][key])), Cell(str(b["meta"][key]))])  # type: ignore[literal-required]
    rows.append(
        [
            Cell("command"),
            Cell(" ".join(a["meta"]["command"])),
            Cell(" ".join(b["meta"]["command"])),
        ]
    )
    for group in ("settings", "versions", "machine"):
        old: dict[str, object] = dict(a["meta"][group])  # type: ignore[literal-required]
        new: dict[str, object] = dict(b["meta"][group])  # type: ignore[literal-required]
        for key in sorted(set(old) | set(new)):
            left = meta_value(key, old[key]) if key in old else "-"
            right = meta_value(key, new[key]) if key in new else "-"
            rows.append([Cell(f"{group}: {key}"), Cell(left), Cell(right, strong=left != right)])
    return rows


def runs_table(a: Report, b: Report, labels: Labels) -> Table:
    return Table(
        key="compare-runs",
        caption="The two runs (a value that differs is bold)",
        header=["", f"A: {labels[0]}", f"B: {labels[1]}"],
        rows=_meta_rows(a, b),
    )


def comparison_tables(a: Report, b: Report, labels: Labels = DEFAULT_LABELS) -> list[Table]:
    """Ratios first, then each scenario, then how the two runs were made."""
    found = [ratio_comparison(a, b)]
    for name in _scenario_names(a, b):
        found.append(scenario_comparison(name, _find(a, name), _find(b, name)))
    return [*found, runs_table(a, b, labels)]


def _errors(a: Report, b: Report) -> list[str]:
    notes = [("A", n) for n in model.error_notes(a)] + [("B", n) for n in model.error_notes(b)]
    return [
        f"Errors in {run}: {fmt.count(sum(n.errors.values()))} failed requests in "
        f"{n.scenario} over {n.transport} ({fmt.error_counts(n.errors)})."
        for run, n in notes
    ]


def render_comparison_markdown(a: Report, b: Report, labels: Labels = DEFAULT_LABELS) -> str:
    parts = [
        f"# {TITLE}",
        f"A is `{labels[0]}`, B is `{labels[1]}`; B/A above 1 means B is higher.",
    ]
    parts += [f"**{line}**" for line in _errors(a, b)]
    parts += [markdown_table(t) for t in comparison_tables(a, b, labels)]
    return "\n\n".join(parts) + "\n"


def render_comparison_html(a: Report, b: Report, labels: Labels = DEFAULT_LABELS) -> str:
    errors = "".join(f"<p>{escape(line)}</p>" for line in _errors(a, b))
    body = [
        f"<header><h1>{escape(TITLE)}</h1><p>A is <code>{escape(labels[0])}</code>, B is "
        f"<code>{escape(labels[1])}</code>; B/A above 1 means B is higher.</p></header>",
        f'<div class="problems" id="errors">{errors}</div>' if errors else "",
        '<div class="plots">',
        *(plot_figure(p) for p in plots.comparison_plots(a, b, labels)),
        "</div>",
        *(html_table(t) for t in comparison_tables(a, b, labels)),
    ]
    return html_page(TITLE, "\n".join(part for part in body if part))


def write_comparison(
    a: Report, b: Report, out_dir: Path, labels: Sequence[str] = DEFAULT_LABELS
) -> list[Path]:
    """Write ``compare.md`` and ``compare.html`` into ``out_dir``; return their paths."""
    pair: Labels = (labels[0], labels[1])
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in (
        ("compare.md", render_comparison_markdown(a, b, pair)),
        ("compare.html", render_comparison_html(a, b, pair)),
    ):
        target = out_dir / name
        target.write_text(text, encoding="utf-8")
        logger.info("wrote %s", target)
        written.append(target)
    return written
