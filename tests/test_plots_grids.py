"""What a grid's colours say: best and worst within a row, on the good direction its suite
declares, never across encodings or for a metric without one; checks on their absolute scale."""

from __future__ import annotations

from matplotlib import colormaps
from matplotlib.colors import to_hex

from harness.metrics import Declarations
from harness.report.plots import evidence_plots
from harness.suite import Metric
from tests.evalkit import case_rows, frame

GREEN, YELLOW, RED = (to_hex(colormaps["RdYlGn"](at)) for at in (1.0, 0.5, 0.0))


def test_a_grid_of_checks_colours_a_pass_green_even_where_every_vendor_passes():
    rows = []
    for vendor, failed in (("a", {3}), ("b", set())):
        for check in range(12):  # 2 vendors × 12 checks > 10 lines: a grid
            rows += [{**r, "check": f"check-{check:02d}"} for r in case_rows(
                "r", "conf", vendor, {"algorithm": "ML-KEM-768"}, "conformant", "bool",
                [0.0 if check in failed else 1.0], repeat=check)]
    df = frame(rows, {"algorithm": "string"}).assign(check=[r["check"] for r in rows])
    passed = Declarations({"conf": {"conformant": Metric("bool", "higher")}})
    (grid,) = [p for p in evidence_plots(df, ["algorithm"], ["check"], declarations=passed).plots
               if "grid" in p.title]
    assert "green = 1, red = 0" in grid.caption
    assert grid.svg.count(RED) == 1 and grid.svg.count(GREEN) == 23


def test_a_warned_check_is_yellow_however_many_vendors_the_grid_holds():
    """qkd-link-pilot's ETSI 014 grid drew keys_exhausted_503's WARN (0.5) of both vendors yellow like
    the PASSes beside it (every vendor the same), and pilot-dci's, of one vendor, red like a FAIL."""
    passed = Declarations({"conf": {"etsi014_check": Metric("pass", "higher")}})
    for vendors in (("a", "b"), ("a",)):
        rows = []
        for vendor in vendors:
            for check in range(12):
                verdict = 0.5 if check == 4 else 1.0
                rows += [{**r, "check": f"check-{check:02d}"} for r in case_rows(
                    "r", "conf", vendor, {}, "etsi014_check", "pass", [verdict], repeat=check)]
        df = frame(rows, {}).assign(check=[r["check"] for r in rows])
        (grid,) = evidence_plots(df, [], ["check"], declarations=passed).plots
        assert [grid.svg.count(c) for c in (GREEN, YELLOW, RED)] == [11 * len(vendors), len(vendors), 0]
        assert "green = 1, red = 0" in grid.caption


def test_a_grid_of_a_metric_without_a_good_direction_ranks_nothing():
    """qkd-link-pilot coloured SP 800-22 p-values green and red, 'best in its row', though a p-value of
    0.1 is no better than one of 0.4 and the suite declares no direction."""
    rows = []
    for vendor, shift in (("a", 0.0), ("b", 0.3)):
        for i in range(13):  # > MAX_SPLITS conditions: a grid
            rows += [{**r, "test": f"test-{i:02d}"} for r in case_rows(
                "r", "quality", vendor, {"block": "1"}, "p_value", "p", [0.1 + 0.05 * i + shift], repeat=i)]
    df = frame(rows, {"block": "string"}).assign(test=[r["test"] for r in rows])
    for better, ranked in (("none", False), ("higher", True)):
        declared = Declarations({"quality": {"p_value": Metric("p", better)}})
        (grid,) = evidence_plots(df, ["block"], ["test"], declarations=declared).plots
        assert any(c in grid.svg for c in (GREEN, YELLOW, RED)) is ranked, grid.caption
        unranked = "not coloured: the suite declares no better direction for p_value"
        assert (unranked in grid.caption) is not ranked


def test_a_grid_ranks_a_cell_only_against_cells_of_its_own_encoding():
    """pqc-primitives coloured openssl's 32-byte seed green, the best secret key, beside PQClean's
    2560-byte full key in red: sizes of two encodings ranked as one."""
    rows, encoding = [], []
    made = (("openssl", "seed", 32), ("pqclean", "full key", 2400), ("ref", "full key", 2500))
    for vendor, enc, size in made:
        for i in range(12):  # 3 vendors × 12 algorithms > 10 lines: a grid
            rows += case_rows("r", "prims", vendor, {"algorithm": f"alg-{i:02d}"}, "secret_key_bytes",
                              "bytes", [size], repeat=i)
            encoding.append(enc)
    df = frame(rows, {"algorithm": "string"}).assign(secret_key_encoding=encoding)
    declared = Declarations({"prims": {"secret_key_bytes": Metric("bytes", "lower",
                                                                  qualified_by=("secret_key_encoding",))}})
    (grid,) = evidence_plots(df, ["algorithm"], ["secret_key_encoding"], declarations=declared).plots
    # each row: the seed alone in its encoding (neutral), the smaller full key best, the larger worst
    assert [grid.svg.count(c) for c in (GREEN, YELLOW, RED)] == [12, 12, 12], grid.caption
    assert "ranked only against cells of the same secret_key_encoding" in grid.caption
    undeclared = Declarations({"prims": {"secret_key_bytes": Metric("bytes", "lower")}})
    (ranked,) = evidence_plots(df, ["algorithm"], ["secret_key_encoding"], declarations=undeclared).plots
    assert [ranked.svg.count(c) for c in (GREEN, YELLOW, RED)] == [12, 0, 12]  # the seed "best"
