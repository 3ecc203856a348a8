"""Plots for the HTML report (filled in below)."""

from __future__ import annotations

from dataclasses import dataclass

from natsgate.bench.schema import Report, Scenario, Sweep

__all__ = ["Plot", "report_plots", "scenario_plots", "sweep_plots"]


@dataclass(frozen=True, slots=True)
class Plot:
    key: str  # data-plot attribute: "throughput", "latency", ...
    id: str  # unique in the page: "seed-parallel-latency"
    caption: str
    markup: str  # inline <svg> or <img src="data:...">


def scenario_plots(scenario: Scenario) -> list[Plot]:
    return []


def report_plots(report: Report) -> list[Plot]:
    return []


def sweep_plots(sweeps: list[Sweep]) -> list[Plot]:
    return []
