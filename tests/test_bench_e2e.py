"""``natsgate bench`` end to end: real nats-server, service, gateway and load generator."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from natsgate.cli import main


@pytest.mark.timeout(300)
def test_small_bench_writes_all_nine_cells_without_errors(tmp_path: Path) -> None:
    out = tmp_path / "out"
    status = main(
        ["bench", "--scale", "0.002", "--trials", "2", "--warmup", "0", "--out", str(out)]
    )
    assert status == 0

    report = json.loads((out / "report.json").read_text())
    cells = {(s["name"], t["transport"]) for s in report["scenarios"] for t in s["trials"]}
    assert cells == {
        (scenario, transport)
        for scenario in ("seed-sequential", "seed-payload", "seed-parallel")
        for transport in ("http", "http-close", "nats")
    }
    for scenario in report["scenarios"]:
        assert set(scenario["ratios"]) >= {"nats/http", "nats/http-close"}
        iterations = sum(t["iterations"] for t in scenario["trials"] if t["transport"] == "nats")
        assert iterations == 100  # 50,000 x 0.002, split over the two trials
        for trial in scenario["trials"]:
            assert trial["errors"] == dict.fromkeys(
                ("connect", "timeout", "status", "body", "protocol"), 0
            )
            assert trial["ok"] == trial["requests"] == trial["iterations"] * 3
            assert set(trial["processes"]) == {"nats-server", "service", "gateway", "load"}
            assert trial["processes"]["gateway"]["cpu_seconds"] > 0

    assert report["meta"]["versions"]["nats-server"] != "unknown"
    assert (out / "report.md").read_text().count("seed-parallel") >= 1
    assert (out / "report.html").stat().st_size > 10_000
    assert (out / "nats-server-n1.log").exists()


@pytest.mark.timeout(300)
def test_cluster_instances_and_failover_account_for_every_request(tmp_path: Path) -> None:
    out = tmp_path / "out"
    status = main(
        [
            "bench",
            "seed-sequential",
            "--scale",
            "0.002",
            "--trials",
            "1",
            "--warmup",
            "0",
            "--baselines",
            "--cluster",
            "3",
            "--service-instances",
            "2",
            "--failover",
            "nats-node",
            "--failover",
            "service",
            "--failover-iterations",
            "400",
            "--out",
            str(out),
        ]
    )
    report = json.loads((out / "report.json").read_text())
    (scenario,) = report["scenarios"]
    assert {t["transport"] for t in scenario["trials"]} == {
        "http",
        "http-close",
        "nats",
        "direct-http",
        "direct-nats",
    }
    assert all(not any(t["errors"].values()) for t in scenario["trials"])
    assert len(scenario["trials"][0]["processes"]["nats-server"]["pids"]) == 3
    assert len(scenario["trials"][0]["processes"]["service"]["pids"]) == 2

    failover = report["failover"]
    assert [(f["target"], f["transport"]) for f in failover] == [
        ("nats-node", "nats"),
        ("service", "http"),
        ("service", "http-close"),
        ("service", "nats"),
    ]
    for trial in failover:
        assert trial["expected_requests"] == 400 * 3
        assert trial["silent_losses"] == 0
        assert trial["ok"] + sum(trial["errors"].values()) == trial["expected_requests"]
        # Bounded damage: the survivors carry the rest of the trial.
        assert trial["ok"] > trial["expected_requests"] // 2
    # Failures a kill causes are the measurement, not a failed run.
    assert status == 0
    assert "Failover under load" in (out / "report.md").read_text()


@pytest.mark.timeout(300)
def test_sweeps_give_points_for_every_transport(tmp_path: Path) -> None:
    out = tmp_path / "out"
    status = main(
        [
            "bench",
            "seed-sequential",
            "--scale",
            "0.0004",
            "--trials",
            "1",
            "--warmup",
            "0",
            "--transport",
            "http",
            "--transport",
            "nats",
            "--sweep",
            "concurrency",
            "--sweep",
            "rate",
            "--sweep",
            "instances",
            "--sweep-seconds",
            "0.5",
            "--out",
            str(out),
        ]
    )
    assert status == 0
    report = json.loads((out / "report.json").read_text())
    sweeps = {s["kind"]: s for s in report["sweeps"]}
    assert set(sweeps) == {"concurrency", "rate", "instances"}
    for kind, xs in (("concurrency", {1, 4, 16, 64, 256, 1000, 2500}), ("instances", {1, 2, 4})):
        points = sweeps[kind]["points"]
        assert {(p["transport"], p["x"]) for p in points} == {
            (t, x) for t in ("http", "nats") for x in xs
        }
        assert all(p["requests_per_second"] > 0 for p in points)
    limits = sweeps["rate"]["limits"]
    assert set(limits) == {"http", "nats"} and all(v > 0 for v in limits.values())
    rate_points = sweeps["rate"]["points"]
    assert len(rate_points) == 2 * 3  # 25, 50 and 75% of each transport's limit
    assert 'data-plot="sweep-instances"' in (out / "report.html").read_text()
