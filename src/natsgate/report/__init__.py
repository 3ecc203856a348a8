"""The benchmark's report: Markdown, self-contained HTML with plots, terminal summary.

Everything is rendered from ``report.json`` (:mod:`natsgate.bench.schema`)::

    report.json --load_report--> Report --render_markdown--> report.md
                                        --render_html------> report.html (plots inline)
                                        --summary_table----> rich Table (terminal)
    two runs A, B --render_comparison_*--> compare.md, compare.html (B against A)

:mod:`natsgate.report.model` derives the figures every rendering shares.
"""

from __future__ import annotations

from natsgate.report.compare import (
    render_comparison_html,
    render_comparison_markdown,
    write_comparison,
)
from natsgate.report.files import ReportError, load_report, write_reports
from natsgate.report.html import render_html
from natsgate.report.markdown import render_markdown
from natsgate.report.terminal import summary_table

__all__ = [
    "ReportError",
    "load_report",
    "render_comparison_html",
    "render_comparison_markdown",
    "render_html",
    "render_markdown",
    "summary_table",
    "write_comparison",
    "write_reports",
]
