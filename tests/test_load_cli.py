"""``natsgate load`` and the calibration, against the hello server in a child process."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from natsgate.cli import main
from natsgate.load.calibrate import calibrate
from natsgate.load.hello import hello_server

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def hello() -> Iterator[str]:
    with hello_server() as url:
        yield url


def test_load_writes_json(hello: str, tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    status = main(
        ["load", f"{hello}/", "--requests", "40", "--concurrency", "4", "--json", str(out)]
    )
    assert status == 0
    data = json.loads(out.read_text())
    assert (data["requests"], data["ok"]) == (40, 40)
    assert data["histogram"].startswith("HIST")
    assert data["corrected"] is None


def test_load_open_loop_with_body(hello: str, tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    args = ["load", f"{hello}/", "--rate", "200", "--requests", "20", "--json", str(out)]
    # The hello server answers only GET: a POST body is refused with 405.
    assert main([*args, "--body-size", "100"]) == 1
    assert json.loads(out.read_text())["errors"]["status"] == 20
    assert main([*args, "--expect-contains", "Hello"]) == 0
    data = json.loads(out.read_text())
    assert data["percentiles_corrected"]["p50"] is not None
    assert data["iterations"] == 20


def test_load_rejects_bad_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["load"]) == 2
    assert main(["load", "https://example.com/", "--requests", "1"]) == 2
    assert main(["load", "http://127.0.0.1:1/", "--header", "no colon", "--requests", "1"]) == 2
    with pytest.raises(SystemExit):
        main(["load", "http://127.0.0.1:1/", "--rate", "5", "--concurrency", "2"])
    capsys.readouterr()


def test_calibration_runs_briefly() -> None:
    rows = calibrate(concurrencies=(2,), duration=0.5, with_wrk=False)
    (row,) = rows
    assert row.ours > 0 and row.aiohttp is not None and row.aiohttp > 0
