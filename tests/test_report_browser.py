"""report.html in a real browser: every plot renders, offline, and the headline holds the run.

Headless Chromium loads a copy of the page with a small probe script appended (the
report itself has no script): the probe writes each plot's size and position, the
page height and any resource the page fetched into the DOM, which ``--dump-dom``
returns. A screenshot of the whole page is then cut at each plot to check it is
not blank. Every run points Chromium at a dead proxy, so a page that needed the
network would lose its resources.
"""

from __future__ import annotations

import html
import json
import re
import subprocess
from pathlib import Path

import pytest
from PIL import Image, ImageStat

from natsgate.bench.schema import Report
from natsgate.report import fmt, write_reports
from report_samples import make_report

CHROMIUM = Path("/usr/bin/chromium")
WIDTH = 1280
MAX_HEIGHT = 16_000  # Chromium's screenshot surface limit, roughly
TIMEOUT = 90

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs /usr/bin/chromium (apt-get install chromium)"
)

PROBE = """
<script>
window.addEventListener("load", () => {
  const plots = [...document.querySelectorAll("figure.plot")].map((figure) => {
    const image = figure.querySelector("svg, img");
    const box = image ? image.getBoundingClientRect() : null;
    return {
      id: figure.id,
      kind: figure.dataset.plot,
      tag: image ? image.tagName.toLowerCase() : null,
      loaded: image && image.tagName === "IMG" ? image.complete && image.naturalWidth > 0 : true,
      x: box ? box.left + window.scrollX : 0,
      y: box ? box.top + window.scrollY : 0,
      width: box ? box.width : 0,
      height: box ? box.height : 0,
    };
  });
  const fetched = performance.getEntriesByType("resource").map((entry) => entry.name);
  const probe = document.createElement("pre");
  probe.id = "probe";
  probe.textContent = JSON.stringify({
    plots, fetched, height: document.documentElement.scrollHeight,
  });
  document.body.appendChild(probe);
});
</script>
"""


def _chromium(profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [
        str(CHROMIUM),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--hide-scrollbars",
        "--force-device-scale-factor=1",
        "--proxy-server=127.0.0.1:9",  # nothing listens there: no network for the page
        f"--user-data-dir={profile}",
        *args,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT, check=False)


@pytest.fixture(scope="module")
def report() -> Report:
    return make_report(rounds=2)


@pytest.fixture(scope="module")
def page(report: Report, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("run")
    write_reports(report, out)
    return out / "report.html"


@pytest.fixture(scope="module")
def dom(page: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    probed = page.with_name("probed.html")
    probed.write_text(page.read_text().replace("</body>", PROBE + "</body>"))
    done = _chromium(
        tmp_path_factory.mktemp("profile"),
        f"--window-size={WIDTH},1000",
        "--virtual-time-budget=10000",
        "--dump-dom",
        probed.as_uri(),
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def _probe(dom: str) -> dict[str, object]:
    found = re.search(r'<pre id="probe">(.*?)</pre>', dom, re.DOTALL)
    assert found, "the probe script did not run"
    result: dict[str, object] = json.loads(html.unescape(found.group(1)))
    return result


def test_every_plot_has_an_image_of_real_size(dom: str, report: Report) -> None:
    plots = _probe(dom)["plots"]
    assert isinstance(plots, list)
    assert len(plots) == 4 * len(report["scenarios"]) + 1 + len(report["sweeps"])
    for plot in plots:
        assert plot["tag"] in ("svg", "img"), plot
        assert plot["loaded"], plot
        assert plot["width"] > 200 and plot["height"] > 100, plot


def test_page_fetches_nothing(dom: str) -> None:
    assert _probe(dom)["fetched"] == []


def test_headline_table_holds_the_run(dom: str, report: Report) -> None:
    found = re.search(r'<table id="headline">(.*?)</table>', dom, re.DOTALL)
    assert found
    headline = html.unescape(found.group(1))
    for scenario in report["scenarios"]:
        if "published" not in scenario:
            continue
        assert scenario["name"] in headline
        for transport in ("http", "http-close", "nats"):
            rate = scenario["summary"][transport]["requests_per_second"]["median"]
            assert fmt.rate(rate) in headline
        ratio = scenario["ratios"]["nats/http"]
        assert fmt.ratio(ratio["median"], ratio["ci_low"], ratio["ci_high"]) in headline


def test_screenshot_shows_every_plot(page: Path, dom: str, tmp_path: Path) -> None:
    probe = _probe(dom)
    height = min(int(probe["height"]), MAX_HEIGHT)  # type: ignore[call-overload]
    shot = tmp_path / "report.png"
    done = _chromium(
        tmp_path / "profile",
        f"--window-size={WIDTH},{height}",
        f"--screenshot={shot}",
        page.as_uri(),
    )
    assert done.returncode == 0, done.stderr[-2000:]
    image = Image.open(shot).convert("L")
    assert image.size == (WIDTH, height)
    assert ImageStat.Stat(image).stddev[0] > 10, "the page is blank"

    plots = probe["plots"]
    assert isinstance(plots, list)
    checked = 0
    for plot in plots:
        box = (
            int(plot["x"]),
            int(plot["y"]),
            int(plot["x"] + plot["width"]),
            int(plot["y"] + plot["height"]),
        )
        if box[3] > height:
            continue  # below the part a screenshot can hold
        crop = image.crop(box)
        stat = ImageStat.Stat(crop)
        dark = sum(1 for value in crop.getdata() if value < 128)  # type: ignore[attr-defined]
        assert stat.stddev[0] > 15, f"plot {plot['id']} looks blank"
        assert dark > 200, f"plot {plot['id']} has almost no ink"
        checked += 1
    assert checked >= len(plots) * 3 // 4
