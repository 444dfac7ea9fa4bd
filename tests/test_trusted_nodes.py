"""Trusted-node networks: max flow against hand arithmetic, the relay Monte Carlo, faults."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from pydantic import ValidationError

import suites.trusted_nodes as tn
from harness.store import RunStore
from harness.suite import MeasureContext
from suites.trusted_nodes import TrustedNodes, TrustedNodesParams
from tests.conftest import qsbench_cmd
from vendors.simulated_qkd.adapter import SimulatedQKDAdapter

SHARE = 4096 / (4096 + 256)


def _measure(tmp_path: Path, layout: dict, **extra) -> dict:
    suite = TrustedNodes()
    params = TrustedNodesParams.model_validate({"layouts": [layout], "duration_s": 300, "step_s": 10,
                                                "trials": 4, **extra})
    (case,) = suite.cases(params)
    adapter = SimulatedQKDAdapter({"profile": "lim-2014"})
    try:
        rows = list(suite.measure(adapter, params, case, MeasureContext(7, tmp_path, 60)))
    finally:
        adapter.close()
    out: dict = {"case": case}
    for m in rows:
        key = m.metric if not m.labels else (m.metric, *m.labels.values())
        out.setdefault(key, []).append(m.value)
    return out


def _rate(km: float) -> float:
    from harness.qkd.profiles import load_profile

    return tn._link_rate_bps(load_profile("lim-2014"), km)


def test_a_chain_delivers_its_slowest_hop_less_the_relay_overhead(tmp_path):
    got = _measure(tmp_path, {"name": "c", "links": [{"a": "A", "b": "R1", "km": 60},
                                                     {"a": "R1", "b": "B", "km": 90}]})
    assert got["case"] == {"layout": "c", "hops": 2, "end_to_end_km": 150.0}
    assert got["end_to_end_key_rate_bps"] == [pytest.approx(_rate(90) * SHARE, rel=1e-9)]
    assert got["relay_mc_agrees"] == [1.0]
    # every end-to-end key passes R1 in the clear (networkx's float max flow: 1 to rounding)
    assert got[("node_key_exposure", "R1")] == [pytest.approx(1.0, rel=1e-12)]
    assert got["trusted_nodes_seeing_key"] == [1]
    # 150 km: the single link is far weaker than two relayed hops; PLOB is still above both here
    assert got["analytic_single_link_key_rate_bps"][0] < got["end_to_end_key_rate_bps"][0]
    assert got["end_to_end_key_rate_bps"][0] < got["plob_bound_bps"][0] and got["exceeds_plob"] == [0.0]


def test_a_mesh_is_its_max_flow_and_a_node_failure_reroutes(tmp_path):
    links = [{"a": "A", "b": "R", "km": 50}, {"a": "R", "b": "B", "km": 50},
             {"a": "A", "b": "S", "km": 50}, {"a": "S", "b": "B", "km": 100}]
    got = _measure(tmp_path, {"name": "m", "links": links, "fault": {"at_s": 150, "node": "R"}})
    upper, lower = _rate(50) * SHARE, _rate(100) * SHARE
    assert got["end_to_end_key_rate_bps"] == [pytest.approx(upper + lower, rel=1e-9)]
    assert got["relay_mc_agrees"] == [1.0]
    assert got[("node_key_exposure", "R")][0] == pytest.approx(upper / (upper + lower))
    assert got[("node_key_exposure", "S")][0] == pytest.approx(lower / (upper + lower))
    assert got["rate_after_failure_bps"] == [pytest.approx(lower, rel=1e-9)]
    assert got["recovered"] == [1.0]
    # detected after 5 s, in 10 s steps: the first block after the fault lands 20 s on
    assert got["time_to_recover_s"] == [20.0] * 4
    assert all(lost > 0 for lost in got["keys_lost_bits"])  # R's link stores go with it
    after = got["relay_mc_rate_after_failure_bps"]
    assert all(0.9 * lower < r < 1.3 * lower for r in after)  # the backlog of the stall comes through


def test_a_chain_with_a_failed_node_never_recovers(tmp_path):
    got = _measure(tmp_path, {"name": "c", "links": [{"a": "A", "b": "R1", "km": 80},
                                                     {"a": "R1", "b": "B", "km": 80}],
                              "fault": {"at_s": 100, "node": "R1"}})
    assert got["rate_after_failure_bps"] == [0.0]
    assert got["recovered"] == [0.0]
    assert got["relay_mc_rate_after_failure_bps"] == [0.0] * 4


def test_a_relay_that_loses_blocks_fails_the_agreement_check(tmp_path, monkeypatch):
    honest = tn._relay_trial

    def leaky(links, p, fault, rng):  # a relay that drops 1 % of what it delivers
        out = honest(links, p, fault, rng)
        return {**out, "rate": out["rate"] * 0.99}

    monkeypatch.setattr(tn, "_relay_trial", leaky)
    got = _measure(tmp_path, {"name": "c", "links": [{"a": "A", "b": "R1", "km": 80},
                                                     {"a": "R1", "b": "B", "km": 80}]})
    assert got["relay_mc_agrees"] == [0.0]


def test_chains_sweep_hops_over_distances():
    params = TrustedNodesParams.model_validate({"chains": {"end_to_end_km": [120, 240], "hops": [1, 3]}})
    cases = TrustedNodes().cases(params)
    assert cases == [{"layout": "chain-1x120km", "hops": 1, "end_to_end_km": 120.0},
                     {"layout": "chain-3x40km", "hops": 3, "end_to_end_km": 120.0},
                     {"layout": "chain-1x240km", "hops": 1, "end_to_end_km": 240.0},
                     {"layout": "chain-3x80km", "hops": 3, "end_to_end_km": 240.0}]


def test_placements_sweep_where_the_trusted_nodes_sit_along_one_distance(tmp_path):
    params = TrustedNodesParams.model_validate({
        "chains": {"end_to_end_km": [200], "hops": [2], "placements": [[0.3], [0.2], [0.2, 0.5]]},
        "duration_s": 300, "step_s": 10, "trials": 4})
    suite = TrustedNodes()
    cases = suite.cases(params)
    assert cases == [{"layout": "chain-2x100km", "hops": 2, "end_to_end_km": 200.0},
                     {"layout": "chain-60+140km", "hops": 2, "end_to_end_km": 200.0},
                     {"layout": "chain-40+160km", "hops": 2, "end_to_end_km": 200.0},
                     {"layout": "chain-40+60+100km", "hops": 3, "end_to_end_km": 200.0}]
    adapter = SimulatedQKDAdapter({"profile": "lim-2014"})
    try:
        got = {case["layout"]: {m.metric: m.value for m in suite.measure(adapter, params, case,
                                                                        MeasureContext(7, tmp_path, 60))
                                if not m.labels}
               for case in cases}
    finally:
        adapter.close()
    # The longest hop sets a chain's rate: the node off-centre costs rate, a third node at the
    # right place wins nothing over the centred pair (its longest hop is 100 km as well).
    for layout, longest in (("chain-2x100km", 100), ("chain-60+140km", 140), ("chain-40+160km", 160),
                            ("chain-40+60+100km", 100)):
        assert got[layout]["longest_hop_km"] == pytest.approx(longest)
        assert got[layout]["end_to_end_key_rate_bps"] == pytest.approx(_rate(longest) * SHARE, rel=1e-9)
        assert got[layout]["relay_mc_agrees"] == 1.0
    rates = [got[x]["end_to_end_key_rate_bps"] for x in ("chain-2x100km", "chain-60+140km", "chain-40+160km")]
    assert rates[0] > 3 * rates[1] > 0 and rates[1] > rates[2]
    # Every placement is measured against the same single 200 km link and PLOB bound.
    assert len({got[x]["analytic_single_link_key_rate_bps"] for x in got}) == 1
    assert len({got[x]["plob_bound_bps"] for x in got}) == 1


@pytest.mark.parametrize(("chains", "why"), [
    ({"end_to_end_km": [100], "placements": [[0.6, 0.2]]}, "increasing order"),
    ({"end_to_end_km": [100], "placements": [[1.2]]}, "strictly between 0 and 1"),
    ({"end_to_end_km": [100], "placements": [[]]}, "fractions"),
    ({"end_to_end_km": [100], "hops": [0]}, "at least one hop"),
    ({"end_to_end_km": [100]}, "hops, placements or both"),
])
def test_bad_chains_say_what_is_wrong(chains, why):
    with pytest.raises(ValidationError, match=why):
        TrustedNodesParams.model_validate({"chains": chains})


AB = {"name": "x", "links": [{"a": "A", "b": "B", "km": 10}]}


@pytest.mark.parametrize(("layout", "why"), [
    ({"name": "x", "links": [{"a": "A", "b": "C", "km": 10}]}, "no link reaches B"),
    ({**AB, "fault": {"at_s": 1, "node": "Q"}}, "unknown node"),
    ({**AB, "fault": {"at_s": 1, "node": "A"}}, "end node"),
    ({**AB, "fault": {"at_s": 1, "hop": ["A", "C"]}}, "unknown hop"),
    ({**AB, "fault": {"at_s": 1}}, "exactly one"),
    ({"name": "x", "links": [{"a": "A", "b": "R", "km": 10}, {"a": "R", "b": "B", "km": 10}],
      "fault": {"at_s": 900, "node": "R"}}, "after the run"),
])
def test_bad_layouts_say_what_is_wrong(layout, why):
    with pytest.raises(ValidationError, match=why):
        TrustedNodesParams.model_validate({"layouts": [layout]})


def test_the_corridor_scenario_runs_on_a_local_dask_cluster(tmp_path, write_scenario):
    pytest.importorskip("distributed", reason="dask is the optional extra qsbench[dask]")
    path = write_scenario("""\
        name: corridor-mini
        vendors: [{name: lim, adapter: simulated_qkd, options: {profile: lim-2014}}]
        suites:
          - suite: trusted_nodes
            params: {duration_s: 100, step_s: 10, trials: 2, chains: {end_to_end_km: [160], hops: [1, 2]}}
        """)
    proc = subprocess.run([*qsbench_cmd(), "run", str(path), "--out", str(tmp_path / "r"),
                           "--executor", "dask-local:2"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    df = RunStore(Path(proc.stdout.strip().splitlines()[-1])).read()
    e2e = df[df.metric == "end_to_end_key_rate_bps"].set_index("layout")["value"]
    assert e2e["chain-2x80km"] > 10 * e2e["chain-1x160km"] > 0
