"""Turning a matplotlib figure into markup that a self-contained page can inline.

No pyplot and no global backend: each plot builds a :class:`matplotlib.figure.Figure`
and saves it to memory, so importing the report never changes the caller's
matplotlib state. Sparse plots become inline SVG (text kept as text, ids salted so
output is stable); dense ones become a base64 PNG.
"""

from __future__ import annotations

import base64
import io
import re
from contextlib import AbstractContextManager
from dataclasses import dataclass
from html import escape
from typing import Any, cast

import matplotlib
from matplotlib.figure import Figure

__all__ = [
    "PNG_DPI",
    "PROCESS_COLORS",
    "TRANSPORT_COLORS",
    "Margins",
    "Plot",
    "color_of",
    "new_figure",
    "png_markup",
    "process_color",
    "style",
    "svg_markup",
]

PNG_DPI = 110
TRANSPORT_COLORS = {
    "http-close": "#d95f02",
    "http": "#1f77b4",
    "nats": "#1b9e77",
    "direct-http": "#8fb8de",
    "direct-nats": "#8fd3b9",
}
PROCESS_COLORS = {
    "nats-server": "#1b9e77",
    "service": "#7570b3",
    "gateway": "#e7298a",
    "load": "#666666",
}
_STYLE = {
    "svg.fonttype": "none",
    "svg.hashsalt": "natsgate-report",
    "font.size": 9.0,
    "axes.titlesize": 10.0,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "legend.fontsize": 8.0,
    "legend.frameon": False,
}


@dataclass(frozen=True, slots=True)
class Plot:
    key: str  # the figure's data-plot attribute: "throughput", "latency", ...
    id: str  # unique in the page: "seed-parallel-latency"
    caption: str
    markup: str  # inline <svg> or <img src="data:...">


def color_of(transport: str) -> str:
    return TRANSPORT_COLORS.get(transport, "#999999")


def process_color(process: str) -> str:
    return PROCESS_COLORS.get(process, "#bbbbbb")


def style() -> AbstractContextManager[None]:
    """The report's matplotlib settings: build and save every plot inside this."""
    return matplotlib.rc_context(cast(Any, _STYLE))


@dataclass(frozen=True, slots=True)
class Margins:
    """Fixed margins in inches: three times faster to draw than a computed layout."""

    left: float = 0.8
    right: float = 0.15
    bottom: float = 0.5
    top: float = 0.35
    hspace: float = 0.15


def new_figure(width: float, height: float, margins: Margins | None = None) -> Figure:
    """An empty figure (inches): fixed ``margins``, else laid out to fit its labels."""
    if margins is None:
        return Figure(figsize=(width, height), layout="constrained")
    figure = Figure(figsize=(width, height))
    figure.subplots_adjust(
        left=margins.left / width,
        right=1 - margins.right / width,
        bottom=margins.bottom / height,
        top=1 - margins.top / height,
        hspace=margins.hspace,
    )
    return figure


def svg_markup(figure: Figure, label: str) -> str:
    """The figure as an ``<svg>`` element with a title for screen readers."""
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", metadata={"Date": None})
    text = buffer.getvalue()
    text = text[text.index("<svg") :]
    text = re.sub(r"\s*<metadata>.*?</metadata>", "", text, count=1, flags=re.DOTALL)
    return re.sub(
        r"<svg ",
        f'<svg role="img" aria-label="{escape(label)}" ',
        text,
        count=1,
    )


def png_markup(figure: Figure, label: str, dpi: int = PNG_DPI) -> str:
    """The figure as an ``<img>`` with an embedded PNG, sized in CSS pixels."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi, metadata={"Software": None})
    width, height = (round(v * dpi) for v in figure.get_size_inches())
    encoded = base64.b64encode(buffer.getvalue()).decode("ascii")
    return (
        f'<img alt="{escape(label)}" width="{width}" height="{height}" '
        f'src="data:image/png;base64,{encoded}">'
    )
