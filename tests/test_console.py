"""What the console shows: booleans as counts with the false ones named, long reasons once,
identifiers never wrapped mid-word."""

from __future__ import annotations

import io

import pandas as pd
from rich.console import Console

from harness.cli.console import Notes, table
from harness.evaluation.summary import declared_better, fmt, outcome, problems, summarize, to_markdown


def _rows() -> pd.DataFrame:
    base = {"run_id": "r", "suite": "pqc_conformance", "vendor": "pqclean", "adapter": "pqclean",
            "repeat": 0, "status": "ok", "reason": None, "algorithm": "ML-KEM-768", "unit": "bool"}
    checks = [("ct_too_short", 1), ("pk_coefficient_ge_q", 0), ("ct_too_long", 1), ("sk_hash", 1)]
    rows = [{**base, "case_id": "c1", "metric": "input_check_ok", "value": float(ok), "sample": i,
             "input_check": name} for i, (name, ok) in enumerate(checks)]
    rows += [{**base, "case_id": "c2", "metric": "keygen_us", "value": v, "unit": "us", "sample": i,
              "input_check": None} for i, v in enumerate((10.0, 20.0, 30.0))]
    return pd.DataFrame(rows)


def test_a_failed_boolean_check_is_counted_and_named_never_a_median():
    summary = summarize(_rows(), ["algorithm"])
    check = summary[summary.metric == "input_check_ok"].iloc[0]
    assert outcome(check, "higher") == "3 of 4 passed (failed: input_check=pk_coefficient_ge_q)"
    assert outcome(check, None) == "3 of 4 true (false: input_check=pk_coefficient_ge_q)"
    assert outcome(check, "lower") == "3 of 4 true"
    assert outcome(check, "higher", named=False) == "3 of 4 passed"
    timing = summary[summary.metric == "keygen_us"].iloc[0]
    assert timing["false_samples"] == "" and timing["median"] == 20.0

    manifest = {"metrics": {"pqc_conformance": {"input_check_ok": {"unit": "bool", "better": "higher"}}}}
    assert declared_better(manifest, "pqc_conformance", "input_check_ok") == "higher"
    assert declared_better({}, "pqc_conformance", "input_check_ok") is None
    md = to_markdown(summary, pd.DataFrame(), ["algorithm"], "t", manifest)
    assert "| 3 of 4 passed (failed: input_check=pk_coefficient_ge_q) |" in md
    assert "median 1" not in md and "| 1 | 1–1 |" not in md


def test_numbers_have_no_thousands_separators_that_read_as_list_commas():
    assert f"[{fmt(404844.0)}, {fmt(441775.0)}]" == "[404844, 441775]"
    assert fmt(253.6) == "253.6" and fmt(2.5e7) == "2.500e+07"


def test_a_long_reason_is_printed_once_and_referred_to():
    notes = Notes(limit=80)
    reason = "liboqs unavailable: liboqs shared library not found; looked in: " + "/usr/lib/x " * 80
    first, second = notes.ref(reason), notes.ref(reason)
    assert first == second and first.endswith("(note 1)") and len(first) < 80
    assert notes.ref("short reason") == "short reason"
    buffer = io.StringIO()
    console = Console(file=buffer, width=200)
    notes.print(console)
    notes.print(console)
    assert buffer.getvalue().count("note 1: liboqs unavailable") == 1


def test_summary_md_states_a_reason_several_lines_give_once():
    reason = "liboqs unavailable: liboqs shared library not found; looked in: " + "/usr/lib/x " * 80
    cases = pd.DataFrame([
        {"case_id": f"c{i}", "suite": suite, "vendor": "liboqs", "status": "n/a", "reason": reason}
        for i, suite in enumerate(("pqc_primitives", "pqc_primitives", "interop", "pqc_conformance"))])
    cases.loc[len(cases)] = {"case_id": "c9", "suite": "interop", "vendor": "openssl", "status": "failed",
                             "reason": "peer refused"}
    md = to_markdown(summarize(_rows(), ["algorithm"]), problems(cases), ["algorithm"], "t")
    assert md.count(reason) == 1 and md.count("see note 1") == 3
    assert "| peer refused |" in md and f"1. {reason}" in md


def test_identifiers_do_not_wrap_mid_word_in_a_narrow_console():
    shown = table("t", ("vendor", "algorithm", "metric", "reason"))
    for algorithm in ("ML-KEM-768", "X25519MLKEM768"):
        shown.add_row("pqclean", algorithm, "secret_key_bytes", "a reason long enough to wrap " * 6)
    buffer = io.StringIO()
    Console(file=buffer, width=60).print(shown)  # where a folding table broke "X25519MLKEM768"
    text = buffer.getvalue()
    assert "ML-KEM-768" in text and "X25519MLKEM768" in text and "secret_key_bytes" in text


def test_a_count_parameter_in_a_float_column_reads_as_an_integer():
    """trusted_nodes' hops shares a column with suites that lack it (NaN), so it is stored as float:
    summary.md and the console read 'hops=3.0'."""
    rows = _rows().assign(hops=3.0)
    rows.loc[rows["case_id"] == "c2", "hops"] = float("nan")  # another suite's case, no hops
    md = to_markdown(summarize(rows, ["algorithm", "hops"]), problems(pd.DataFrame(
        columns=["case_id", "suite", "vendor", "status", "reason"])), ["algorithm", "hops"], "t")
    assert "algorithm=ML-KEM-768, hops=3 |" in md and "hops=3.0" not in md
