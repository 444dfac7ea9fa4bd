from __future__ import annotations

import math

import pandas as pd
import pytest

from harness.store import RunStore, row_columns


def make_store(tmp_path):
    columns = row_columns({"algorithm": "string", "rtt_ms": "float64"}, ["negotiated_group"])
    return RunStore.create(tmp_path / "run", {"run_id": "r1", "columns": columns})


def row(case_id, metric="keygen_us", value=1.0, sample=0, **extra):
    return {"run_id": "r1", "case_id": case_id, "suite": "s", "vendor": "v", "adapter": "a", "repeat": 0,
            "status": "ok", "reason": "", "metric": metric, "value": value, "unit": "us", "sample": sample,
            **extra}


def test_parts_with_different_params_read_back_as_one_table(tmp_path):
    store = make_store(tmp_path)
    store.write_case("c1", [row("c1", algorithm="ML-KEM-768", sample=i) for i in range(3)])
    store.write_case("c2", [row("c2", rtt_ms=31.1, negotiated_group="X25519MLKEM768")])
    df = pd.read_parquet(tmp_path / "run" / "measurements")
    assert len(df) == 4
    assert set(df.columns) == set(store.columns)
    c2 = df[df.case_id == "c2"].iloc[0]
    assert c2.rtt_ms == 31.1 and c2.negotiated_group == "X25519MLKEM768" and pd.isna(c2.algorithm)
    assert store.done_case_ids() == {"c1", "c2"}


def test_rewriting_a_case_replaces_its_rows(tmp_path):
    store = make_store(tmp_path)
    store.write_case("c1", [row("c1", value=1.0)])
    store.write_case("c1", [row("c1", value=2.0)])
    df = store.read()
    assert df["value"].tolist() == [2.0]
    assert [p.name for p in store.parts_dir.iterdir()] == ["c1.parquet"]


def test_unknown_columns_are_refused_and_nothing_is_written(tmp_path):
    store = make_store(tmp_path)
    with pytest.raises(ValueError, match="outside the run schema: \\['surprise'\\]"):
        store.write_case("c1", [row("c1", surprise=1)])
    assert list(store.parts_dir.iterdir()) == []


def test_empty_run_reads_as_empty_table_with_schema(tmp_path):
    df = make_store(tmp_path).read()
    assert df.empty and "metric" in df.columns


def test_param_names_may_not_shadow_core_columns():
    with pytest.raises(ValueError, match="collide"):
        row_columns({"metric": "string"}, [])


def test_nan_values_survive(tmp_path):
    store = make_store(tmp_path)
    store.write_case("c1", [row("c1", value=float("nan"))])
    assert math.isnan(store.read()["value"].iloc[0])
