"""Read a finished (or interrupted) run directory for evaluation: rows, manifest, scenario.

Evaluation needs only the tidy rows and the scenario text kept in the
manifest; it parses the scenario without the plugin registry, so a report can
be rendered on a machine that lacks the vendors' libraries.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from harness.scenario import Scenario
from harness.store import MANIFEST, RunStore

CORE_COLUMNS = ("run_id", "case_id", "experiment_id", "suite", "vendor", "adapter", "repeat", "status",
                "reason", "metric", "value", "unit", "sample")


class RunDirError(Exception):
    pass


@dataclass(frozen=True)
class RunData:
    run_dir: Path
    manifest: dict[str, Any]
    rows: pd.DataFrame
    scenario: Scenario | None

    @property
    def run_id(self) -> str:
        return str(self.manifest.get("run_id") or self.run_dir.name)

    @property
    def vendors(self) -> list[str]:
        if self.scenario is not None:
            return [v.name for v in self.scenario.vendors]
        return sorted(set(self.rows["vendor"]))


def scenario_text(manifest: dict[str, Any]) -> str | None:
    """The scenario as run (harness.manifest keeps its text), or None for a manifest without it."""
    scenario = manifest.get("scenario")
    return scenario.get("text") if isinstance(scenario, dict) else None


def param_columns(rows: pd.DataFrame) -> list[str]:
    """Case parameter and suite label columns: everything that is not a core column."""
    return [c for c in rows.columns if c not in CORE_COLUMNS]


def load(run_dir: str | Path) -> RunData:
    run_dir = Path(run_dir)
    if not (run_dir / MANIFEST).is_file():
        raise RunDirError(f"{run_dir} is not a run directory: it has no {MANIFEST}")
    store = RunStore(run_dir)
    manifest = store.manifest
    rows = store.read()
    text = scenario_text(manifest)
    scenario = Scenario.model_validate(yaml.safe_load(text)) if text else None
    return RunData(run_dir, manifest, rows, scenario)
