"""The panels one metric's rows are drawn in: split while the lines would not fit, and panels with the
same samples under several conditions drawn once, named by each condition."""

from __future__ import annotations

import hashlib
from dataclasses import replace

import pandas as pd

from harness.report.plot_kinds import MAX_LINES, Mark, Plot, value_text

MAX_PANELS = 6


def panels(g: pd.DataFrame, varying: list[str], numeric_x: list[str], named: str = ""):
    """One panel, or one per value of the categorical column with the fewest values when the lines
    would not fit; a panel of lines against a numeric x that still holds too many is split again
    (qkd_procurement's eavesdropping: per defence, then per attack, where one split left 12
    vendor × attack lines, 2 of them unseen)."""
    x = numeric_x[:1]
    # a condition that is one point of the x axis each (a chain's layout) is drawn as points, no line
    hue = [c for c in varying if c not in x
           and not (x and g.groupby(c, dropna=False)[x[0]].nunique().max() == 1)]
    lines = g.groupby(["vendor", *hue], dropna=False).ngroups
    if lines <= MAX_LINES or not hue:
        yield named, g, varying
        return
    split = min(hue, key=lambda c: g[c].nunique())  # few panels, each with the most in it
    if g[split].nunique() > MAX_PANELS:
        yield named, g, varying
        return
    for value, part in g.groupby(split, sort=True):
        rest = [c for c in varying if c != split]
        name = ", ".join(filter(None, [named, f"{split}={value_text(value)}"]))
        along = [c for c in numeric_x if part[c].nunique() >= 3]
        if along:  # lines against x: split again; without an x, many categories make a grid instead
            yield from panels(part, rest, along, name)
        else:
            yield name, part, rest


def merged_name(names: list[str]) -> str:
    """Panels drawn once for several conditions, named by each: "algorithm=ML-DSA-65/ML-DSA-87",
    and for nested panels only the condition that differs: "defence=on, attack=blinding/pns"."""
    parts = [p.split(", ") for p in names]
    if any(len(q) != len(parts[0]) for q in parts):
        return " / ".join(names)
    return ", ".join(said[0] if len(set(said)) == 1
                     else said[0].partition("=")[0] + "=" + "/".join(c.partition("=")[2] for c in said)
                     for said in zip(*parts, strict=True))


def alike_panels(g: pd.DataFrame, varying: list[str], numeric_x: list[str], marks: list[Mark]):
    """The panels, those with the same samples as another drawn once (the conformance grids of ML-DSA-65
    and ML-DSA-87 had the same cells and values): (panel, rows, rest, [(condition, rows)] it stands for)."""
    alike: dict[tuple, list[tuple[str, pd.DataFrame, list[str]]]] = {}
    for panel, part, rest in panels(g, varying, numeric_x):
        alike.setdefault(signature(part, rest, marks), []).append((panel, part, rest))
    for same in alike.values():
        panel, part, rest = same[0]
        if len(same) > 1:
            panel = merged_name([p for p, _, _ in same])
        yield panel, part, rest, [(p, rows) for p, rows, _ in same]


def drawn_once(plots: list[Plot], same: list[tuple[str, pd.DataFrame]], rest: list[str]) -> list[Plot]:
    """The plots of the first of several conditions with identical rows, captioned as standing for all;
    each lists its own cases and their counterparts in the other conditions (row by row, as
    `signature` compares them), not every case of those conditions."""
    columns = signature_columns(same[0][1], rest)
    first = same[0][1].sort_values(columns, kind="stable")["case_id"].to_numpy()
    twins = [dict(zip(first, rows.sort_values(columns, kind="stable")["case_id"].to_numpy(), strict=True))
             for _, rows in same[1:]]
    conditions = "; ".join(condition for condition, _ in same)
    said = f"; these rows are identical in each of {len(same)} conditions, drawn once: {conditions}"
    return [replace(p, caption=p.caption + said, case_ids=tuple(sorted(
        {*p.case_ids, *(twin[c] for twin in twins for c in p.case_ids if c in twin)}))) for p in plots]


def signature_columns(part: pd.DataFrame, rest: list[str]) -> list[str]:
    """What tells one row of a plot from another: vendor, line or axis columns, the peer, the tick."""
    peer = ["peer"] if "peer" in part.columns and part["peer"].notna().any() else []
    return ["vendor", *rest, *peer, "sample"]


def signature(part: pd.DataFrame, rest: list[str], marks: list[Mark]) -> tuple:
    """What one condition's plot would show: its samples by vendor, line and tick, and the criteria on it."""
    columns = signature_columns(part, rest)
    rows = part.sort_values(columns, kind="stable")[[*columns, "value"]]
    digest = hashlib.sha256(pd.util.hash_pandas_object(rows, index=False).to_numpy().tobytes()).hexdigest()
    return tuple(m.criterion for m in marks if m.judges(part)), len(rows), digest
