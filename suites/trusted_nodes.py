"""Trusted-node QKD networks: a chain or mesh of links relaying keys by XOR at trusted nodes.

A layout is a set of links between named nodes, each with its own length and device profile (the
vendor's declared profile unless the link names one). Each link's secret key rate is the analytic
finite-key rate of its profile at its length (Lim et al. 2014, harness.qkd). An end-to-end key
travels in blocks of `block_bits`; every hop one-time-pads the block with that link's key and
spends `auth_tag_bits` more of it to authenticate the relay message, so a link carries
rate × block / (block + tag) of end-to-end key: that is the relay overhead.

- **End-to-end rate**: the maximum flow of those link capacities between source and target
  (networkx); for a chain that is the slowest hop less the relay overhead.
- **Monte Carlo of the relay**: time steps of `step_s`; each link's key store grows by a Poisson
  number of bits, and every step the relay sends as many whole blocks as the stores allow along
  the max-flow of what is stored, spending block + tag bits from each link it crosses. One block
  The mean rate over `trials` must agree with the max flow within three standard errors plus the
  blocks the end of the run leaves in stores (`relay_mc_agrees`).
- **Trust exposure**: every node inside a path sees the keys that cross it in plaintext;
  `node_key_exposure` is the share of delivered end-to-end key bits each node saw.
- **A fault** (a layout's `fault`: a node or a hop failing at `at_s`): its links are gone from then
  on and the key stored in them is lost (`keys_lost_bits`); the relay stops until the failure is
  detected (`detect_s`), then reroutes over what is left. `time_to_recover_s` is until the first
  block arrives again (none: `recovered` false), `rate_after_failure_bps` the max flow left and
  `relay_mc_rate_after_failure_bps` what the relay then delivered.
- **Against one link**: the finite-key rate of a single link over the same end-to-end distance,
  the PLOB bound there, and the profile's single-link reach (`single_link_distance_limit_km`).

`chains` generates chains for layout sweeps over end-to-end distances: equal hops (`hops`: hop
counts) and unequal ones (`placements`: where the trusted nodes sit along the distance), so a
sweep shows both how many nodes a distance needs and what placing them off-centre costs (the
longest hop sets a chain's rate).
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from pydantic import Field, model_validator

from harness.adapters import Adapter, Capability, NotApplicable
from harness.qkd.bounds import plob_bound
from harness.qkd.keyrate import max_distance_km, optimal_finite_key_rate
from harness.qkd.profiles import Profile, load_profile
from harness.suite import MeasureContext, Measurement, Metric, Suite, SuiteParams
from suites.qkd_expectations import declared_profile

if TYPE_CHECKING:  # networkx loads when a case is measured: validating and planning a scenario
    # (`qsbench validate`) needs no graph library, and importing it costs about 0.4 s
    import networkx as nx


class Link(SuiteParams):
    a: str
    b: str
    km: float = Field(gt=0, le=2000)
    profile: str | None = Field(None, description="a device profile; default: the vendor's")


class Fault(SuiteParams):
    at_s: float = Field(ge=0)
    node: str | None = None
    hop: tuple[str, str] | None = None

    @model_validator(mode="after")
    def _one(self) -> Fault:
        if (self.node is None) == (self.hop is None):
            raise ValueError("a fault names exactly one of node or hop")
        return self


class Layout(SuiteParams):
    name: str
    links: list[Link] = Field(min_length=1)
    fault: Fault | None = None


class Chains(SuiteParams):
    end_to_end_km: list[float] = Field(min_length=1)
    hops: list[int] = Field([], description="equal-hop chains of these many hops")
    placements: list[list[float]] = Field([], description=(
        "unequal chains: the trusted nodes' positions as fractions of the end-to-end distance from the "
        "source, e.g. [0.25] (one node a quarter of the way) or [0.2, 0.5]"))

    @model_validator(mode="after")
    def _check(self) -> Chains:
        if not self.hops and not self.placements:
            raise ValueError("chains: give hops, placements or both")
        if any(h < 1 for h in self.hops):
            raise ValueError(f"chains: hops {self.hops}: a chain has at least one hop")
        for placement in self.placements:
            inside = all(0 < f < 1 for f in placement)
            if not placement or not inside or any(a >= b for a, b in itertools.pairwise(placement)):
                raise ValueError(f"chains: placement {placement}: give the nodes' positions as fractions "
                                 "strictly between 0 and 1, in increasing order from the source")
        return self

    def layouts(self, source: str, target: str) -> list[Layout]:
        """Per end-to-end distance: the equal-hop chains (chain-3x80km), then the placements
        (chain-60+180km: hop lengths from the source)."""
        out = []
        for km in self.end_to_end_km:
            chains = [(f"chain-{hops}x{km / hops:g}km", [km / hops] * hops) for hops in self.hops]
            for placement in self.placements:
                ends = [0.0, *(km * f for f in placement), float(km)]
                lengths = [b - a for a, b in itertools.pairwise(ends)]
                chains.append((f"chain-{'+'.join(f'{x:g}' for x in lengths)}km", lengths))
            for name, lengths in chains:
                nodes = [source, *[f"T{i}" for i in range(1, len(lengths))], target]
                out.append(Layout(name=name, links=[Link(a=a, b=b, km=x) for (a, b), x in
                                                    zip(itertools.pairwise(nodes), lengths, strict=True)]))
        return out


class TrustedNodesParams(SuiteParams):
    source: str = "A"
    target: str = "B"
    layouts: list[Layout] = []
    chains: Chains | None = None
    block_bits: int = Field(4096, ge=64)
    auth_tag_bits: int = Field(256, ge=0, description="authentication spent per block per hop")
    duration_s: float = Field(600.0, gt=0)
    step_s: float = Field(10.0, gt=0)
    trials: int = Field(10, ge=2, le=10_000)
    detect_s: float = Field(5.0, ge=0, description="time to notice a failure and reroute")

    @model_validator(mode="after")
    def _check(self) -> TrustedNodesParams:
        if not self.layouts and self.chains is None:
            raise ValueError("give layouts, chains or both")
        names = [layout.name for layout in self.all_layouts()]
        if len(set(names)) != len(names):
            raise ValueError(f"layout names repeat: {sorted(n for n in set(names) if names.count(n) > 1)}")
        for layout in self.layouts:
            nodes = {n for link in layout.links for n in (link.a, link.b)}
            for end in (self.source, self.target):
                if end not in nodes:
                    raise ValueError(f"layout {layout.name}: no link reaches {end}")
            for fault in [layout.fault] if layout.fault else []:
                if fault.node in (self.source, self.target):
                    raise ValueError(f"layout {layout.name}: a fault of an end node leaves no network")
                if fault.node is not None and fault.node not in nodes:
                    raise ValueError(f"layout {layout.name}: fault at unknown node {fault.node}")
                hops = [{link.a, link.b} for link in layout.links]
                if fault.hop is not None and set(fault.hop) not in hops:
                    raise ValueError(f"layout {layout.name}: fault at unknown hop {list(fault.hop)}")
                if fault.at_s >= self.duration_s:
                    raise ValueError(f"layout {layout.name}: fault at {fault.at_s} s is after the run")
        if self.step_s > self.duration_s:
            raise ValueError("step_s is longer than duration_s")
        return self

    def all_layouts(self) -> list[Layout]:
        chains = [] if self.chains is None else self.chains.layouts(self.source, self.target)
        return [*self.layouts, *chains]


def _link_rate_bps(profile: Profile, km: float) -> float:
    """Finite-key secret key rate of one link, bits per second (0 beyond its reach)."""
    return _cached_rate(profile.model_dump_json(), km)


@lru_cache(maxsize=4096)  # keyed by the profile's JSON: sweeps ask for the same links again and again
def _cached_rate(profile_json: str, km: float) -> float:
    profile = Profile.model_validate_json(profile_json)
    rate = optimal_finite_key_rate(profile, km, profile.security.block_size).rate_per_pulse
    return max(0.0, rate) * profile.source.repetition_rate_hz


def _reach_km(profile: Profile) -> float:
    return _cached_reach(profile.model_dump_json())


@lru_cache(maxsize=64)
def _cached_reach(profile_json: str) -> float:
    profile = Profile.model_validate_json(profile_json)
    # To half a kilometre in coarse steps: each finite-key optimum costs a good part of a second.
    return max_distance_km(lambda d: optimal_finite_key_rate(profile, d, profile.security.block_size)
                           .rate_per_pulse, first_step_km=25.0, tolerance_km=0.5)


def _graph(links: list[tuple[str, str, float]]) -> nx.DiGraph:
    """Both directions of every link share one key store: capacity c each way, flows netted after."""
    import networkx as nx

    g = nx.DiGraph()
    for a, b, c in links:
        for u, v in ((a, b), (b, a)):
            old = g.get_edge_data(u, v, {}).get("capacity", 0.0)
            g.add_edge(u, v, capacity=old + c)
    return g


Links = list[tuple[str, str, float]]


def _shortest(links: list[Link], source: str, target: str) -> tuple[float, int]:
    """(km, hops) of the shortest path from source to target, fewest hops among equally short ones;
    (0, 0) when none. Dijkstra over a handful of links, so planning needs no graph library."""
    adjacent: dict[str, list[tuple[str, float]]] = {}
    for link in links:
        adjacent.setdefault(link.a, []).append((link.b, link.km))
        adjacent.setdefault(link.b, []).append((link.a, link.km))
    done: set[str] = set()
    heap = [(0.0, 0, source)]
    while heap:
        km, hops, node = heapq.heappop(heap)
        if node == target:
            return float(km), hops
        if node in done:
            continue
        done.add(node)
        for nxt, length in adjacent.get(node, []):
            if nxt not in done:
                heapq.heappush(heap, (km + length, hops + 1, nxt))
    return 0.0, 0


def _flow(links: Links, source: str, target: str) -> tuple[float, dict[frozenset, float], dict[str, float]]:
    """(max flow, net flow per link, flow through each inner node)."""
    g = _graph(links)
    if source not in g or target not in g:
        return 0.0, {}, {}
    import networkx as nx

    value, flows = nx.maximum_flow(g, source, target)
    used = {}
    through: dict[str, float] = {}
    for a, b, _ in links:
        net = abs(flows.get(a, {}).get(b, 0.0) - flows.get(b, {}).get(a, 0.0))
        used[frozenset((a, b))] = net
    for node in g:
        if node not in (source, target):
            through[node] = sum(max(0.0, flows[u][node] - flows[node].get(u, 0.0))
                                for u in g.predecessors(node))
    return float(value), used, through


def _relay_trial(links: list[tuple[str, str, float]], p: TrustedNodesParams, fault: Fault | None,
                 rng: np.random.Generator) -> dict[str, float]:
    """One Monte Carlo run of the relay; rates in end-to-end key bits per second."""
    cost = p.block_bits + p.auth_tag_bits
    stores = {frozenset((a, b)): 0.0 for a, b, _ in links}
    rates = {frozenset((a, b)): r for a, b, r in links}
    alive = set(stores)
    steps = round(p.duration_s / p.step_s)
    delivered = before = after = 0
    lost = 0.0
    recovered_at = math.nan
    fault_step = None if fault is None else math.floor(fault.at_s / p.step_s)
    resume_step = None if fault is None else math.ceil((fault.at_s + p.detect_s) / p.step_s)
    for step in range(steps):
        for link in alive:
            stores[link] += rng.poisson(rates[link] * p.step_s)
        if fault is not None and step == fault_step:
            gone = {link for link in alive
                    if fault.node in link or (fault.hop and link == frozenset(fault.hop))}
            lost = sum(stores[link] for link in gone)
            alive -= gone
        if fault is not None and fault_step <= step < resume_step:
            continue  # the failure is not yet detected: the relay holds
        blocks_links = [(*sorted(link), math.floor(stores[link] / cost)) for link in alive]
        blocks, used, _ = _flow(blocks_links, p.source, p.target)
        for link, n in used.items():
            stores[link] -= round(n) * cost
        blocks = round(blocks)
        delivered += blocks
        if fault is None or step < fault_step:
            before += blocks
        else:
            after += blocks
            if blocks and math.isnan(recovered_at):
                recovered_at = (step + 1) * p.step_s - fault.at_s
    out = {"rate": delivered * p.block_bits / p.duration_s}
    if fault is not None:
        span = p.duration_s - (resume_step * p.step_s)
        out.update(lost=lost, recover=recovered_at,
                   after=after * p.block_bits / span if span > 0 else math.nan)
    return out


END_TO_END = ("end_to_end_key_rate_bps", "relay_mc_key_rate_bps")


class TrustedNodes(Suite):
    name: ClassVar[str] = "trusted_nodes"
    requires: ClassVar[frozenset[Capability]] = frozenset()
    Params: ClassVar[type[SuiteParams]] = TrustedNodesParams
    label_columns: ClassVar[tuple[str, ...]] = ("link", "node")
    metrics: ClassVar[Mapping[str, Metric]] = {
        "end_to_end_key_rate_bps": Metric("bit/s", "higher", "max flow of link rates less relay overhead"),
        "relay_mc_key_rate_bps": Metric("bit/s", "higher", "Monte Carlo of the relay, one per trial"),
        "relay_mc_agrees": Metric("bool", "higher", "MC mean within 3 SE + end-of-run blocks of the max flow",
                                  deterministic=True),
        "link_key_rate_bps": Metric("bit/s", "higher", "finite-key rate of each link (label link)",
                                    per=("link",)),
        "node_key_exposure": Metric("ratio", "lower", "share of delivered key a node saw (label node)",
                                    per=("node",)),
        "trusted_nodes_seeing_key": Metric("count", "lower", "inner nodes that see some end-to-end key",
                                           deterministic=True),
        "longest_hop_km": Metric("km", "none", "longest link of the layout"),
        # What one direct link over the whole distance could give: what the relay is measured against.
        "analytic_single_link_key_rate_bps": Metric("bit/s", "none",
                                                    "finite-key rate of one link over end_to_end_km",
                                                    reference_for=END_TO_END),
        "plob_bound_bps": Metric("bit/s", "none", "PLOB repeaterless bound over end_to_end_km",
                                 reference_for=END_TO_END),
        "exceeds_plob": Metric("bool", "none", "end-to-end rate above the repeaterless bound",
                               deterministic=True),
        "single_link_distance_limit_km": Metric("km", "none", "one link's reach (finite key)"),
        "rate_after_failure_bps": Metric("bit/s", "higher", "max flow left after the fault"),
        "relay_mc_rate_after_failure_bps": Metric("bit/s", "higher", "relay rate after rerouting, per trial"),
        "time_to_recover_s": Metric("s", "lower", "fault to the first block delivered again, per trial"),
        "keys_lost_bits": Metric("bit", "lower", "key stored in the failed links, per trial"),
        "recovered": Metric("bool", "higher", "a path was left and keys flowed again", deterministic=True),
    }

    def cases(self, params: SuiteParams) -> list[dict[str, Any]]:
        assert isinstance(params, TrustedNodesParams)
        out = []
        for layout in params.all_layouts():
            km, hops = _shortest(layout.links, params.source, params.target)
            # Rounded past any survey's precision: hops placed at fractions of 240 km add up to
            # 240.00000000000003, and a sweep must see one distance, not two.
            out.append({"layout": layout.name, "hops": hops, "end_to_end_km": round(km, 9)})
        return out

    def measure(self, adapter: Adapter, params: SuiteParams, case: Mapping[str, Any],
                ctx: MeasureContext) -> Iterable[Measurement]:
        assert isinstance(params, TrustedNodesParams)
        layout = next(x for x in params.all_layouts() if x.name == case["layout"])
        default = declared_profile(adapter)

        def profile_of(link: Link) -> Profile:
            if link.profile is not None:
                return load_profile(link.profile)
            if default is None:
                raise NotApplicable(f"{adapter.name} declares no QKD device profile and link "
                                    f"{link.a}-{link.b} names none")
            return default

        share = params.block_bits / (params.block_bits + params.auth_tag_bits)
        rated = [(link, _link_rate_bps(profile_of(link), link.km)) for link in layout.links]
        for i, (link, rate) in enumerate(rated):
            yield Measurement("link_key_rate_bps", rate, "bit/s", i, {"link": f"{link.a}-{link.b}"})
        yield Measurement("longest_hop_km", max(link.km for link in layout.links), "km")
        capacities = [(link.a, link.b, rate * share) for link, rate in rated]
        e2e, _, through = _flow(capacities, params.source, params.target)
        yield Measurement("end_to_end_key_rate_bps", e2e, "bit/s")

        reference = default if default is not None else profile_of(layout.links[0])
        km = float(case["end_to_end_km"])
        plob = float(plob_bound(reference.channel_transmittance(km))) * reference.source.repetition_rate_hz
        single = _link_rate_bps(reference, km) if km else math.nan
        yield Measurement("analytic_single_link_key_rate_bps", single, "bit/s")
        yield Measurement("plob_bound_bps", plob, "bit/s")
        yield Measurement("exceeds_plob", float(e2e > plob), "bool")
        yield Measurement("single_link_distance_limit_km", _reach_km(reference), "km")

        seen = {n: t / e2e for n, t in sorted(through.items()) if e2e > 0 and t > 0}
        for i, (node, fraction) in enumerate(seen.items()):
            yield Measurement("node_key_exposure", fraction, "ratio", i, {"node": node})
        yield Measurement("trusted_nodes_seeing_key", len(seen), "count")

        rng = np.random.default_rng(ctx.seed)
        trials = [_relay_trial(capacities_bps(rated), params, None, rng) for _ in range(params.trials)]
        mc = np.array([t["rate"] for t in trials])
        for i, value in enumerate(mc):
            yield Measurement("relay_mc_key_rate_bps", float(value), "bit/s", i)
        se = float(mc.std(ddof=1) / math.sqrt(mc.size))
        # Whole blocks only: at the end each link may hold less than one block it could not send.
        leftover = len(layout.links) * params.block_bits / params.duration_s
        yield Measurement("relay_mc_agrees", float(abs(mc.mean() - e2e) <= 3 * se + leftover), "bool")

        fault = layout.fault
        if fault is not None:
            left = [(a, b, c) for a, b, c in capacities
                    if not (fault.node in (a, b) or (fault.hop and {a, b} == set(fault.hop)))]
            remaining = _flow(left, params.source, params.target)[0]
            yield Measurement("rate_after_failure_bps", remaining, "bit/s")
            runs = [_relay_trial(capacities_bps(rated), params, fault, rng) for _ in range(params.trials)]
            for i, t in enumerate(runs):
                yield Measurement("keys_lost_bits", t["lost"], "bit", i)
                yield Measurement("time_to_recover_s", t["recover"], "s", i)
                yield Measurement("relay_mc_rate_after_failure_bps", t["after"], "bit/s", i)
            yield Measurement("recovered", float(all(not math.isnan(t["recover"]) for t in runs)), "bool")


def capacities_bps(rated: list[tuple[Link, float]]) -> list[tuple[str, str, float]]:
    """Raw link key rates (the relay Monte Carlo spends block + tag itself)."""
    return [(link.a, link.b, rate) for link, rate in rated]
