"""The evaluation part of `summary.md`: verdicts, scorecard, regressions, from `results.json` data."""

from __future__ import annotations

from typing import Any

from harness.evaluation.summary import fmt

_STEP = {"gates": "mandatory gates", "scores": "score (intervals apart)",
         "overlap": "not supported: intervals overlap", "tie": "not ahead: the same score"}


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def evaluation_markdown(res: dict[str, Any]) -> str:
    lines: list[str] = []
    if res["verdicts"]:
        lines += ["# Verdicts", ""]
        if res["gate_failures"]:
            lines += [f"**Mandatory criteria not met: {len(res['gate_failures'])}** ("
                      + "; ".join(f"{g['criterion']} for {g['vendor']}: {g['outcome']}"
                                  for g in res["gate_failures"]) + ")", ""]
        else:
            lines += ["Every mandatory criterion is met.", ""]
        lines += ["| criterion | vendor | verdict | value | 95% CI | n | threshold | reason |",
                  "|---|---|---|---:|---|---:|---|---|"]
        for v in res["verdicts"]:
            ci = f"[{fmt(v['ci_low'])}, {fmt(v['ci_high'])}]" if v["ci_low"] is not None else ""
            value = f"{fmt(v['value'])} {v['unit'] or ''}" if v["value"] is not None else ""
            gate = " (mandatory)" if v["gate"] else ""
            lines.append(f"| {v['criterion']}{gate} | {v['vendor']} | {v['label']} | {value} | {ci} | "
                         f"{v['n']} | {v['op']} {v['threshold_stated']} | {_cell(v['reason'])} |")
        lines.append("")
    card = res["scorecard"]
    if card:
        lines += ["# Scorecard", "",
                  "| rank | vendor | total (0–100) | score interval | mandatory gates "
                  "| ahead of the next because |",
                  "|---:|---|---:|---|---|---|"]
        steps = card["steps"]
        for i, s in enumerate(card["ranking"]):
            gates = f"**failed: {', '.join(s['failed_gates'])}**" if s["failed_gates"] else "all met"
            lo, hi = s["total_interval"]
            ahead = _STEP[steps[i]["by"]] if i < len(steps) else ""
            lines.append(f"| {s['rank']} | {s['vendor']} | {fmt(s['total'])} | [{fmt(lo)}, {fmt(hi)}] "
                         f"| {gates} | {ahead} |")
        lines += ["", "Score interval: the total with every criterion's statistic anywhere in its 95 % "
                  "interval."]
        overlaps = [" ≈ ".join(run["vendors"]) for run in card["shared"] if run["by"] == "overlap"]
        if overlaps:
            lines += ["", "**The data do not support this ranking** where the score intervals overlap: "
                      + ", ".join(overlaps) + "."]
        ties = [" = ".join(run["vendors"]) for run in card["shared"] if run["by"] == "tie"]
        if ties:
            lines += ["", "**Tied** (the same total, listed alphabetically): " + ", ".join(ties) + "."]
        if card["shared"]:
            lines += ["", "Vendors the data do not separate share a rank; the sensitivity below does not "
                      "count their order."]
        changed = [p for p in card["sensitivity"] if p["changed"]]
        lines.append("")
        if len(card["ranking"]) > 1:
            lines.append("Sensitivity (each weight ±20 %): " + (
                "the mandatory gates set the order, not the weights." if not card["weights_decide"] else
                "the ranking never changes." if not changed else
                f"{len(changed)} of {len(card['sensitivity'])} perturbations reorder it; deciding criteria: "
                + (", ".join(card["decisive"]) or "none (category weights only)") + "."))
            lines.append("")
    comp = res["comparison"]
    if comp:
        lines += [f"# Changes against {comp['baseline_run_id']}", "",
                  "Counts: " + ", ".join(f"{k} {n}" for k, n in sorted(comp["counts"].items())), ""]
        flagged = [c for c in comp["changes"] if c["kind"] in ("regression", "status", "improvement")]
        if flagged:
            lines += ["| kind | suite | vendor | metric | baseline | current | change | p | case |",
                      "|---|---|---|---|---:|---:|---:|---:|---|"]
            for c in flagged:
                change = f"{c['change']:+.1%}" if c["change"] is not None else ""
                p = f"{c['p_value']:.2g}" if c["p_value"] is not None else ""
                lines.append(f"| {c['kind']} | {c['suite']} | {c['vendor']} | {c['metric']} | "
                             f"{fmt(c['baseline_level'])} | {fmt(c['current_level'])} {c['unit']} | "
                             f"{change} | {p} | {c['case_id']} |")
            lines.append("")
    return "\n".join(lines)
