"""Latency plots from the raw data: the HDR percentile spectrum and per-second timelines.

The spectrum merges every trial's histogram per transport (lossless) and plots
latency against ``1/(1-p)`` on a log axis, so p50 ... p99.99 get equal room;
open-loop scenarios show the corrected latency (from the intended send time)
dashed beside the uncorrected. A percentile finer than the sample count can
resolve is not drawn.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.axes import Axes

from natsgate.bench.schema import Scenario, TimelinePoint, Trial
from natsgate.report import model
from natsgate.report.figures import (
    Margins,
    Plot,
    color_of,
    new_figure,
    png_markup,
    svg_markup,
)

__all__ = ["downsample", "latency_plot", "spectrum", "timeline_plot"]

TICKS = {2.0: "p50", 10.0: "p90", 100.0: "p99", 1000.0: "p99.9", 10000.0: "p99.99"}
MAX_TIMELINE_POINTS = 120


def spectrum(trials: Sequence[Trial], *, corrected: bool = False) -> list[tuple[float, float]]:
    """(1/(1-p), latency in ms) from p50 to p99.99, as far as the samples resolve."""
    histogram = model.merged_histogram(trials, corrected=corrected)
    if histogram is None or histogram.get_total_count() == 0:
        return []
    count = histogram.get_total_count()
    xs = [float(x) for x in np.logspace(np.log10(2.0), 4.0, 60) if x <= count]
    percentiles = [100.0 * (1.0 - 1.0 / x) for x in xs]
    values = histogram.get_percentile_to_value_dict(percentiles)  # one pass over the counts
    return [(x, values[p] / 1000.0) for x, p in zip(xs, percentiles, strict=True)]


def _draw_spectrum(axes: Axes, scenario: Scenario, name: str, corrected: bool) -> bool:
    points = spectrum(model.trials_of(scenario, name), corrected=corrected)
    if not points:
        return False
    label = f"{name} corrected" if corrected else name
    axes.plot(
        [p[0] for p in points],
        [p[1] for p in points],
        linestyle="--" if corrected else "-",
        color=color_of(name),
        label=label,
    )
    return True


def latency_plot(scenario: Scenario) -> Plot | None:
    open_loop = scenario["mode"] == "open"
    figure = new_figure(6.0, 3.0, Margins(right=0.35))
    axes = figure.subplots()
    drawn = False
    for name in model.transports(scenario):
        drawn |= _draw_spectrum(axes, scenario, name, corrected=False)
        if open_loop:
            drawn |= _draw_spectrum(axes, scenario, name, corrected=True)
    if not drawn:
        return None
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xticks(list(TICKS), list(TICKS.values()))
    axes.minorticks_off()
    axes.set_xlim(2.0, 10000.0)
    axes.set_ylabel("latency (ms, log)")
    axes.set_title(f"{scenario['name']}: latency by percentile (all trials merged)")
    axes.legend(loc="upper left")
    extra = " Dashed: corrected for coordinated omission." if open_loop else ""
    return Plot(
        "latency",
        f"{scenario['name']}-latency",
        f"{scenario['name']}: latency percentile spectrum per transport, from the merged "
        f"HDR histograms of every trial.{extra}",
        svg_markup(figure, f"{scenario['name']} latency spectrum"),
    )


def _spans(points: Sequence[TimelinePoint], wall_seconds: float) -> list[float]:
    """How long each point covers: up to the next point; the last one up to the trial's end."""
    starts = [p["t"] for p in points]
    ends = [*starts[1:], wall_seconds]
    spans = [end - start for start, end in zip(starts, ends, strict=True)]
    return [span if 0.05 <= span <= 1.0 else 1.0 for span in spans]


def downsample(
    points: Sequence[TimelinePoint], wall_seconds: float, limit: int = MAX_TIMELINE_POINTS
) -> list[tuple[float, float, float | None, float]]:
    """(t, requests/s, p99 ms, errors/s), averaged over buckets to at most ``limit`` points.

    A point covers the second from its ``t``; the last one ends with the trial, so a
    partial second is not read as a drop in rate.
    """
    rows = []
    for point, span in zip(points, _spans(points, wall_seconds), strict=True):
        p99 = point["p99_us"] / 1000.0 if point["p99_us"] is not None else None
        rows.append((point["t"], point["requests"] / span, p99, point["errors"] / span))
    size = max(1, -(-len(rows) // limit))
    merged = []
    for start in range(0, len(rows), size):
        chunk = rows[start : start + size]
        p99s = [r[2] for r in chunk if r[2] is not None]
        merged.append(
            (
                chunk[0][0],
                sum(r[1] for r in chunk) / len(chunk),
                max(p99s) if p99s else None,
                sum(r[3] for r in chunk) / len(chunk),
            )
        )
    return merged


def _draw_timeline(rows: Sequence[Axes], trial: Trial, labelled: set[str]) -> None:
    points = downsample(trial["timeline"], trial["wall_seconds"])
    if not points:
        return
    name = trial["transport"]
    label = None if name in labelled else name
    labelled.add(name)
    ts = [p[0] for p in points]
    style = {"color": color_of(name), "linewidth": 1.0, "alpha": 0.8, "marker": "o"}
    style["markersize"] = 3.0 if len(points) < 10 else 0.0
    rows[0].plot(ts, [p[1] for p in points], label=label, **style)  # type: ignore[arg-type]
    rows[1].plot(ts, [np.nan if p[2] is None else p[2] for p in points], **style)  # type: ignore[arg-type]
    rows[2].plot(ts, [p[3] for p in points], **style)  # type: ignore[arg-type]


def timeline_plot(scenario: Scenario) -> Plot | None:
    """Small multiples: requests/s, p99 and errors/s over time, one line per trial."""
    trials = [t for t in scenario["trials"] if t["timeline"]]
    if not trials:
        return None
    figure = new_figure(6.0, 4.2, Margins(bottom=0.75))
    rows = figure.subplots(3, 1, sharex=True)
    labelled: set[str] = set()
    for trial in trials:
        _draw_timeline(rows, trial, labelled)
    for axes, label in zip(rows, ("requests/s", "p99 (ms)", "errors/s"), strict=True):
        axes.set_ylabel(label)
        axes.set_ylim(bottom=0)
    rows[2].set_xlabel("seconds into the trial")
    rows[0].set_title(f"{scenario['name']}: per-second timeline of every trial")
    figure.legend(ncols=5, loc="lower center", fontsize=7)
    return Plot(
        "timeline",
        f"{scenario['name']}-timeline",
        f"{scenario['name']}: requests/s, p99 latency and errors/s per second, one line per "
        f"trial ({len(trials)} trials), coloured by transport.",
        png_markup(figure, f"{scenario['name']} timeline"),
    )
