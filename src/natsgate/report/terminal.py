"""The summary table the bench prints to the terminal when a run ends."""

from __future__ import annotations

from rich.table import Table

from natsgate.bench.schema import Report, Scenario
from natsgate.report import fmt, model

__all__ = ["summary_table"]

RATIOS = (("nats", "http"), ("nats", "http-close"))


def _transport_row(scenario: Scenario, transport: str) -> list[str]:
    trials = model.trials_of(scenario, transport)
    rate = model.rate_figure(scenario, transport)
    found = model.latency(trials)
    errors = model.error_counts(trials)
    return [
        transport,
        fmt.rate(rate["median"]) if rate else "-",
        fmt.spread(rate["min"], rate["max"]) if rate else "-",
        fmt.latency(found["p50"] if found else None),
        fmt.latency(found["p99"] if found else None),
        f"[bold red]{fmt.error_counts(errors)}[/]" if errors else "0",
    ]


def _ratio_rows(scenario: Scenario) -> list[list[str]]:
    """``nats/http  1.70x  1.48-1.82``: one row per ratio the scenario has."""
    rows = []
    for numerator, denominator in RATIOS:
        figure = model.ratio(scenario, numerator, denominator)
        if figure is None:
            continue
        has_interval = figure.ci_low is not None and figure.ci_high is not None
        interval = f"{figure.ci_low:.2f}-{figure.ci_high:.2f}" if has_interval else ""
        rows.append([f"  {numerator}/{denominator}", f"[bold]{figure.median:.2f}x[/]", interval])
    return rows


def summary_table(report: Report) -> Table:
    """Per scenario and transport: median requests/s and spread, p50, p99, errors; ratios.

    A scenario is a heading row; the ratio rows show the median ratio of requests/s
    in the req/s column and its 95% interval in the spread column.
    """
    table = Table(title="natsgate bench: summary", title_justify="left")
    table.add_column("scenario / transport", no_wrap=True)
    table.add_column("req/s", justify="right", no_wrap=True)
    table.add_column("min-max | 95% CI", justify="right", no_wrap=True)
    table.add_column("p50", justify="right", no_wrap=True)
    table.add_column("p99", justify="right", no_wrap=True)
    table.add_column("errors", justify="right", min_width=6)
    for scenario in report["scenarios"]:
        table.add_row(f"[bold]{scenario['name']}[/]")
        for transport in model.transports(scenario):
            row = _transport_row(scenario, transport)
            table.add_row(f"  {row[0]}", *row[1:])
        for row in _ratio_rows(scenario):
            table.add_row(*row, style="italic")
        table.add_section()
    return table
