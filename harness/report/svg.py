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
import seaborn as sns

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
