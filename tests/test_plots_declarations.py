"""What a suite's metric declarations tell the evidence plots: reference curves drawn on the metric
they bound only, a suite's own summaries not drawn again, and the labels that make rows unlike
(Metric.qualified_by) noted; declarations that cannot hold are refused."""

from __future__ import annotations

import json

import numpy as np
import pytest

from harness.metrics import Declarations
from harness.report.plots import evidence_plots
from harness.suite import Metric, Suite
from tests.evalkit import case_rows, frame


def test_a_declared_reference_is_drawn_on_its_own_metric_only():
    rows = []
    for frac in (0.0, 0.25, 0.5, 1.0):
        p = {"fraction": frac}
        rows += case_rows("r", "eve", "dev", p, "qber_rise", "ratio", [frac / 4 + 0.001], repeat=0)
        rows += case_rows("r", "eve", "dev", p, "qber_rise_expected", "ratio", [frac / 4], repeat=1)
        rows += case_rows("r", "eve", "dev", p, "delivering_share_attacked", "ratio", [1 - frac], repeat=2)
    declared = Declarations({"eve": {
        "qber_rise": Metric("ratio", "none"), "delivering_share_attacked": Metric("ratio", "none"),
        "qber_rise_expected": Metric("ratio", "none", reference_for=("qber_rise",))}})
    df = frame(rows, {"fraction": "float64"})
    ordered = evidence_plots(df, ["fraction"], declarations=declared).plots
    assert ordered[0].title == "eve: qber_rise (against fraction)"  # the one with its reference first
    plots = {p.title: p for p in ordered}
    assert "qber_rise_expected" in plots["eve: qber_rise (against fraction)"].svg
    assert "qber_rise_expected" not in plots["eve: delivering_share_attacked (against fraction)"].svg
    assert len(plots) == 2
    # the name alone makes nothing a reference: undeclared, it is a metric of its own
    undeclared = {p.title for p in evidence_plots(df, ["fraction"]).plots}
    assert "eve: qber_rise_expected (against fraction)" in undeclared


def test_the_secret_key_bounds_go_on_the_secret_key_rate_not_on_the_sifted_rate():
    rows = []
    for km in (10.0, 50.0, 100.0):
        eta = 0.1 * 10 ** (-0.02 * km)
        p = {"distance_km": km}
        for i, (metric, value) in enumerate([
                ("secret_key_rate_bps", 1e6 * eta * 0.1), ("sifted_rate_bps", 1e6 * eta),
                ("plob_bound_bps", 1e6 * -np.log2(1 - eta)), ("analytic_asymptotic_bps", 1e6 * eta * 0.12)]):
            rows += case_rows("r", "key_rate", "sim", p, metric, "bit/s", [value * 1.01, value], repeat=i)
    plots = {p.title: p for p in evidence_plots(frame(rows, {"distance_km": "float64"}), ["distance_km"],
                                                declarations=Declarations.installed(["key_rate"])).plots}
    secret = plots["key_rate: secret_key_rate_bps (against distance_km)"]
    sifted = plots["key_rate: sifted_rate_bps (against distance_km)"]
    assert "plob_bound_bps" in secret.svg and "analytic_asymptotic_bps" in secret.svg
    assert "plob_bound_bps" not in sifted.svg and "analytic_asymptotic_bps" not in sifted.svg
    assert "dashed" not in sifted.caption and len(plots) == 2  # and no reference drawn alone


def test_a_suites_own_summary_of_its_samples_is_not_drawn_again_and_the_name_alone_decides_nothing():
    rows = []
    for km in (10.0, 50.0, 100.0):
        for metric, values in (("secret_key_rate_bps", [90.0 / km, 100.0 / km, 110.0 / km]),
                               ("secret_key_rate_bps_mean", [100.0 / km]),
                               ("secret_key_rate_bps_ci_low", [80.0 / km]), ("qber_mean", [km / 1e4])):
            rows += case_rows("r", "key_rate", "sim", {"distance_km": km}, metric,
                              "ratio" if metric.startswith("qber") else "bit/s", values)
    df = frame(rows, {"distance_km": "float64"})
    declared = {p.title for p in evidence_plots(df, ["distance_km"],
                                                declarations=Declarations.installed(["key_rate"])).plots}
    # the mean and interval of the drawn key rate are not drawn; qber_mean summarises qber, absent here
    assert declared == {"key_rate: secret_key_rate_bps (against distance_km)",
                        "key_rate: qber_mean (against distance_km)"}
    # undeclared, a name ending in _mean or _ci_low is a metric of its own
    undeclared = {p.title for p in evidence_plots(df, ["distance_km"]).plots}
    assert "key_rate: secret_key_rate_bps_ci_low (against distance_km)" in undeclared
    assert "key_rate: secret_key_rate_bps_mean (against distance_km)" in undeclared
    with pytest.raises(TypeError, match=r"summarises 'rate', which is not another metric it declares"):
        type("Broken", (Suite,), {"metrics": {"rate_mean": Metric("bit/s", "higher", summarises="rate")}})


def test_a_reference_for_a_metric_the_suite_does_not_declare_is_refused():
    with pytest.raises(TypeError, match=r"for 'secret_key_rate', which is not another metric it declares"):
        type("Broken", (Suite,), {"metrics": {
            "secret_key_rate_bps": Metric("bit/s", "higher"),
            "plob_bound_bps": Metric("bit/s", "none", reference_for=("secret_key_rate",))}})


def test_a_run_keeps_what_its_references_are_for():
    from harness.metrics import snapshot
    from suites.key_rate import KeyRate

    kept = json.loads(json.dumps({"metrics": snapshot([KeyRate])}))  # as the manifest stores it
    declared = Declarations.of_run(kept)
    assert declared.get("key_rate", "plob_bound_bps").reference_for == ("secret_key_rate_bps",)
    assert hash(declared.get("key_rate", "plob_bound_bps"))  # still hashable after JSON
    assert declared.get("key_rate", "sifted_rate_bps").reference_for == ()


def test_sizes_of_different_key_encodings_are_noted_as_such():
    rows, encoding = [], []
    for vendor, enc, sizes in (("openssl", "seed", (64, 32)), ("pqclean", "full key", (2400, 4032))):
        for i, (alg, size) in enumerate(zip(("ML-KEM-768", "ML-DSA-65"), sizes, strict=True)):
            rows += case_rows("r", "prims", vendor, {"algorithm": alg}, "secret_key_bytes", "bytes", [size],
                              repeat=i)
            encoding.append(enc)
    df = frame(rows, {"algorithm": "string"}).assign(secret_key_encoding=encoding)
    declared = Declarations({"prims": {"secret_key_bytes": Metric("bytes", "none",
                                                                  qualified_by=("secret_key_encoding",))}})
    (plot,) = evidence_plots(df, ["algorithm"], ["secret_key_encoding"], declarations=declared).plots
    assert ("the rows differ in secret_key_encoding (openssl: seed; pqclean: full key): values of a "
            "different secret_key_encoding are not like for like") in plot.caption
    same = df.assign(secret_key_encoding="full key")  # one encoding throughout: nothing to warn of
    (plain,) = evidence_plots(same, ["algorithm"], ["secret_key_encoding"], declarations=declared).plots
    assert "secret_key_encoding" not in plain.caption
    # the note is the suite's word: a metric that does not declare the label qualifies it draws none
    (undeclared,) = evidence_plots(df, ["algorithm"], ["secret_key_encoding"]).plots
    assert "not like for like" not in undeclared.caption


def test_a_qualifier_or_a_per_label_must_be_a_label_the_suite_declares():
    with pytest.raises(TypeError, match="qualified by 'encoding', which is not in its label_columns"):
        sizes = Metric("bytes", "none", qualified_by=("encoding",))
        type("Sizes", (Suite,), {"name": "sizes", "label_columns": ("mode",), "metrics": {"bytes": sizes}})
    with pytest.raises(TypeError, match="is per 'link', which is not in its label_columns"):
        rates = Metric("bit/s", "higher", per=("link",))
        type("Rates", (Suite,), {"name": "rates", "label_columns": ("node",), "metrics": {"rate": rates}})


def test_a_label_that_follows_the_condition_needs_no_like_for_like_note():
    rows, negotiated = [], []
    for vendor in ("a", "b"):
        for j, group in enumerate(("X25519", "X25519MLKEM768")):
            rows += case_rows("r", "tls", vendor, {"group": group}, "handshake_ms", "ms", [3.0, 4.0, 5.0],
                              repeat=j)
            negotiated += [group] * 3
    df = frame(rows, {"group": "string"}).assign(negotiated_group=negotiated)
    timed = Metric("ms", "lower", qualified_by=("negotiated_group",))
    declared = Declarations({"tls": {"handshake_ms": timed}})
    plots = evidence_plots(df, ["group"], ["negotiated_group"], declarations=declared).plots
    assert plots and not any("negotiated_group" in p.caption for p in plots)
    # a server that answered both groups with X25519: the same label now differs within a condition
    fell_back = df.assign(negotiated_group=df["group"].where(df["vendor"] == "b", "X25519"))
    noted = evidence_plots(fell_back, ["group"], ["negotiated_group"], declarations=declared).plots
    assert any("values of a different negotiated_group are not like for like" in p.caption for p in noted)
