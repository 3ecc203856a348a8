"""``natsgate report``: rebuilding a run's report, comparing two runs, refusing bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from natsgate.bench.schema import Report
from natsgate.cli import main
from natsgate.report import fmt, render_comparison_markdown
from report_samples import make_report


def _save(report: Report, directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "report.json").write_text(json.dumps(report))
    return directory


@pytest.fixture(scope="module")
def first() -> Report:
    return make_report(seed=1, scenarios=["seed-sequential", "seed-parallel"], rounds=2)


@pytest.fixture(scope="module")
def second() -> Report:
    return make_report(seed=2, speed=1.25, rounds=1, direct=False, sweeps=False)


def test_rebuilds_both_files(first: Report, tmp_path: Path) -> None:
    run = _save(first, tmp_path / "run")
    assert main(["report", str(run)]) == 0
    markdown = (run / "report.md").read_text()
    page = (run / "report.html").read_text()
    assert "## Headline" in markdown
    assert 'id="headline"' in page


def test_rebuild_from_report_json_path(first: Report, tmp_path: Path) -> None:
    run = _save(first, tmp_path / "run")
    assert main(["report", str(run / "report.json")]) == 0
    assert (run / "report.md").exists()


def test_compare_writes_to_second_run_by_default(
    first: Report, second: Report, tmp_path: Path
) -> None:
    a, b = _save(first, tmp_path / "a"), _save(second, tmp_path / "b")
    assert main(["report", str(a), str(b)]) == 0
    assert (b / "compare.md").exists()
    page = (b / "compare.html").read_text()
    assert 'data-plot="compare-throughput"' in page


def test_compare_to_out(first: Report, second: Report, tmp_path: Path) -> None:
    a, b = _save(first, tmp_path / "a"), _save(second, tmp_path / "b")
    out = tmp_path / "out"
    assert main(["report", str(a), str(b), "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["compare.html", "compare.md"]


def test_comparison_figures(first: Report, second: Report) -> None:
    text = render_comparison_markdown(first, second)
    old = next(s for s in first["scenarios"] if s["name"] == "seed-parallel")
    new = next(s for s in second["scenarios"] if s["name"] == "seed-parallel")
    before = old["summary"]["nats"]["requests_per_second"]["median"]
    after = new["summary"]["nats"]["requests_per_second"]["median"]
    row = next(
        line
        for line in text.splitlines()
        if line.startswith("| **nats**") and fmt.rate(before) in line
    )
    assert fmt.rate(after) in row
    assert f"{after / before:.2f}x" in row
    # A's direct baselines are listed although B has none.
    assert "| **direct-http** |" in text
    assert "Errors in A:" in text and "Errors in B:" in text


@pytest.mark.parametrize("content", [None, "{broken", '{"schema": "natsgate-report/1"}'])
def test_bad_input_exits_2(
    content: str | None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if content is not None:
        (tmp_path / "report.json").write_text(content)
    assert main(["report", str(tmp_path)]) == 2
    assert "natsgate report:" in capsys.readouterr().err


def test_three_runs_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", str(tmp_path), str(tmp_path), str(tmp_path)]) == 2
    assert "two to compare" in capsys.readouterr().err
