"""The interface every measurement suite implements.

A suite knows measurements, not vendors: it declares the capabilities it needs,
validates its own `params:` block of a scenario, expands them into case
parameters, and measures one case against an adapter it receives.
Suites are found through the `qsbench.suites` entry-point group.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict

from harness.adapters import Adapter, Capability


class SuiteParams(BaseModel):
    """Base for a suite's `params:` model: unknown fields are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)


Better = Literal["lower", "higher", "none"]


@dataclass(frozen=True)
class Metric:
    """What a metric means, declared once by the suite that emits it.

    `unit` is the unit every row of the metric carries ("ms", "bps", "bool",
    "count", "bytes", "ratio", …); `better` is the direction a regression is
    judged in ("none" for a metric that is right either way); `timeline` marks
    metrics whose `sample` index is time, one value per tick. `deterministic`
    marks metrics that the same code gives the same value on any host (sizes,
    verdicts, mismatch counts): a change is never noise, so a comparison flags
    any move the bad way without a significance test. `reference_for` makes the
    metric a reference curve (a theory or a bound) for those metrics of the same
    suite: the report draws it on their plots only, never alone, so a bound on the
    secret key rate is not drawn over the sifted rate it does not bound. `shades`
    makes a 0/1 timeline metric (a fault being active) the shaded windows of the
    timelines of those metrics of the same suite, and it is not drawn alone.
    `summarises` makes the metric the suite's own summary (a mean, an interval end) of
    another metric it also emits: the report shows its samples, not the summary again.
    `qualified_by` names the label columns that say how a value was encoded or measured
    (secret_key_bytes: a 32/64-byte seed or the full key; handshake_ms: the group negotiated and
    the network backend): rows that differ in one are not like for like, and the report says so
    where they share a plot. Other labels say what a row is (a probe's verdict, a link's name) and
    draw no such note. `per` names the label columns that say which thing a value is of (trusted_nodes'
    link_key_rate_bps: one value per link, label link): values of different ones are never pooled
    into one line, dot or summary line, as values of different case parameters are not (a median of
    a 72 km and a 168 km link's rates is neither link's).
    """

    unit: str
    better: Better
    description: str = ""
    timeline: bool = False
    deterministic: bool = False
    reference_for: tuple[str, ...] = ()
    shades: tuple[str, ...] = ()
    summarises: str = ""
    qualified_by: tuple[str, ...] = ()
    per: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # a manifest's JSON gives a list; a tuple keeps the declaration hashable and frozen
        for name in ("reference_for", "shades", "qualified_by", "per"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        if self.shades and not (self.timeline and self.unit == "bool"):
            raise ValueError("Metric.shades belongs to a 0/1 timeline metric (unit 'bool', timeline=True)")
        if self.better not in ("lower", "higher", "none"):
            raise ValueError(f"Metric.better must be 'lower', 'higher' or 'none', not {self.better!r}")


@dataclass(frozen=True)
class Measurement:
    """One tidy result row before the engine adds run, case and parameter columns.

    `sample` numbers repeated observations of the same metric within a case
    (0..n-1); `labels` carry string results declared in `Suite.label_columns`
    (e.g. the negotiated TLS group).
    """

    metric: str
    value: float
    unit: str
    sample: int = 0
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class MeasureContext:
    """What the engine hands a suite for one case."""

    seed: int
    work_dir: Path  # private scratch space for this case (certificates, temporary files)
    timeout_s: float
    peer: Adapter | None = None  # the other side, for suites with `pairwise = True`


class Suite(ABC):
    name: ClassVar[str]
    requires: ClassVar[frozenset[Capability]]
    Params: ClassVar[type[SuiteParams]]
    # Every metric this suite may emit, with its meaning; the engine checks each row against it.
    metrics: ClassVar[Mapping[str, Metric]] = {}
    # String-valued result columns this suite may fill through Measurement.labels.
    label_columns: ClassVar[tuple[str, ...]] = ()
    # Pairwise suites (interoperability) get one case per ordered pair of distinct vendors:
    # the case's `peer` parameter names the other vendor and `ctx.peer` is its adapter.
    pairwise: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name, metric in cls.metrics.items():
            unknown = [m for m in metric.reference_for if m not in cls.metrics or m == name]
            if unknown:  # a reference for nothing would silently never be drawn
                raise TypeError(f"suite {cls.__name__}: metric {name!r} is declared a reference for "
                                f"{', '.join(map(repr, unknown))}, which is not another metric it declares")
            unshaded = [m for m in metric.shades
                        if m not in cls.metrics or m == name or not cls.metrics[m].timeline]
            if unshaded:  # a window shaded on nothing would silently never be drawn
                raise TypeError(f"suite {cls.__name__}: metric {name!r} shades "
                                f"{', '.join(map(repr, unshaded))}, which is not another timeline metric "
                                "it declares")
            if metric.summarises and (metric.summarises not in cls.metrics or metric.summarises == name):
                raise TypeError(f"suite {cls.__name__}: metric {name!r} summarises {metric.summarises!r}, "
                                "which is not another metric it declares")
            for field_name, says in (("qualified_by", "is qualified by"), ("per", "is per")):
                unlabelled = [c for c in getattr(metric, field_name) if c not in cls.label_columns]
                if unlabelled:  # a label no row can carry would silently never be read
                    raise TypeError(f"suite {cls.__name__}: metric {name!r} {says} "
                                    f"{', '.join(map(repr, unlabelled))}, which is not in its label_columns")

    @abstractmethod
    def cases(self, params: SuiteParams) -> list[dict[str, Any]]:
        """Expand params into one dict of case parameters per case (vendor-independent).

        Keys become columns of every row of the case; values must be str, int,
        float or bool and JSON-serialisable, and every case of one suite should
        use the same keys.
        """

    @abstractmethod
    def measure(
        self,
        adapter: Adapter,
        params: SuiteParams,
        case: Mapping[str, Any],
        ctx: MeasureContext,
    ) -> Iterable[Measurement]:
        """Measure one case. Raise NotApplicable when the case cannot apply to this adapter."""
