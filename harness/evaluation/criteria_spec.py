"""The scenario's evaluation blocks: success criteria, scoring categories, the regression policy.

    criteria:
      - id: tls_p95
        metric: handshake_ms            # its unit is the one the emitting suite declares
        where: {group: X25519MLKEM768, rtt_ms: 31.1}
        statistic: p95                  # median, mean, min, max, pNN, rate (share of true booleans)
        op: "<="
        threshold: 150 ms               # or `threshold: 150` plus `unit: ms`
        target: 80 ms                   # scores 100 here and 0 at the threshold
        gate: true                      # mandatory: failing it fails the pilot
        category: performance
        weight: 2

Units are checked when the scenario is validated, against the unit the
scenario's suites declare for the metric (`Suite.metrics`): a threshold in ms
against a metric in s converts (same dimension), a threshold in ms against a
metric in bps is an error that points at the threshold's line, and a metric
no suite of the scenario declares is an error that points at the metric.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from harness.evaluation import units
from harness.metrics import Declarations
from harness.suite import Metric

DEFAULT_CATEGORIES = {"performance": 1.0, "resilience": 1.0, "interoperability": 1.0,
                      "security_evidence": 1.0, "operations": 1.0}
Scalar = str | bool | int | float
_STATISTIC = re.compile(r"^(median|mean|min|max|rate|p(\d{1,2}(\.\d+)?))$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Criterion(_Strict):
    id: str = Field(pattern=r"^[A-Za-z0-9_.-]+$", description="stable name for reports and CI")
    description: str = ""
    metric: str = Field(min_length=1)
    suite: str | None = Field(None, description="only rows of this suite (default: any suite)")
    where: dict[str, Scalar | list[Scalar]] = Field(default_factory=dict,
                                                    description="column: value (or list of values)")
    vendors: list[str] | None = Field(None, description="judge only these vendors (default all)")
    statistic: str = Field(description="median, mean, min, max, pNN (e.g. p95, p99) or rate")
    op: Literal["<=", ">=", "<", ">"]
    threshold: float | str = Field(description="'40 ms' or a number with `unit`")
    unit: str | None = Field(None, description="unit of threshold and target when they are numbers")
    target: float | str | None = Field(None, description="the excellent value: scores 100")
    gate: bool = Field(False, description="mandatory: a fail fails the evaluation")
    category: str = "performance"
    weight: float = Field(1.0, ge=0)

    @field_validator("statistic")
    @classmethod
    def _known_statistic(cls, value: str) -> str:
        if not _STATISTIC.match(value):
            raise ValueError("statistic must be median, mean, min, max, rate or a percentile like p95")
        return value

    @field_validator("unit")
    @classmethod
    def _known_unit(cls, value: str | None) -> str | None:
        if value is not None:
            units.unit(value)
        return value

    @field_validator("threshold", "target")
    @classmethod
    def _quantity(cls, value: float | str | None) -> float | str | None:
        # Only finiteness is checked here: a negative threshold can be meaningful (a change in dB, a
        # margin), and whether it is depends on the metric, which the criterion alone does not know.
        number = units.parse_quantity(value)[0] if isinstance(value, str) else value
        if number is not None and not math.isfinite(float(number)):
            raise ValueError(f"must be a finite number, not {value!r}")
        return value

    @property
    def lower_is_better(self) -> bool:
        return self.op in ("<=", "<")

    def _quantity_of(self, value: float | str) -> tuple[float, str | None]:
        if isinstance(value, str):
            number, symbol = units.parse_quantity(value)
            return number, symbol or self.unit
        return float(value), self.unit

    @property
    def threshold_quantity(self) -> tuple[float, str | None]:
        return self._quantity_of(self.threshold)

    @property
    def target_quantity(self) -> tuple[float, str | None] | None:
        return None if self.target is None else self._quantity_of(self.target)

    def expected_unit(self, metric_unit: str) -> str:
        """The unit the statistic is in: the metric's declared unit, or a fraction for `rate`."""
        return "ratio" if self.statistic == "rate" else metric_unit


class RegressionPolicy(_Strict):
    alpha: float = Field(0.01, gt=0, lt=1, description="p below this (a test over repeats) is significant")
    threshold: float = Field(0.10, gt=0, description="relative change that matters (0.10 = 10 %)")
    metrics: dict[str, float] = Field(default_factory=dict, description="per-metric threshold override")

    def threshold_for(self, metric: str) -> float:
        return self.metrics.get(metric, self.threshold)


def _unit_problem(crit: Criterion, metric_unit: str, quantity: tuple[float, str | None]) -> str | None:
    _, symbol = quantity
    expected = crit.expected_unit(metric_unit)
    if not units.known(expected):
        return None  # a unit of the suite's own (e.g. "keys"): checked against the rows at evaluation
    dimension = units.unit(expected).dimension
    if symbol is None:
        if dimension in ("fraction", "count", "cycles"):
            return None
        return f"give a unit: {crit.metric} is measured in {expected} ({dimension})"
    try:
        units.convert(1.0, symbol, expected)
    except units.UnitError as exc:
        return f"{exc} (metric {crit.metric} is in {expected})"
    return None


def _undeclared(crit: Criterion, declarations: Declarations, suites: Iterable[str]) -> str:
    owners = sorted(s for s, metrics in declarations.by_suite.items() if crit.metric in metrics)
    if crit.suite is None and len(owners) > 1:
        return f"{crit.metric} is declared in different units by suites {owners}: name one with `suite:`"
    if crit.suite is not None:
        return f"suite {crit.suite} declares no metric {crit.metric!r}"
    return f"no suite of this scenario ({', '.join(suites)}) declares metric {crit.metric!r}"


def check(criteria: list[Criterion], categories: dict[str, float] | None, vendors: list[str],
          suites: Mapping[str, Mapping[str, Metric]]) -> list[tuple[tuple[Any, ...], str]]:
    """Cross-field problems as (location, message); locations are relative to the scenario root.

    `suites` maps each suite the scenario runs to its metric declarations (`Suite.metrics`).
    """
    problems: list[tuple[tuple[Any, ...], str]] = []
    known_categories = categories if categories is not None else DEFAULT_CATEGORIES
    declarations = Declarations(suites)
    ids = [c.id for c in criteria]
    for i, crit in enumerate(criteria):
        at = ("criteria", i)
        if ids.count(crit.id) > 1:
            problems.append(((*at, "id"), f"criterion id {crit.id!r} is used twice"))
        unit = declarations.unit(crit.metric, crit.suite)
        if unit is None:
            problems.append(((*at, "metric"), _undeclared(crit, declarations, suites)))
        for field in ("threshold", "target"):
            quantity = crit.threshold_quantity if field == "threshold" else crit.target_quantity
            if unit is not None and quantity is not None and (problem := _unit_problem(crit, unit, quantity)):
                problems.append(((*at, field), problem))
        target = crit.target_quantity
        if unit is not None and target is not None and not _unit_problem(crit, unit, target):
            thr = crit.threshold_quantity
            try:
                t = units.convert(target[0], target[1], thr[1]) if target[1] and thr[1] else target[0]
            except units.UnitError:
                t = None
            if t is not None and (t >= thr[0] if crit.lower_is_better else t <= thr[0]):
                problems.append(((*at, "target"), f"target must be better than the threshold "
                                 f"(op {crit.op}): it is what scores 100, the threshold scores 0"))
        if crit.category not in known_categories:
            problems.append(((*at, "category"),
                             f"unknown category {crit.category!r}; categories: {sorted(known_categories)}"))
        for j, vendor in enumerate(crit.vendors or []):
            if vendor not in vendors:
                problems.append(((*at, "vendors", j), f"{vendor!r} is not among the scenario's vendors"))
        if crit.suite is not None and crit.suite not in suites:
            problems.append(((*at, "suite"), f"suite {crit.suite!r} is not run by this scenario: {suites}"))
    return problems
