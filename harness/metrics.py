"""Metric declarations: what a metric means is what the suite that emits it declared.

Every suite declares each metric it emits (`Suite.metrics`: unit, good direction,
timeline, deterministic) and each label column it fills. The engine reads
meaning only from there, never from a metric's name:

- `row_problem` checks one row against its suite's declaration (the worker
  runs it on every row, so an undeclared metric costs that case, not the run);
- `snapshot` is the declaration of a run's suites as the manifest keeps it, so
  a run is judged by what its suites meant when it ran, also on a machine
  without the plugins;
- `Declarations` answers "what does this metric of this suite mean" for a run
  (from its manifest, else from the installed suites). A plot asks about the row's own
  suite, never what the suites that declare a name agree on: soak's secret key rate is a
  timeline of windows, key_rate's is not, so "agreed" answered nothing for either.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from harness.suite import Metric, Suite


def row_problem(suite: type[Suite], metric: str, unit: str, labels: Iterable[str]) -> str | None:
    """Why a row breaks its suite's declaration, or None when it keeps it."""
    declared = suite.metrics.get(metric)
    if declared is None:
        return (f"suite {suite.name} emitted metric {metric!r} it does not declare "
                f"(declared: {', '.join(sorted(suite.metrics)) or 'none'})")
    if unit != declared.unit:
        return f"suite {suite.name} emitted {metric} in {unit!r}; it declares {declared.unit!r}"
    undeclared = sorted(set(labels) - set(suite.label_columns))
    if undeclared:
        return (f"suite {suite.name} emitted label(s) {', '.join(undeclared)} on {metric} it does not "
                f"declare in label_columns ({', '.join(suite.label_columns) or 'none'})")
    return None


def snapshot(suites: Iterable[type[Suite]]) -> dict[str, dict[str, dict[str, Any]]]:
    """suite → metric → declared fields, JSON-ready, for the run manifest."""
    return {s.name: {m: asdict(d) for m, d in sorted(s.metrics.items())} for s in suites}


def _installed(suite: str) -> Mapping[str, Metric]:
    from harness.registry import UnknownPlugin, suite_class

    try:
        return suite_class(suite).metrics
    except UnknownPlugin:
        return {}


@dataclass(frozen=True)
class Declarations:
    """The metric declarations a run was made with."""

    by_suite: Mapping[str, Mapping[str, Metric]]

    @classmethod
    def of_run(cls, manifest: Mapping[str, Any], suites: Iterable[str] = ()) -> Declarations:
        """From the manifest's `metrics` block; suites it lacks (older runs) from the installed plugins."""
        kept = manifest.get("metrics") or {}
        found: dict[str, Mapping[str, Metric]] = {
            s: {m: Metric(**fields) for m, fields in metrics.items()} for s, metrics in kept.items()}
        for suite in suites:
            if suite not in found:
                found[suite] = _installed(suite)
        return cls(found)

    @classmethod
    def installed(cls, suites: Iterable[str]) -> Declarations:
        return cls({s: _installed(s) for s in suites})

    def get(self, suite: str, metric: str) -> Metric | None:
        return self.by_suite.get(suite, {}).get(metric)

    def per_labels(self) -> list[str]:
        """Every label some metric is declared `per` (a link, a node): a summary line per value of
        it, as per case parameter, where a metric's rows carry it (splitting a metric whose rows carry
        the label without declaring it only shows more detail; pooling is what would mislead)."""
        return sorted({c for metrics in self.by_suite.values() for m in metrics.values() for c in m.per})

    def unit(self, metric: str, suite: str | None = None) -> str | None:
        """The metric's declared unit in `suite`, or the one every declaring suite agrees on."""
        if suite is not None:
            d = self.get(suite, metric)
            return None if d is None else d.unit
        units = {d.unit for metrics in self.by_suite.values() if (d := metrics.get(metric)) is not None}
        return units.pop() if len(units) == 1 else None
