"""Evaluation commands: `verdicts`, `compare`, `history` (added to the `qsbench` app by `register`)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from harness.cli.console import stdout_console

# Imported by each command when it runs (scipy, pandas and DuckDB take seconds), so `qsbench --help`
# does not pay for them.

out = stdout_console()
STYLE = {"pass": "green", "fail": "red", "n/a": "yellow"}


def _load(run_dir: Path):
    from harness.rundata import RunDirError, load

    try:
        return load(run_dir)
    except (RunDirError, OSError, ValueError) as exc:
        print(f"{run_dir}: {exc}", file=sys.stderr)
        raise typer.Exit(2) from None


def _short(text: str, limit: int = 160) -> str:
    """Terminal tables keep reasons to a glance; results.json and the report keep them whole."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _pairs(items: list[str], what: str) -> dict[str, str]:
    pairs = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            print(f"{what} {item!r}: write it as KEY=VALUE", file=sys.stderr)
            raise typer.Exit(2)
        pairs[key] = value
    return pairs


def _ranked(score) -> str:
    """`vendor total [low, high]` of a `harness.evaluation.scorecard.VendorScore`, gate failures marked."""
    lo, hi = score.total_interval
    return (f"{score.vendor} {score.total:.1f} [{lo:.1f}, {hi:.1f}]"
            + (" [red](gate failed)[/]" if score.failed_gates else ""))


def verdicts(run_dir: Annotated[Path, typer.Argument(help="a run directory under results/")]) -> None:
    """Print the success-criteria verdicts of a run; exit 1 when a mandatory criterion is not met.

    Each verdict shows the statistic, its 95 % bootstrap interval and the sample count; "marginal"
    means the threshold lies inside the interval.

    Example: [bold]qsbench verdicts results/20261124T120000Z-pilot-1a2b[/bold]
    """
    from harness.cli.console import Notes
    from harness.cli.console import table as console_table
    from harness.evaluation.evaluate import evaluate_run
    from harness.evaluation.summary import fmt

    ev = evaluate_run(_load(run_dir))
    if not ev.verdicts:
        out.print(f"{run_dir}: the scenario states no criteria")
        return
    notes = Notes()
    table = console_table(f"Verdicts ({ev.run.run_id})",
                          ("criterion", "vendor", "verdict", "value", "95% CI", "n", "requirement", "reason"))
    for v in ev.verdicts:
        ci = f"[{fmt(v.evidence.ci[0])}, {fmt(v.evidence.ci[1])}]" if v.evidence.ci else ""
        value = "" if v.evidence.value is None else f"{fmt(v.evidence.value)} {v.evidence.unit or ''}"
        name = v.criterion.id + (" (gate)" if v.criterion.gate else "")
        requirement = f"{v.criterion.statistic} {v.criterion.op} {v.criterion.threshold}"
        table.add_row(name, v.vendor, f"[{STYLE[v.outcome]}]{v.label}[/]", value, ci, str(v.evidence.n),
                      requirement, notes.ref(v.reason))
    out.print(table)
    notes.print(out)
    if ev.scorecard is not None and len(ev.scorecard.vendors) > 1:
        card = ev.scorecard
        text = [_ranked(card.vendors[0])]
        for step, s in zip(card.steps, card.vendors[1:], strict=True):
            sign = {"overlap": " [yellow]≈[/] ", "tie": " [yellow]=[/] "}.get(step.by, " > ")
            text += [sign, _ranked(s)]
        out.print("ranking: " + "".join(text))
        if any(step.by == "overlap" for step in card.steps):
            out.print("[yellow]≈: score intervals overlap, so the data do not support that order[/]")
        if any(step.by == "tie" for step in card.steps):
            out.print("[yellow]=: the same total, a tie (listed alphabetically)[/]")
    for v in ev.gate_failures:
        out.print(f"[red]mandatory criterion {v.criterion.id} not met by {v.vendor}[/]: ", end="")
        out.print(notes.ref(v.reason), markup=False, highlight=False)
    notes.print(out)
    raise typer.Exit(ev.exit_code)


def compare_cmd(
    run_dir: Annotated[Path, typer.Argument(help="the run to judge")],
    baseline: Annotated[str, typer.Option(help="'latest' (the newest earlier run of the same scenario "
                                               "next to RUN_DIR), 'history' or 'history:N' (the last N such "
                                               "runs, default 10), or a run directory")] = "latest",
    alpha: Annotated[float | None, typer.Option(help="significance level of the test on repeats "
                                                     "(default: the scenario's, else 0.01)")] = None,
    threshold: Annotated[float | None, typer.Option(help="relative change that matters, 0.10 = 10 % "
                                                         "(default: the scenario's, else 0.10)")] = None,
    metric_threshold: Annotated[list[str] | None, typer.Option(
        "--metric-threshold", help="per-metric override METRIC=FRACTION, repeatable")] = None,
    junit_xml: Annotated[Path | None, typer.Option("--junit", help="also write JUnit XML here")] = None,
) -> None:
    """Compare a run with a baseline experiment by experiment; exit 1 on a regression.

    The evidence is the repeats (each in a worker process of its own), never the samples inside
    one process: a metric regresses when the (1 − alpha) interval of its change (Welch's t over
    the repeats, timings on their 10th percentiles less the repeats a busy host slowed; against a
    history of three runs or more, the run-to-run spread of earlier runs) lies wholly beyond the
    threshold the metric's declared bad way. Deterministic metrics (sizes, verdicts, mismatch
    counts) regress on any move the bad way. A case that stopped finishing or went missing is a
    regression too. An interval that holds the threshold is "host unstable" where a run's repeats
    broke pyperf's stability rules and "too few repeats" otherwise, never "unchanged".

    Example: [bold]qsbench compare results/RUN --baseline history:7 --metric-threshold handshake_ms=0.2[/bold]
    """
    from harness.cli.console import table as console_table
    from harness.evaluation import junit
    from harness.evaluation.compare import compare, resolve_baseline
    from harness.evaluation.criteria_spec import RegressionPolicy
    from harness.evaluation.summary import fmt
    from harness.rundata import RunDirError

    current = _load(run_dir)
    try:
        base_dirs = resolve_baseline(run_dir, baseline)
    except RunDirError as exc:
        print(str(exc), file=sys.stderr)
        raise typer.Exit(2) from None
    base = _load(base_dirs[0]) if len(base_dirs) == 1 else base_dirs
    policy = current.scenario.regression if current.scenario else RegressionPolicy()
    updates = {k: v for k, v in (("alpha", alpha), ("threshold", threshold)) if v is not None}
    overrides = {k: float(v) for k, v in _pairs(metric_threshold or [], "--metric-threshold").items()}
    if overrides:
        updates["metrics"] = {**policy.metrics, **overrides}
    policy = RegressionPolicy(**{**policy.model_dump(), **updates})
    result = compare(current, base, policy)
    columns = ("kind", "suite", "vendor", "metric", "baseline", "current", "change", "p", "repeats", "case",
               "note")
    table = console_table(f"{result.run_id} against {result.baseline_run_id}", columns)
    shown = [c for c in result.changes if c.kind != "unchanged"]
    for c in shown:
        colour = {"regression": "red", "status": "red", "case missing": "red",
                  "improvement": "green"}.get(c.kind, "yellow")
        table.add_row(f"[{colour}]{c.kind}[/]", c.suite, c.vendor, c.metric, fmt(c.baseline),
                      f"{fmt(c.current)} {c.unit}", "" if c.change is None else f"{c.change:+.1%}",
                      "" if c.p_value is None else f"{c.p_value:.2g}", f"{c.n_baseline}/{c.n_current}",
                      c.case_id, _short(c.note))
    if shown:
        out.print(table)
    unchanged = len(result.changes) - len(shown)
    unstable = sum(c.kind == "host unstable" for c in result.changes)
    out.print(f"{len(result.regressions)} regressions, {len(result.improvements)} improvements, "
              f"{unchanged} unchanged, {unstable} host unstable "
              f"(alpha {policy.alpha}, threshold {policy.threshold:.0%})")
    if junit_xml is not None:
        junit.write(junit_xml, result.run_id, [], result)
    raise typer.Exit(1 if result.regressions else 0)


def history(
    metric: Annotated[str, typer.Argument(help="metric name, e.g. handshake_ms")],
    where: Annotated[list[str] | None, typer.Option(help="filter COLUMN=VALUE, repeatable")] = None,
    by: Annotated[list[str] | None, typer.Option(help="split the series by this column, repeatable")] = None,
    scenario: Annotated[str | None, typer.Option(help="only runs of this scenario name")] = None,
    results: Annotated[Path, typer.Option(help="the results store")] = Path("results"),
    threshold: Annotated[float, typer.Option(help="smallest relative step worth reporting")] = 0.10,
    plot: Annotated[Path | None, typer.Option(help="also draw the series to this SVG file")] = None,
) -> None:
    """Print a metric's per-run medians across the results store and the steps found in them.

    Rows of every run under RESULTS are queried with DuckDB; the manifests order the runs.

    Example: [bold]qsbench history handshake_ms --where group=X25519MLKEM768 --plot h.svg[/bold]
    """
    import numpy as np

    from harness.cli.console import listing
    from harness.evaluation.history import query, steps
    from harness.evaluation.summary import fmt

    try:
        series = query(results, metric, _pairs(where or [], "--where"), by, scenario)
    except KeyError as exc:
        print(exc.args[0], file=sys.stderr)
        raise typer.Exit(2) from None
    if series.empty:
        out.print(f"no ok rows of {metric} under {results}")
        raise typer.Exit(1)
    keys = ["vendor", *(by or [])]
    rows = [[r["run_id"], str(r["started"]), *[str(r[k]) for k in keys], str(r["n"]), str(r["cases"]),
             fmt(r["median"]), f"{fmt(r['p25'])}–{fmt(r['p75'])}"] for r in series.to_dict("records")]
    out.print(f"{metric} per run", style="bold")
    out.print(listing(("run", "started", *keys, "n", "cases", "median", "p25–p75"), rows,
                      right=("n", "cases", "median")), markup=False, highlight=False, soft_wrap=True)
    for key, part in series.groupby(keys, sort=True):
        part = part[np.isfinite(part["median"].to_numpy(dtype=float))]  # an infinite value has no level
        for step in steps(part["median"].to_numpy(), threshold):
            run = part["run_id"].iloc[step.index]
            change = "" if step.change is None else f" ({step.change:+.1%})"
            out.print(f"step for {key}: {fmt(step.before)} → {fmt(step.after)}{change} at run {run}")
    if plot is not None:
        from harness.report.trends import series_svg

        plot.write_text(series_svg(series, metric, keys, threshold))
        print(plot)


def register(app: typer.Typer) -> None:
    app.command()(verdicts)
    app.command("compare")(compare_cmd)
    app.command()(history)
