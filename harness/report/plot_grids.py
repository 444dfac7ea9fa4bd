"""Grids and matrices: one cell per condition × vendor (or vendor × peer), coloured by the
rows' suite's good direction, where lines would be too many to tell apart."""

from __future__ import annotations

import numpy as np
import pandas as pd

from harness.report.plot_kinds import SHARE_UNITS, is_numeric, number_text, value_text
from harness.report.svg import figure, to_svg

MAX_GRID_ROWS = 60
READABLE_GRID_ROWS = 24  # beyond, a numeric condition of a few values goes across a grid (grid)


def matrix(g: pd.DataFrame, metric: str, better_high: bool | None) -> tuple[str, str]:
    """`better_high`: the direction the rows' suite declares (None: neither), which the colours follow."""
    import seaborn as sns

    table = g.groupby(["vendor", "peer"])["value"].mean().unstack("peer").sort_index()
    counts = g.groupby(["vendor", "peer"])["value"].size().unstack("peer").reindex_like(table)
    cmap = "RdYlGn" if better_high else "RdYlGn_r" if better_high is False else "viridis"
    fig, ax = figure(1.2 + 0.9 * table.shape[1], 1.0 + 0.6 * table.shape[0])
    annot = table.map(number_text) + counts.map(lambda c: f"\nn={c:.0f}" if pd.notna(c) else "")
    # Shares (booleans, ratios) on their full 0–1 scale: 0.9 is not the worst possible outcome.
    share = str(g["unit"].iloc[0]) in SHARE_UNITS
    sns.heatmap(table, annot=annot, fmt="", cmap=cmap, cbar=False, linewidths=0.5, ax=ax,
                vmin=0 if share else None, vmax=1 if share else None, annot_kws={"fontsize": 7})
    ax.set_xlabel("peer")
    ax.set_ylabel("vendor")
    return to_svg(fig), f"mean of {metric} per vendor × peer; n samples in each cell"


def _fit_columns(fig, ax, columns: int) -> None:
    """A figure as wide as the row labels and `columns` columns of the widest cell text: one column in
    a figure sized by count was a few pixels wide, its cells ("1.08e+04 (n=8)") over the row labels."""
    renderer = fig.canvas.get_renderer()
    inches = [t.get_window_extent(renderer).width / fig.dpi for t in ax.texts]
    labels = [t.get_window_extent(renderer).width / fig.dpi for t in ax.get_yticklabels()]
    cell = max(inches, default=0.0) + 0.2  # a little room either side of the text
    fig.set_figwidth(max(labels, default=0.0) + 0.6 + columns * max(cell, 0.8))


def _across(g: pd.DataFrame, rows_of: list[str]) -> list[str]:
    """A numeric condition of two or three values for the grid's columns, beside the vendor, when its
    rows would be too many to read (pqc-tls-migration: cert × group × rtt_ms × server_group, 54 rows
    of two vendors; with rtt_ms across, 27 rows of four cells, each delay beside the other): the one
    with the fewest values, or none."""
    if len(rows_of) < 2 or g.groupby(rows_of, dropna=False).ngroups <= READABLE_GRID_ROWS:
        return []
    few = [c for c in rows_of if is_numeric(g[c]) and 2 <= g[c].nunique() <= 3]
    return [min(few, key=lambda c: g[c].nunique())] if few else []


def _cell_shade(med: pd.DataFrame, unit: str, better_high: bool | None,
                encoding: pd.DataFrame) -> pd.DataFrame:
    """Each cell's colour, 1 best and 0 worst, of one block of vendor columns. `encoding`: what each
    cell's rows say about how their value was encoded (the metric's qualifiers; "" where none): a
    cell is ranked only against the cells of its own encoding (openssl's 32-byte seed is not the
    best secret key beside PQClean's 2560-byte full key), and alone in its row it is neutral."""
    kinds = [k for k in pd.unique(encoding.to_numpy().ravel()) if isinstance(k, str)]
    if len(kinds) > 1:
        shade = med * np.nan
        for kind in kinds:
            mine = encoding == kind
            shade = shade.mask(mine, _cell_shade(med.where(mine), unit, better_high, encoding.where(mine)))
        return shade
    low, high = med.min(axis=1), med.max(axis=1)
    if unit in SHARE_UNITS:  # a check passed (1) is good whatever the others did: the absolute 0–1 scale
        shade = med.astype(float)
    elif med.shape[1] == 1:  # one vendor: rows against rows; a WARN (0.5) among PASSes (1) stands out
        span = float(high.max() - low.min())
        shade = (med - float(low.min())) / span if span > 0 else med * 0 + 0.5
    else:  # a row where every vendor measures the same is neither best nor worst: neutral
        shade = med.sub(low, axis=0).div((high - low).replace(0, np.nan), axis=0)
        differ = np.broadcast_to((high > low).to_numpy()[:, None], shade.shape)
        shade = shade.where(differ, 0.5).mask(med.isna())
    return shade if better_high is True else 1 - shade


def grid(g: pd.DataFrame, metric: str, rows_of: list[str], better_high: bool | None,
         qualifiers: list[str]) -> tuple[str, str]:
    """Too many categories for lines: a category × vendor grid of medians, coloured within each row
    (`better_high`: the direction the rows' suite declares; None: neither). Where the rows would be too
    many to read, a numeric condition of a few values goes across (`_across`), and the colours compare
    vendors within a row at each of its values, never one value of it with another. `qualifiers`: the
    labels that say how the rows' values were encoded (Metric.qualified_by), where they differ: cells
    of a different encoding are not ranked against each other."""
    import seaborn as sns

    across = _across(g, rows_of)
    rows_of = [c for c in rows_of if c not in across]
    keys = [*rows_of, *across, "vendor"]
    med = g.groupby(keys, dropna=False)["value"].median().unstack([*across, "vendor"]).sort_index()
    med = med.reindex(columns=sorted(med.columns, key=lambda k: tuple(map(str, k)) if across else str(k)))
    n = g.groupby(keys, dropna=False)["value"].size().unstack([*across, "vendor"]).reindex_like(med)
    if qualifiers:
        encoding = g.groupby(keys, dropna=False)[list(qualifiers)].agg(
            lambda v: "/".join(sorted(set(map(value_text, v.dropna()))))).agg(" ".join, axis=1)
        encoding = encoding.unstack([*across, "vendor"]).reindex_like(med)
    else:  # one encoding throughout
        encoding = pd.DataFrame("", index=med.index, columns=med.columns)
    total_rows = len(med)
    med, n, encoding = med.iloc[:MAX_GRID_ROWS], n.iloc[:MAX_GRID_ROWS], encoding.iloc[:MAX_GRID_ROWS]
    unit = str(g["unit"].iloc[0])
    # A reader compares vendors within a row, so the colour is each row's own best-to-worst scale.
    if across:
        blocks = med.columns.get_level_values(0)
        shade = pd.concat([_cell_shade(med.loc[:, blocks == b], unit, better_high,
                                       encoding.loc[:, blocks == b]) for b in blocks.unique()],
                          axis=1)[med.columns]
    else:
        shade = _cell_shade(med, unit, better_high, encoding)
    alone = (med.shape[1] == 1 if not across
             else all((blocks == b).sum() == 1 for b in blocks.unique()))
    high_good = better_high is True
    annot = med.map(lambda v: number_text(v) if pd.notna(v) else "") + n.map(
        lambda c: f" (n={c:.0f})" if pd.notna(c) else "")
    fig, ax = figure(1.8 + 1.3 * med.shape[1], 0.8 + 0.24 * med.shape[0])
    # without a good direction (an SP 800-22 p-value) no cell is better than another: one neutral shade
    unranked = better_high is None
    sns.heatmap(shade.where(med.isna(), 0.15) if unranked else shade, annot=annot, fmt="",
                cmap="Greys" if unranked else "RdYlGn", vmin=0, vmax=1, cbar=False, linewidths=0.5, ax=ax,
                annot_kws={"fontsize": 6})
    ax.set_yticks(np.arange(med.shape[0]) + 0.5,
                  [" ".join(map(value_text, k)) if isinstance(k, tuple) else value_text(k)
                   for k in med.index], fontsize=6)
    ax.set_ylabel(", ".join(rows_of))
    if across:
        ax.set_xticks(np.arange(med.shape[1]) + 0.5,
                      [f"{vendor}\n{across[0]}={value_text(at)}" for at, vendor in med.columns], fontsize=7)
        ax.set_xlabel(f"vendor, {across[0]}")
    else:
        ax.set_xlabel("vendor")
    _fit_columns(fig, ax, med.shape[1])
    shown = "" if len(med) == total_rows else f"; first {len(med)} of {total_rows} rows"
    at = f" at each {across[0]}" if across else ""
    scale = (f"not coloured: the suite declares no better direction for {metric}" if unranked
             else ("green = 1, red = 0" if high_good else "green = 0, red = 1") if unit in SHARE_UNITS
             else f"green = best of all rows{at}, red = worst (one vendor)" if alone
             else f"green = best in its row{at}, red = worst, yellow where every vendor measures the same")
    if qualifiers and not unranked:
        scale += (f"; a cell is ranked only against cells of the same {', '.join(qualifiers)} "
                  "(yellow: none in its row)")
    if med.isna().to_numpy().any():
        scale += "; blank: no row of that vendor"
    per = (f"per row, {across[0]} and vendor ({across[0]} across: a row holds each of its values)"
           if across else "per row and vendor")
    return to_svg(fig), f"median {metric} [{unit}] {per}; {scale}{shown}"
