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
