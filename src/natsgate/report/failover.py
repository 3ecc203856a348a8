"""The failover table: what a kill mid-trial cost, and proof nothing was lost silently."""

from __future__ import annotations

from natsgate.bench.schema import FailoverTrial, Report
from natsgate.report import fmt
from natsgate.report.tables import Cell, Table

__all__ = ["failover_table"]

# The error window a failover should stay under.
TARGET_WINDOW_SECONDS = 2.0


def _window(trial: FailoverTrial) -> Cell:
    window = trial["error_window_seconds"]
    if window is None:
        return Cell("no failed request")
    return Cell(fmt.seconds(window), alert=window > TARGET_WINDOW_SECONDS)


def _row(trial: FailoverTrial) -> list[Cell]:
    failed = sum(trial["errors"].values())
    killed = trial["killed_at"]
    return [
        Cell(f"{trial['target']} ({trial['victim']})"),
        Cell(trial["transport"]),
        Cell("-" if killed is None else f"{killed:.2f} s"),
        Cell(fmt.count(trial["expected_requests"])),
        Cell(fmt.count(trial["ok"])),
        Cell(f"{fmt.count(failed)} ({fmt.error_counts(trial['errors'])})" if failed else "0"),
        _window(trial),
        Cell(fmt.count(trial["silent_losses"]), alert=trial["silent_losses"] != 0, strong=True),
        Cell(fmt.rate(trial["requests_per_second"])),
    ]


def failover_table(report: Report) -> Table | None:
    """One row per failover trial, or None when the run had none."""
    trials = report.get("failover") or []
    if not trials:
        return None
    return Table(
        key="failover",
        caption=(
            "Failover: one part killed (SIGKILL) a third of the way into a count-based trial; "
            f"target error window under {TARGET_WINDOW_SECONDS:g} s, zero silent losses"
        ),
        header=[
            "killed",
            "transport",
            "kill at",
            "requests",
            "answered",
            "failed",
            "error window",
            "silent losses",
            "req/s",
        ],
        rows=[_row(t) for t in trials],
    )
