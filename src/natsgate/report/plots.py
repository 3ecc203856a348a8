"""The HTML report's plots: throughput, latency spectrum, timelines, CPU, ratios, sweeps.

Each function returns a :class:`~natsgate.report.figures.Plot` (markup plus caption)
or None when the report lacks the data, so any subset of transports, one round
or no sweeps gives the plots that make sense and no empty ones::

    scenario_plots(scenario)  throughput, latency spectrum, timeline, cpu
    report_plots(report)      ratios: measured against the claim
    sweep_plots(sweeps)       throughput vs concurrency, latency vs rate
    comparison_plots(a, b)    requests/s of two runs
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from matplotlib.axes import Axes
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, NullFormatter

from natsgate.bench.schema import Report, Scenario, Sweep
from natsgate.report import model
from natsgate.report.figures import (
    Margins,
    Plot,
    color_of,
    new_figure,
    process_color,
    style,
    svg_markup,
)
from natsgate.report.spectrum import latency_plot, timeline_plot

__all__ = ["Plot", "comparison_plots", "report_plots", "scenario_plots", "sweep_plots"]


def _bar_labels(axes: Axes, names: Sequence[str], rotate: bool = False) -> None:
    axes.set_xticks(range(len(names)), list(names), rotation=20 if rotate else 0)
    axes.grid(axis="x", visible=False)


def throughput_plot(scenario: Scenario) -> Plot | None:
    """Median requests/s per transport as bars, every trial as a dot, min-max as a line."""
    names = [n for n in model.transports(scenario) if model.rate_figure(scenario, n)]
    if not names:
        return None
    figure = new_figure(6.0, 3.0, Margins(bottom=0.75 if len(names) > 3 else 0.45))
    axes = figure.subplots()
    for index, name in enumerate(names):
        rate = model.rate_figure(scenario, name)
        assert rate is not None  # filtered above
        axes.bar(index, rate["median"], color=color_of(name), width=0.6, alpha=0.85)
        axes.vlines(index, rate["min"], rate["max"], color="black", linewidth=1.2)
        axes.scatter([index] * len(rate["values"]), rate["values"], color="black", s=10, zorder=3)
        axes.annotate(
            f"{rate['median']:,.0f}",
            (index, max(rate["median"], rate["max"])),
            ha="center",
            va="bottom",
            xytext=(0, 3),
            textcoords="offset points",
            fontsize=8,
        )
    _bar_labels(axes, names, rotate=len(names) > 3)
    axes.set_ylabel("requests/s")
    axes.set_title(f"{scenario['name']}: throughput (median, trials as dots)")
    return Plot(
        "throughput",
        f"{scenario['name']}-throughput",
        f"{scenario['name']}: requests per second per transport; bar = median over "
        f"{_rounds(scenario)} trial(s), dots = each trial, line = min-max.",
        svg_markup(figure, f"{scenario['name']} throughput"),
    )


def _rounds(scenario: Scenario) -> int:
    return len({t["round"] for t in scenario["trials"]})


def cpu_plot(scenario: Scenario) -> Plot | None:
    """CPU of each process per transport (grouped bars, % of one core)."""
    names = model.transports(scenario)
    processes = model.processes_in(scenario["trials"])
    if not names or not processes:
        return None
    rotate = len(names) > 3
    figure = new_figure(6.0, 3.0, Margins(bottom=1.0 if rotate else 0.7))
    axes = figure.subplots()
    width = 0.8 / len(processes)
    for offset, process in enumerate(processes):
        heights = []
        for name in names:
            usage = model.process_usage(model.trials_of(scenario, name)).get(process)
            heights.append(usage.cpu_percent_of_core if usage else 0.0)
        positions = [i - 0.4 + width * (offset + 0.5) for i in range(len(names))]
        axes.bar(positions, heights, width=width, color=process_color(process), label=process)
    axes.axhline(100, color="#b00020", linewidth=0.8, linestyle="--")
    axes.annotate(
        "one core", (len(names) - 0.5, 100), ha="right", va="bottom", fontsize=7, color="#b00020"
    )
    _bar_labels(axes, names, rotate=rotate)
    axes.set_ylabel("% of one core (median)")
    axes.set_title(f"{scenario['name']}: CPU per process")
    figure.legend(ncols=len(processes), loc="lower center")
    return Plot(
        "cpu",
        f"{scenario['name']}-cpu",
        f"{scenario['name']}: CPU of each process per transport (median over trials); "
        "the tallest bar is the bottleneck.",
        svg_markup(figure, f"{scenario['name']} CPU per process"),
    )


def scenario_plots(scenario: Scenario) -> list[Plot]:
    with style():
        found = [
            throughput_plot(scenario),
            latency_plot(scenario),
            cpu_plot(scenario),
            timeline_plot(scenario),
        ]
    return [plot for plot in found if plot is not None]


@dataclass(frozen=True, slots=True)
class _RatioRow:
    scenario: str
    fair: model.RatioFigure | None  # nats/http
    close: model.RatioFigure | None  # nats/http-close
    claim: float | None


def _ratio_rows(report: Report) -> list[_RatioRow]:
    rows = []
    for scenario in report["scenarios"]:
        published = scenario.get("published")
        row = _RatioRow(
            scenario["name"],
            model.ratio(scenario, "nats", "http"),
            model.ratio(scenario, "nats", "http-close"),
            published["ratio"] if published else None,
        )
        closed = scenario["mode"] == "closed"  # an open loop's rate is the target, not a result
        if row.claim or (closed and (row.fair or row.close)):
            rows.append(row)
    return rows


def _draw_ratio(
    axes: Axes, y: float, figure: model.RatioFigure, transport: str, label: str | None
) -> None:
    low = figure.median if figure.ci_low is None else figure.ci_low
    high = figure.median if figure.ci_high is None else figure.ci_high
    axes.errorbar(
        [figure.median],
        [y],
        xerr=[[figure.median - low], [high - figure.median]],
        fmt="o",
        color=color_of(transport),
        capsize=3,
        label=label,
    )


def ratio_plot(report: Report) -> Plot | None:
    """nats/http and nats/http-close with their intervals, beside the claimed ratio."""
    rows = _ratio_rows(report)
    if not rows:
        return None
    figure = new_figure(7.0, 1.1 + 0.5 * len(rows))
    axes = figure.subplots()
    labelled: set[str] = set()
    for index, row in enumerate(rows):
        for found, transport, label, shift in (
            (row.fair, "http", "nats/http (keep-alive)", -0.15),
            (row.close, "http-close", "nats/http-close (original's setup)", 0.15),
        ):
            if found is not None:
                _draw_ratio(
                    axes, index + shift, found, transport, None if label in labelled else label
                )
                labelled.add(label)
    claims = [(index, row.claim) for index, row in enumerate(rows) if row.claim is not None]
    if claims:
        axes.scatter(
            [c[1] for c in claims],
            [c[0] for c in claims],
            marker="x",
            s=50,
            color="black",
            label="claimed by the original",
            zorder=3,
        )
    axes.axvline(1.0, color="#888888", linewidth=0.8)
    axes.set_xscale("log")
    axes.set_yticks(range(len(rows)), [row.scenario for row in rows])
    axes.set_ylim(len(rows) - 0.5, -0.5)
    axes.set_xlabel("NATS requests/s over HTTP requests/s (log; >1: NATS faster)")
    axes.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return Plot(
        "ratios",
        "ratios",
        "How much faster NATS was: claimed by the original (x), measured against the "
        "original's no-keep-alive HTTP and against keep-alive HTTP (dots, 95% bootstrap CI).",
        svg_markup(figure, "ratios nats over http"),
    )


def report_plots(report: Report) -> list[Plot]:
    with style():
        found = ratio_plot(report)
    return [found] if found else []


_SWEEP_AXES = {
    "concurrency": "concurrency (flows in flight)",
    "instances": "service instances",
}


def _sweep_plot(sweep: Sweep) -> Plot | None:
    names = model.sort_transports(p["transport"] for p in sweep["points"])
    if not names:
        return None
    concurrency = sweep["kind"] in ("concurrency", "instances")
    figure = new_figure(6.0, 3.0, Margins())
    axes = figure.subplots()
    for name in names:
        points = sorted(
            (p for p in sweep["points"] if p["transport"] == name), key=lambda p: p["x"]
        )
        xs = [p["x"] for p in points]
        if concurrency:
            axes.plot(
                xs,
                [p["requests_per_second"] for p in points],
                "o-",
                color=color_of(name),
                label=name,
            )
        else:
            axes.plot(
                xs,
                [p["p99_us"] / 1000 for p in points],
                "o-",
                color=color_of(name),
                label=f"{name} p99",
            )
            axes.plot(
                xs,
                [p["p50_us"] / 1000 for p in points],
                "o--",
                color=color_of(name),
                alpha=0.6,
                label=f"{name} p50",
            )
    axes.set_xscale("log")
    axes.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    axes.xaxis.set_minor_formatter(NullFormatter())
    if concurrency:
        axes.set_xlabel(_SWEEP_AXES[sweep["kind"]])
        axes.set_ylabel("requests/s")
        title = f"throughput vs {sweep['kind']}"
    else:
        axes.set_yscale("log")
        axes.set_xlabel("target requests/s")
        axes.set_ylabel("latency (ms, log)")
        title = "latency vs offered rate"
    axes.set_title(f"Sweep {sweep['name']}: {title}")
    axes.legend()
    return Plot(
        f"sweep-{sweep['kind']}",
        f"sweep-{sweep['name']}",
        f"Sweep {sweep['name']}: {title}, one line per transport.",
        svg_markup(figure, f"sweep {sweep['name']}"),
    )


def sweep_plots(sweeps: Sequence[Sweep]) -> list[Plot]:
    with style():
        found = [_sweep_plot(s) for s in sweeps]
    return [plot for plot in found if plot is not None]


def comparison_plots(a: Report, b: Report, labels: tuple[str, str]) -> list[Plot]:
    """Median requests/s of A and B for every scenario and transport both ran."""
    pairs = []
    for old in a["scenarios"]:
        new = next((s for s in b["scenarios"] if s["name"] == old["name"]), None)
        if new is None:
            continue
        for name in model.transports(old):
            top, bottom = model.rate_figure(new, name), model.rate_figure(old, name)
            if top and bottom:
                pairs.append((f"{old['name']}\n{name}", bottom["median"], top["median"], name))
    if not pairs:
        return []
    with style():
        figure = new_figure(max(6.0, 0.55 * len(pairs)), 3.4)
        axes = figure.subplots()
        xs = range(len(pairs))
        axes.bar(
            [x - 0.2 for x in xs],
            [p[1] for p in pairs],
            width=0.4,
            color="#bbbbbb",
            label=f"A: {labels[0]}",
        )
        axes.bar(
            [x + 0.2 for x in xs],
            [p[2] for p in pairs],
            width=0.4,
            color=[color_of(p[3]) for p in pairs],
            label=f"B: {labels[1]}",
        )
        axes.set_xticks(list(xs), [p[0] for p in pairs], rotation=60, fontsize=7)
        axes.set_ylabel("requests/s (median)")
        axes.set_title("Throughput: A (grey) against B (colour)")
        axes.legend(
            handles=[
                Patch(color="#bbbbbb", label=f"A: {labels[0]}"),
                Patch(color="#444444", label=f"B: {labels[1]} (transport colour)"),
            ]
        )
        markup = svg_markup(figure, "throughput of A and B")
    return [
        Plot(
            "compare-throughput",
            "compare-throughput",
            "Median requests/s per scenario and transport, A beside B.",
            markup,
        )
    ]
