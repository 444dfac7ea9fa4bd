"""Matplotlib figures → inline SVG with reproducible bytes.

Agg backend, a fixed `svg.hashsalt` (element ids are hashes of content + salt
instead of random), no `Date` metadata, text kept as text (`svg.fonttype:
none`) so the file stays small and the browser draws it with its own fonts.
"""

from __future__ import annotations

import io
import re
import warnings

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns
from matplotlib.ticker import FuncFormatter, MaxNLocator, NullFormatter

STYLE = {
    "svg.hashsalt": "qsbench",
    "svg.fonttype": "none",
    "font.family": "sans-serif",
    "font.size": 9,
    "axes.titlesize": 10,
    "figure.dpi": 100,
    "axes.spines.top": False,
    "axes.spines.right": False,
}


def palette(names: list[str]) -> dict[str, tuple[float, float, float]]:
    """A stable colour per name (sorted order), the same in every plot of a report."""
    colours = sns.color_palette("colorblind", max(len(names), 1))
    return {name: colours[i % len(colours)] for i, name in enumerate(sorted(names))}


def styled():
    """Context for drawing one plot: style, hash salt and font handling are read inside it."""
    return plt.rc_context(STYLE)


def figure(width: float = 6.4, height: float = 3.6):
    return plt.subplots(figsize=(width, height))


def _two_and_five(value: float, _position: int) -> str:
    """A log axis's minor tick label at 2× and 5× a power of ten only."""
    power = int(np.floor(np.log10(value)))
    mantissa = round(value / 10.0**power)
    return rf"${mantissa}\times10^{{{power}}}$" if mantissa in (2, 5) else ""


def readable_x_ticks(ax) -> None:
    """Value-axis tick labels that do not run together: a log axis spanning under two decades
    labelled its minor ticks too ("2×10³ 5×10³ 10⁴ 2×10⁴ …" over one another on the corridor's link
    rates), and a linear one of large numbers printed eight of them ("100000120000140000")."""
    if ax.get_xscale() == "log":
        low, high = sorted(ax.get_xlim())
        decades = np.floor(np.log10(high)) - np.ceil(np.log10(low)) + 1  # powers of ten in view
        # under two of them, 2× and 5× say where the values sit; past that the decades do
        ax.xaxis.set_minor_formatter(FuncFormatter(_two_and_five) if decades < 2 else NullFormatter())
    else:
        ax.xaxis.set_major_locator(MaxNLocator(nbins=6, steps=[1, 2, 2.5, 5, 10]))


_PROLOGUE = re.compile(r"^.*?(?=<svg)", re.S)
_METADATA = re.compile(r"\s*<metadata>.*?</metadata>", re.S)  # RDF boilerplate, nothing a reader sees


def to_svg(fig) -> str:
    """The figure as an `<svg>` element (no XML prologue), then closed to free its memory."""
    buffer = io.StringIO()
    with warnings.catch_warnings():
        # Long category labels can defeat tight_layout; bbox_inches="tight" below then grows the canvas.
        warnings.filterwarnings("ignore", "Tight layout not applied", UserWarning)
        fig.tight_layout()
    fig.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None, "Creator": None})
    plt.close(fig)
    return _METADATA.sub("", _PROLOGUE.sub("", buffer.getvalue(), count=1), count=1)
