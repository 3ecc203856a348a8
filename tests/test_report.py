"""The report's renderings from sample reports: figures, errors on top, any subset of data."""

from __future__ import annotations

import copy
import io
import json
import re
from pathlib import Path

import pytest
from rich.console import Console

from natsgate.bench.schema import Report
from natsgate.report import (
    ReportError,
    fmt,
    load_report,
    model,
    render_html,
    render_markdown,
    summary_table,
    write_reports,
)
from report_samples import make_report


@pytest.fixture(scope="module")
def report() -> Report:
    return make_report()


def _scenario(report: Report, name: str):  # type: ignore[no-untyped-def]
    return next(s for s in report["scenarios"] if s["name"] == name)


def test_markdown_headline_holds_published_and_measured_figures(report: Report) -> None:
    text = render_markdown(report)
    headline = text.split("## Headline", 1)[1].split("## Why", 1)[0]

    for scenario in report["scenarios"]:
        if "published" not in scenario:
            continue
        published = scenario["published"]
        assert scenario["name"] in headline
        assert fmt.minutes(published["http_minutes"]) in headline
        assert fmt.minutes(published["nats_minutes"]) in headline
        assert published["note"] in headline
        for key in ("nats/http", "nats/http-close"):
            ratio = scenario["ratios"][key]
            assert fmt.ratio(ratio["median"], ratio["ci_low"], ratio["ci_high"]) in headline
        for transport in ("http", "http-close", "nats"):
            rate = scenario["summary"][transport]["requests_per_second"]["median"]
            assert f"{fmt.rate(rate)} req/s" in headline


def test_markdown_lists_errors_in_bold_before_the_headline(report: Report) -> None:
    text = render_markdown(report)
    top = text.split("## Headline", 1)[0]

    parallel = _scenario(report, "seed-parallel")
    failed = parallel["summary"]["http-close"]["errors"]
    assert failed > 0
    assert f"**Errors: {fmt.count(failed)} of " in top
    assert "seed-parallel over http-close" in top
    assert "**Warning: Load generator saturated" in top


def test_markdown_without_errors_has_no_error_line() -> None:
    text = render_markdown(make_report(scenarios=["seed-sequential"], errors=False, rounds=1))
    assert "Errors:" not in text
    assert "| errors | 0 |" in text


def test_markdown_sections(report: Report) -> None:
    text = render_markdown(report)
    for heading in (
        "## Why: the factors measured",
        "### Connection reuse (http against http-close)",
        "### Gateway cost",
        "### Transport cost (nats against keep-alive http)",
        "## Scenario seed-parallel",
        "## Sweeps",
        "## Metadata",
    ):
        assert heading in text
    assert "corrected p99" in text  # the open-loop scenario
    assert report["meta"]["git_revision"] in text  # type: ignore[operator]
    assert "natsgate bench --scale 0.04" in text


def test_p99_9_marked_when_too_few_samples() -> None:
    small = make_report(scenarios=["seed-sequential"], rounds=1, direct=False, sweeps=False)
    assert "n/a (<10k samples)" in render_markdown(small)


@pytest.mark.parametrize(
    "options",
    [
        {"rounds": 1, "direct": False, "sweeps": False},
        {"transports": ["nats"], "direct": False},
        {"transports": ["http", "nats"], "errors": False},
        {"scenarios": ["open-rate"], "sweeps": False},
        {"scenarios": []},
    ],
)
def test_any_subset_renders(options: dict[str, object], tmp_path: Path) -> None:
    subset = make_report(**options)  # type: ignore[arg-type]
    written = write_reports(subset, tmp_path)
    assert [p.name for p in written] == ["report.md", "report.html"]
    assert all(p.stat().st_size > 0 for p in written)
    Console(file=io.StringIO(), width=120).print(summary_table(subset))


def test_missing_summary_and_ratios_fall_back_to_trials(report: Report) -> None:
    bare = copy.deepcopy(report)
    for scenario in bare["scenarios"]:
        scenario["summary"] = {}
        scenario["ratios"] = {}
    text = render_markdown(bare)
    assert "nats/http" in text
    parallel = _scenario(bare, "seed-parallel")
    ratio = model.ratio(parallel, "nats", "http")
    assert ratio is not None and ratio.ci_low is None
    assert f"{ratio.median:.2f}x" in text


def test_summary_table_rows(report: Report) -> None:
    out = io.StringIO()
    Console(file=out, width=160).print(summary_table(report))
    text = out.getvalue()
    parallel = _scenario(report, "seed-parallel")
    assert fmt.rate(parallel["summary"]["nats"]["requests_per_second"]["median"]) in text
    assert f"{parallel['ratios']['nats/http']['median']:.2f}x" in text
    assert "nats/http-close" in text
    assert "connect" in text


# Anything a browser would fetch: src/href to a URL, CSS url(...) or @import, scripts.
EXTERNAL = re.compile(
    r"""(?:src|href)\s*=\s*["']?(?:https?:)?//|url\(\s*["']?(?:https?:)?//|@import"""
)


def test_html_is_self_contained(report: Report) -> None:
    page = render_html(report)
    assert 'id="headline"' in page
    # 4 plots per scenario, the ratio plot, one per sweep.
    assert page.count('<figure class="plot"') == 4 * len(report["scenarios"]) + 1 + 2
    assert EXTERNAL.search(page) is None
    assert "<script" not in page
    assert "<link" not in page
    assert len(page) < 1_500_000


def test_load_report_accepts_dir_or_file(report: Report, tmp_path: Path) -> None:
    (tmp_path / "report.json").write_text(json.dumps(report))
    assert load_report(tmp_path)["meta"] == report["meta"]
    assert load_report(tmp_path / "report.json")["schema"] == report["schema"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such file"),
        ("{not json", "invalid JSON"),
        ("[]", "not a JSON object"),
        ('{"schema": "other/1", "meta": {}, "scenarios": []}', "not a natsgate report"),
        ('{"schema": "natsgate-report/1", "meta": {}}', "'scenarios'"),
        (
            '{"schema": "natsgate-report/1", "meta": {}, "scenarios": [{"name": "x"}]}',
            "scenarios[0]",
        ),
    ],
)
def test_load_report_rejects(content: str | None, message: str, tmp_path: Path) -> None:
    if content is not None:
        (tmp_path / "report.json").write_text(content)
    with pytest.raises(ReportError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_report(tmp_path)


def test_damaged_and_empty_parts_still_render(report: Report, tmp_path: Path) -> None:
    damaged = copy.deepcopy(report)
    damaged["scenarios"][0]["trials"][0]["histogram"] = "not an HDR histogram"
    damaged["scenarios"][1]["trials"] = []
    damaged["scenarios"][1]["summary"] = {}
    damaged["scenarios"][1]["ratios"] = {}
    written = write_reports(damaged, tmp_path)
    text = written[0].read_text()
    assert "## Scenario seed-payload" in text
    assert "not run" in text.split("## Why", 1)[0]  # seed-payload's headline cells


def test_headline_without_published_figures_lists_every_scenario() -> None:
    plain = make_report(scenarios=["open-rate"], sweeps=False, rounds=1)
    headline = render_markdown(plain).split("## Headline", 1)[1].split("## Why", 1)[0]
    assert "**open-rate**" in headline
    assert "Published figures:" not in headline
