"""``report.html``: one self-contained page (inline CSS, inline plots, no network).

The page tells the story in reading order: errors in red at the top, the
headline table (``id="headline"``) with the ratios, the factors, then each
scenario with its plots and tables, the sweeps, and the metadata. Every plot
is a ``<figure class="plot" data-plot="...">`` with a caption, so a browser
test (or a reader's script) can find it.
"""

from __future__ import annotations

import re
from html import escape

from natsgate.bench.schema import Report, Scenario
from natsgate.report import plots, story, tables
from natsgate.report.failover import failover_table
from natsgate.report.figures import Plot
from natsgate.report.markdown import TITLE
from natsgate.report.tables import Cell, Table

__all__ = ["STYLE", "html_page", "html_table", "plot_figure", "render_html", "slug"]

STYLE = """
:root { --fg: #1b1f24; --muted: #57606a; --line: #d0d7de; --bad: #b00020; --bg-alt: #f6f8fa; }
* { box-sizing: border-box; }
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg);
       max-width: 1240px; margin: 0 auto; padding: 1.5rem 2rem 4rem; }
h1 { font-size: 1.7rem; margin-bottom: .3rem; }
h2 { font-size: 1.35rem; border-bottom: 1px solid var(--line); padding-bottom: .2rem;
     margin-top: 2.4rem; }
h3 { font-size: 1.08rem; margin: 1.2rem 0 .3rem; }
p, li { max-width: 80ch; }
.problems { border: 2px solid var(--bad); background: #fff5f5; padding: .6rem 1rem;
            margin: 1rem 0; }
.problems p { color: var(--bad); font-weight: 700; margin: .3rem 0; }
.table-wrap { overflow-x: auto; margin: .6rem 0 1.2rem; }
table { border-collapse: collapse; font-size: 13px; font-variant-numeric: tabular-nums; }
caption { text-align: left; color: var(--muted); font-style: italic; padding: .2rem 0; }
th, td { border: 1px solid var(--line); padding: .25rem .5rem; text-align: left;
         vertical-align: top; }
th { background: var(--bg-alt); }
tbody tr:nth-child(even) td { background: #fbfcfd; }
td.strong { font-weight: 700; }
td.alert { color: var(--bad); font-weight: 700; }
table#headline { font-size: 14px; }
.plots { display: flex; flex-wrap: wrap; gap: 1rem; }
figure.plot { margin: .5rem 0; flex: 1 1 520px; max-width: 100%; }
figure.plot svg, figure.plot img { display: block; max-width: 100%; height: auto; }
figcaption { color: var(--muted); font-size: 13px; margin-top: .2rem; }
.notes { color: var(--muted); font-size: 13px; margin: .2rem 0; }
code { background: var(--bg-alt); padding: 0 .2rem; }
@media print {
  body { max-width: none; padding: 0; font-size: 11px; }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  h2 { break-after: avoid; }
  figure.plot, .table-wrap, tr { break-inside: avoid; }
  .table-wrap { overflow: visible; }
  table { font-size: 10px; }
}
@page { size: A4 landscape; margin: 12mm; }
"""


def slug(text: str) -> str:
    """A stable id fragment: lower case, ``-`` for anything but letters and digits."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "x"


def _td(cell: Cell) -> str:
    kind = "alert" if cell.alert else "strong" if cell.strong else ""
    attribute = f' class="{kind}"' if kind else ""
    return f"<td{attribute}>{escape(cell.text)}</td>"


def html_table(table: Table) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in table.header)
    body = "\n".join("<tr>" + "".join(_td(c) for c in row) + "</tr>" for row in table.rows)
    return (
        f'<div class="table-wrap"><table id="{slug(table.key)}">'
        f"<caption>{escape(table.caption)}</caption>"
        f"<thead><tr>{head}</tr></thead><tbody>\n{body}\n</tbody></table></div>"
    )


def plot_figure(plot: Plot) -> str:
    return (
        f'<figure class="plot" data-plot="{escape(plot.key)}" id="plot-{slug(plot.id)}">'
        f"{plot.markup}<figcaption>{escape(plot.caption)}</figcaption></figure>"
    )


def _plots(found: list[Plot]) -> str:
    if not found:
        return ""
    return '<div class="plots">' + "\n".join(plot_figure(p) for p in found) + "</div>"


def _problems(report: Report) -> str:
    lines = story.error_lines(report) + [f"Warning: {line}" for line in story.warning_lines(report)]
    if not lines:
        return ""
    return (
        '<div class="problems" id="errors">'
        + "".join(f"<p>{escape(line)}</p>" for line in lines)
        + "</div>"
    )


def _notes(notes: list[str]) -> str:
    if not notes:
        return ""
    items = "".join(f"<li>{escape(note)}</li>" for note in notes)
    return f'<p class="notes">Published figures:</p><ul class="notes">{items}</ul>'


def _factors(report: Report) -> str:
    parts = ['<section id="why"><h2>Why: the factors measured</h2>']
    found = story.factors(report)
    if not found:
        parts.append("<p>This run has no pair of transports to compare.</p>")
    for factor in found:
        items = "".join(f"<li>{escape(line)}</li>" for line in factor.lines)
        parts.append(f'<h3 id="factor-{factor.key}">{escape(factor.title)}</h3><ul>{items}</ul>')
    parts.append("</section>")
    return "\n".join(parts)


def _scenario(scenario: Scenario) -> str:
    flow = ", ".join(f"{s['method']} {s['path']}" for s in scenario["flow"])
    return "\n".join(
        [
            f'<section class="scenario" id="scenario-{slug(scenario["name"])}">',
            f"<h2>Scenario {escape(scenario['name'])}: {escape(scenario['title'])}</h2>",
            f"<p>{escape(scenario['description'])} Flow: <code>{escape(flow)}</code>.</p>",
            _plots(plots.scenario_plots(scenario)),
            html_table(tables.scenario_table(scenario)),
            html_table(tables.process_table(scenario)),
            "</section>",
        ]
    )


def _sweeps(report: Report) -> str:
    if not report["sweeps"]:
        return ""
    body = [_plots(plots.sweep_plots(report["sweeps"]))]
    body += [html_table(tables.sweep_table(s)) for s in report["sweeps"]]
    return '<section id="sweeps"><h2>Sweeps</h2>' + "\n".join(body) + "</section>"


def _failover(report: Report) -> str:
    table = failover_table(report)
    if table is None:
        return ""
    return f'<section id="failover"><h2>Failover under load</h2>{html_table(table)}</section>'


def html_page(title: str, body: str) -> str:
    """A complete document around ``body``: inline style, nothing fetched."""
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head>\n"
        f"<body>\n{body}\n</body></html>\n"
    )


def render_html(report: Report) -> str:
    body = [
        f"<header><h1>{escape(TITLE)}</h1><p>{escape(story.intro(report))}</p></header>",
        _problems(report),
        '<section id="headline-section"><h2>Headline</h2>',
        html_table(tables.headline_table(report)),
        _notes(tables.headline_notes(report)),
        _plots(plots.report_plots(report)),
        "</section>",
        _factors(report),
        *(_scenario(s) for s in report["scenarios"]),
        _sweeps(report),
        _failover(report),
        '<section id="metadata-section"><h2>Metadata</h2>',
        html_table(tables.metadata_table(report)),
        "</section>",
    ]
    return html_page(TITLE, "\n".join(part for part in body if part))
