"""The report's prose, generated from the figures: what ran, what failed, and why.

The "why" section names each factor the run can measure on its own, with its
figures: connection reuse (http against http-close), gateway cost (direct-*
against the gateway's transport, when the run has direct trials), transport
cost (nats against http), where the CPU went, and how the claim holds up.
A factor whose trials are missing is left out, never guessed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from natsgate.bench.schema import Report, Scenario
from natsgate.report import fmt, model

__all__ = ["Factor", "error_lines", "factors", "intro", "warning_lines"]


@dataclass(frozen=True, slots=True)
class Factor:
    key: str
    title: str
    lines: list[str]


def _machine(report: Report) -> str:
    machine = report["meta"]["machine"]
    cpu = machine.get("cpu_model", "an unnamed CPU")
    cores = machine.get("cores")
    return f"{cpu} ({cores} cores)" if cores else str(cpu)


def _rounds(report: Report) -> int:
    return max((t["round"] + 1 for s in report["scenarios"] for t in s["trials"]), default=0)


def intro(report: Report) -> str:
    """One paragraph: what was run, where, how often."""
    names = ", ".join(s["name"] for s in report["scenarios"]) or "no scenarios"
    used = model.sort_transports(t["transport"] for s in report["scenarios"] for t in s["trials"])
    flows = {len(s["flow"]) for s in report["scenarios"]}
    per_flow = f"{flows.pop()} requests" if len(flows) == 1 else "several requests"
    return (
        f"natsgate bench drove {len(report['scenarios'])} scenarios ({names}) through the "
        f"gateway over {', '.join(used) or 'no transport'}, {_rounds(report)} rounds each "
        f"(transports interleaved within a round), on {_machine(report)}, started "
        f"{report['meta']['started']}. An iteration is one flow of {per_flow}; "
        "throughput counts requests per second, latency is per request as the load "
        "generator saw it. http keeps connections alive, http-close opens one per request "
        "(the original experiment's setup), nats is request-reply through nats-server."
    )


def error_lines(report: Report) -> list[str]:
    """One line per scenario and transport that had failed requests."""
    lines = []
    for note in model.error_notes(report):
        failed = sum(note.errors.values())
        lines.append(
            f"Errors: {fmt.count(failed)} of {fmt.count(note.requests)} requests failed in "
            f"{note.scenario} over {note.transport} ({fmt.error_counts(note.errors)}; "
            f"in {note.failed_trials} of {note.trials} trials)."
        )
    return lines


def warning_lines(report: Report) -> list[str]:
    return [
        f"Load generator saturated in {scenario} over {transport} ({hit} of {total} trials): "
        "those figures are what the generator could send, not what the system could carry."
        for scenario, transport, hit, total in model.saturated_notes(report)
    ]


def _latencies(scenario: Scenario, faster: str, slower: str) -> str | None:
    """Open loop: both ran at the target rate, so only latency tells them apart."""
    top = model.latency(model.trials_of(scenario, faster))
    bottom = model.latency(model.trials_of(scenario, slower))
    if top is None or bottom is None:
        return None
    return (
        f"at the same offered rate, p50 {fmt.latency(top['p50'])} vs "
        f"{fmt.latency(bottom['p50'])}, p99 {fmt.latency(top['p99'])} vs "
        f"{fmt.latency(bottom['p99'])}"
    )


def _pair(scenario: Scenario, faster: str, slower: str) -> str | None:
    """``1.62x (95% CI ...): 3,400 vs 2,100 req/s, p50 280 µs vs 460 µs``."""
    if scenario["mode"] == "open":
        return _latencies(scenario, faster, slower)
    ratio = model.ratio(scenario, faster, slower)
    top = model.rate_figure(scenario, faster)
    bottom = model.rate_figure(scenario, slower)
    if ratio is None or top is None or bottom is None:
        return None
    return (
        f"{fmt.ratio(ratio.median, ratio.ci_low, ratio.ci_high)}: "
        f"{fmt.rate(top['median'])} vs {fmt.rate(bottom['median'])} req/s, p50 "
        f"{fmt.latency(model.p50(scenario, faster))} vs "
        f"{fmt.latency(model.p50(scenario, slower))}"
    )


def _each(report: Report, faster: str, slower: str, label: str) -> Iterator[str]:
    for scenario in report["scenarios"]:
        text = _pair(scenario, faster, slower)
        if text is None:
            continue
        if scenario["mode"] == "open":
            yield f"{scenario['name']} (open loop): {faster} against {slower} {text}."
        else:
            yield f"{scenario['name']}: {label} {text}."


def _bottlenecks(report: Report) -> Iterator[str]:
    for scenario in report["scenarios"]:
        parts = []
        for transport in model.transports(scenario):
            trials = model.trials_of(scenario, transport)
            top = model.bottleneck(trials)
            usage = model.process_usage(trials).get(top or "")
            if top and usage:
                parts.append(
                    f"{transport}: {top} ({fmt.percent(usage.cpu_percent_of_core)} of a core)"
                )
        if parts:
            yield f"{scenario['name']}: busiest process " + "; ".join(parts) + "."


def _claims(report: Report) -> Iterator[str]:
    for scenario in report["scenarios"]:
        published = scenario.get("published")
        close = model.ratio(scenario, "nats", "http-close")
        fair = model.ratio(scenario, "nats", "http")
        if published is None or (close is None and fair is None):
            continue
        text = f"{scenario['name']}: the original claimed NATS {published['ratio']:.2g}x faster"
        if close is not None:
            text += (
                f"; with its setup (a new connection per request) we measured {close.median:.2f}x"
            )
        if fair is not None:
            text += f"; against keep-alive HTTP, {fair.median:.2f}x"
        yield text + "."


def factors(report: Report) -> list[Factor]:
    """The measured factors, each with one line per scenario that has the trials for it."""
    found = [
        Factor(
            "connection-reuse",
            "Connection reuse (http against http-close)",
            list(_each(report, "http", "http-close", "keep-alive carried")),
        ),
        Factor(
            "gateway-cost",
            "Gateway cost (the service called directly against through the gateway)",
            [
                *_each(report, "direct-http", "http", "HTTP without the gateway carried"),
                *_each(report, "direct-nats", "nats", "NATS without the gateway carried"),
            ],
        ),
        Factor(
            "transport-cost",
            "Transport cost (nats against keep-alive http)",
            list(_each(report, "nats", "http", "NATS carried")),
        ),
        Factor("cpu", "Where the CPU went", list(_bottlenecks(report))),
        Factor("claim", "The claim against our figures", list(_claims(report))),
    ]
    return [factor for factor in found if factor.lines]
