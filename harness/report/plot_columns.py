"""Which of the varying columns a plot shows: twins, names for combinations of the others and
columns another fixes add nothing but length (or one plot per value), so one of them is kept."""

from __future__ import annotations

import pandas as pd

from harness.report.plot_kinds import is_numeric

MAX_SPLITS = 12  # one plot per condition up to this many; beyond, a grid shows every condition


def untied(g: pd.DataFrame, varying: list[str], keep: set[str]) -> tuple[list[str], dict[str, str]]:
    """The varying columns less those the others already say, so one of them labels a line or
    splits the plots and the rest add nothing but length (or worse, one plot per value):
    - twins, one to one (a fault's index and its kind, a TLS client and its server): kept is a
      possible x axis (numeric, three or more values), else the one a reader reads (text);
    - a name for a combination of the others (a chain's label for its length and hops);
    - a column that one other fixes (the hops of a named layout).
    A column a criterion names is always kept. Returns (kept, dropped → what says it)."""
    def rank(c: str) -> tuple:
        return (c in keep, is_numeric(g[c]) and g[c].nunique() >= 3 and not is_index(g[c]),
                not is_numeric(g[c]))

    def fixed_by(c: str, by: list[str]) -> bool:
        return bool(by) and int(g.groupby(by, dropna=False)[c].nunique(dropna=False).max()) <= 1

    kept: list[str] = []
    said: dict[str, str] = {}
    for c in varying:
        twin = next((k for k in kept if g[k].nunique() == g[c].nunique()
                     == g.groupby([k, c], dropna=False).ngroups), None)
        if twin is None or (c in keep and twin in keep):
            kept.append(c)
        elif rank(c) > rank(twin):
            kept[kept.index(twin)] = c
            said = {d: (c if k == twin else k) for d, k in said.items()} | {twin: c}
        else:
            said[c] = twin
    twins = dict(said)
    for c in list(kept):
        others = [k for k in kept if k != c]
        # too many names for lines or plots (they would hide the sweep); a few (a fault's kind) are read
        if (c not in keep and not is_numeric(g[c]) and g[c].nunique() > MAX_SPLITS and len(others) >= 2
                and fixed_by(c, others)):
            kept.remove(c)
            said[c] = " and ".join(others)
    for c in list(kept):
        # one that a column of too many values for lines fixes stays: it is the sweep's axis (a chain
        # of 195 layouts is read against its length, not as 195 rows)
        by = next((k for k in kept if k != c and fixed_by(c, [k]) and not fixed_by(k, [c])
                   and g[k].nunique() <= MAX_SPLITS), None)
        if by is not None and c not in keep:
            kept.remove(c)
            said[c] = by
    notes = {c: f"{c} goes one to one with {k}, so {k} names both" for c, k in said.items() if c in twins}
    fixed: dict[str, list[str]] = {}
    for c, k in said.items():
        if c not in twins:
            fixed.setdefault(k, []).append(c)
    for k, cs in fixed.items():  # one note per column that names others: captions stay readable
        notes[cs[0]] = (f"{cs[0]} is fixed by {k}, which names it" if len(cs) == 1
                        else f"{', '.join(cs)} are fixed by {k}, which names them")
    return kept, notes


def is_index(col: pd.Series) -> bool:
    """A column named as an index (`fault_index`: a fault's place in the list) counts conditions and
    measures nothing: no axis. Read from the name, as an axis's unit is (`distance_km`): 0, 1, 2 of
    loss_pct are a measure."""
    return str(col.name).endswith("_index")
