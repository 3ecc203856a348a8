"""The report's tables as plain data, rendered alike to Markdown and to HTML.

Each builder returns a :class:`Table` of :class:`Cell`; a cell marked ``alert``
is something a reader must not miss (errors, a saturated load generator) and is
shown bold (Markdown) or bold red (HTML).
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field

from natsgate.bench.schema import Percentiles, Report, Scenario, Sweep, SweepPoint, Trial
from natsgate.report import fmt, model

__all__ = [
    "Cell",
    "Table",
    "headline_notes",
    "headline_scenarios",
    "headline_table",
    "meta_value",
    "metadata_table",
    "process_table",
    "scenario_table",
    "sweep_table",
]

NOT_RUN = "not run"


@dataclass(frozen=True, slots=True)
class Cell:
    text: str
    alert: bool = False
    strong: bool = False


@dataclass(frozen=True, slots=True)
class Table:
    key: str  # stable id: "headline", "scenario-seed-parallel", ...
    caption: str
    header: list[str]
    rows: list[list[Cell]] = field(default_factory=list)


def _cells(*texts: str) -> list[Cell]:
    return [Cell(text) for text in texts]


# -- headline ---------------------------------------------------------------------------------


def headline_scenarios(report: Report) -> list[Scenario]:
    """The seed scenarios (those with published figures), else every scenario."""
    seeded = [s for s in report["scenarios"] if "published" in s]
    return seeded or list(report["scenarios"])


def headline_notes(report: Report) -> list[str]:
    """What each published figure stood for, as the original described it."""
    return [
        f"{s['name']}: {s['published']['note']}"
        for s in headline_scenarios(report)
        if "published" in s and s["published"]["note"]
    ]


def _ours(scenario: Scenario, transport: str) -> Cell:
    """Median rate, and the time all the scenario's iterations took (summed over trials),
    which is what the original's minutes measured."""
    rate = model.rate_figure(scenario, transport)
    walls = [t["wall_seconds"] for t in scenario["trials"] if t["transport"] == transport]
    if rate is None or not walls:
        return Cell(NOT_RUN)
    return Cell(f"{fmt.rate(rate['median'])} req/s, {fmt.seconds(sum(walls))} in all")


def _ratio_cell(scenario: Scenario, numerator: str, denominator: str) -> Cell:
    figure = model.ratio(scenario, numerator, denominator)
    if figure is None:
        return Cell(NOT_RUN)
    return Cell(fmt.ratio(figure.median, figure.ci_low, figure.ci_high), strong=True)


def _iterations(scenario: Scenario) -> str:
    if scenario.get("iterations"):
        return fmt.count(scenario["iterations"] or 0)
    ran = [t["iterations"] for t in scenario["trials"]]
    return f"~{fmt.count(statistics.median(ran))}" if ran else "-"


def headline_table(report: Report) -> Table:
    table = Table(
        key="headline",
        caption=(
            "Published figures of the original beside ours (req/s: median over trials; "
            "time: all the scenario's iterations, summed over its trials)"
        ),
        header=[
            "Scenario",
            "Original HTTP",
            "Original NATS",
            "Claimed NATS speed-up",
            "Our iterations",
            "Ours http-close",
            "Ours http",
            "Ours nats",
            "nats/http-close (original's setup)",
            "nats/http (keep-alive, fair)",
        ],
    )
    for scenario in headline_scenarios(report):
        published = scenario.get("published")
        original = (
            _cells(
                fmt.minutes(published["http_minutes"]),
                fmt.minutes(published["nats_minutes"]),
                f"{published['ratio']:.2g}x",
            )
            if published
            else _cells("-", "-", "-")
        )
        table.rows.append(
            [
                Cell(scenario["name"], strong=True),
                *original,
                Cell(_iterations(scenario)),
                *(_ours(scenario, t) for t in ("http-close", "http", "nats")),
                _ratio_cell(scenario, "nats", "http-close"),
                _ratio_cell(scenario, "nats", "http"),
            ]
        )
    return table


# -- per scenario -----------------------------------------------------------------------------


def _median_of(trials: Sequence[Trial], key: str) -> str:
    values = [float(t[key]) for t in trials]  # type: ignore[literal-required]
    return fmt.count(statistics.median(values)) if values else "-"


def _latency_rows(
    columns: list[list[Trial]], label: str, *, corrected: bool = False
) -> list[list[Cell]]:
    found: list[Percentiles | None] = [model.latency(c, corrected=corrected) for c in columns]
    rows = []
    for key, name in (("p50", "p50"), ("p90", "p90"), ("p99", "p99"), ("p99_9", "p99.9")):
        cells = [Cell(f"{label} {name}")]
        for percentiles in found:
            value = None if percentiles is None else percentiles[key]  # type: ignore[literal-required]
            shown = "n/a (<10k samples)" if value is None and percentiles else fmt.latency(value)
            cells.append(Cell(shown))
        rows.append(cells)
    rows.append([Cell(f"{label} max")] + [Cell(fmt.latency(p and p["max"])) for p in found])
    return rows


def _error_cell(trials: Sequence[Trial]) -> Cell:
    errors = model.error_counts(trials)
    requests = sum(t["requests"] for t in trials)
    if not errors:
        return Cell("0")
    share = sum(errors.values()) / requests * 100 if requests else 0.0
    return Cell(f"{fmt.error_counts(errors)} ({share:.2g}% of requests)", alert=True)


def _saturated_cell(trials: Sequence[Trial]) -> Cell:
    hit = sum(1 for t in trials if t.get("generator_saturated"))
    if not hit:
        return Cell("no")
    return Cell(
        f"YES in {hit} of {len(trials)} trials: figures capped by the generator", alert=True
    )


def _rate_cells(scenario: Scenario, names: list[str]) -> tuple[list[Cell], list[Cell]]:
    medians, spreads = [Cell("requests/s (median)")], [Cell("requests/s (min-max)")]
    for name in names:
        figure = model.rate_figure(scenario, name)
        medians.append(Cell(fmt.rate(figure["median"]) if figure else "-", strong=True))
        spreads.append(Cell(fmt.spread(figure["min"], figure["max"]) if figure else "-"))
    return medians, spreads


def scenario_table(scenario: Scenario) -> Table:
    """One column per transport, so the transports read side by side."""
    names = model.transports(scenario)
    columns = [model.trials_of(scenario, name) for name in names]
    table = Table(
        key=f"scenario-{scenario['name']}",
        caption=f"{scenario['name']}: figures per transport",
        header=["", *names],
    )
    table.rows.append([Cell("trials"), *(Cell(str(len(c))) for c in columns)])
    table.rows.append(
        [Cell("iterations per trial"), *(Cell(_median_of(c, "iterations")) for c in columns)]
    )
    table.rows.append(
        [Cell("requests per trial"), *(Cell(_median_of(c, "requests")) for c in columns)]
    )
    walls = [model.wall_figure(scenario, n) for n in names]
    table.rows.append(
        [Cell("wall time (median)"), *(Cell(fmt.seconds(w["median"]) if w else "-") for w in walls)]
    )
    table.rows.extend(_rate_cells(scenario, names))
    table.rows.extend(_latency_rows(columns, "latency"))
    if scenario["mode"] == "open":
        table.rows.extend(_latency_rows(columns, "corrected", corrected=True))
    table.rows.append([Cell("errors"), *(_error_cell(c) for c in columns)])
    table.rows.append(
        [Cell("bottleneck"), *(Cell(model.bottleneck(c) or "-", strong=True) for c in columns)]
    )
    table.rows.append([Cell("load generator saturated"), *(_saturated_cell(c) for c in columns)])
    return table


def process_table(scenario: Scenario) -> Table:
    """CPU (seconds, share of one core) and peak memory of each process, per transport."""
    names = model.transports(scenario)
    columns = [model.trials_of(scenario, name) for name in names]
    usages = [model.process_usage(c) for c in columns]
    bottlenecks = [model.bottleneck(c) for c in columns]
    table = Table(
        key=f"processes-{scenario['name']}",
        caption=f"{scenario['name']}: CPU and peak memory per process (median over trials)",
        header=["process", *names],
    )
    for process in model.processes_in(scenario["trials"]):
        row = [Cell(process)]
        for usage, top in zip(usages, bottlenecks, strict=True):
            found = usage.get(process)
            if found is None:
                row.append(Cell("-"))
                continue
            text = (
                f"{fmt.percent(found.cpu_percent_of_core)} of a core, "
                f"{found.cpu_seconds:.3g} s CPU, {fmt.memory(found.peak_rss_bytes)}"
            )
            row.append(
                Cell(text + (" (bottleneck)" if top == process else ""), strong=top == process)
            )
        table.rows.append(row)
    return table


# -- sweeps and metadata ----------------------------------------------------------------------


def _sweep_cell(point: SweepPoint | None) -> Cell:
    if point is None:
        return Cell("-")
    text = (
        f"{fmt.rate(point['requests_per_second'])} req/s, p50 {fmt.latency(point['p50_us'])}, "
        f"p99 {fmt.latency(point['p99_us'])}"
    )
    if point["errors"]:
        return Cell(f"{text}, {fmt.count(point['errors'])} errors", alert=True)
    return Cell(text)


def sweep_table(sweep: Sweep) -> Table:
    names = model.sort_transports(p["transport"] for p in sweep["points"])
    xs = sorted({p["x"] for p in sweep["points"]})
    label = {"concurrency": "concurrency", "instances": "service instances"}.get(
        sweep["kind"], "target req/s"
    )
    table = Table(
        key=f"sweep-{sweep['name']}",
        caption=f"Sweep {sweep['name']}: throughput and latency by {label}",
        header=[label, *names],
    )
    for x in xs:
        found: dict[str, SweepPoint] = {p["transport"]: p for p in sweep["points"] if p["x"] == x}
        table.rows.append([Cell(f"{x:g}"), *(_sweep_cell(found.get(n)) for n in names)])
    return table


def meta_value(key: str, value: object) -> str:
    """A metadata value for reading: memory in MiB/GiB, lists joined."""
    if key.endswith("_bytes") and isinstance(value, int | float):
        return fmt.memory(value)
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return str(value)


def _pairs(prefix: str, values: dict[str, object]) -> list[list[Cell]]:
    return [_cells(f"{prefix}{key}", meta_value(key, value)) for key, value in values.items()]


def metadata_table(report: Report) -> Table:
    meta = report["meta"]
    table = Table(key="metadata", caption="How this run was made", header=["what", "value"])
    table.rows.append(_cells("schema", report["schema"]))
    table.rows.append(_cells("started (UTC)", meta["started"]))
    table.rows.append(_cells("finished (UTC)", meta["finished"]))
    table.rows.append(_cells("duration", fmt.seconds(meta["duration_seconds"])))
    table.rows.append(_cells("git revision", meta["git_revision"] or "unknown"))
    table.rows.append(_cells("command", " ".join(meta["command"])))
    table.rows.extend(_pairs("setting: ", meta["settings"]))
    table.rows.extend(_pairs("version: ", dict(meta["versions"])))
    table.rows.extend(_pairs("machine: ", meta["machine"]))
    return table
