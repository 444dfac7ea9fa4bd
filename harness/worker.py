"""What runs inside a worker process: one case at a time, sent over a pipe.

Kept free of pandas and of anything vendor-specific so a worker starts fast;
the adapter and the suite are imported on first use through the registry.
"""

from __future__ import annotations

import contextlib
import traceback
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from harness.adapters import NotApplicable
from harness.metrics import row_problem
from harness.registry import adapter_class, suite_class
from harness.suite import MeasureContext


@dataclass(frozen=True)
class CaseOrder:
    """Everything a worker needs to run one case (picklable)."""

    case_id: str
    suite: str
    suite_params: dict[str, Any]
    adapter: str
    options: dict[str, Any]
    case_params: dict[str, Any]
    seed: int
    timeout_s: float
    work_dir: str
    peer_adapter: str | None = None
    peer_options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CaseOutcome:
    status: str  # ok | failed | na  (timeouts and crashes are decided by the parent)
    reason: str = ""
    measurements: list[tuple[str, float, str, int, dict[str, str]]] = field(default_factory=list)


def _describe(exc: BaseException) -> str:
    # The last frame tells a user where it broke without a full traceback in the results.
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" (at {Path(frames[-1].filename).name}:{frames[-1].lineno})" if frames else ""
    return f"{type(exc).__name__}: {exc}{where}"


def execute(order: CaseOrder) -> CaseOutcome:
    suite = suite_class(order.suite)()
    params = suite.Params.model_validate(order.suite_params)
    work_dir = Path(order.work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    adapter = peer = None
    try:
        adapter = adapter_class(order.adapter)(order.options)
        if order.peer_adapter is not None:
            peer = adapter_class(order.peer_adapter)(order.peer_options)
        ctx = MeasureContext(seed=order.seed, work_dir=work_dir, timeout_s=order.timeout_s, peer=peer)
        rows = [(m.metric, float(m.value), m.unit, int(m.sample), dict(m.labels))
                for m in suite.measure(adapter, params, order.case_params, ctx)]
        if not rows:
            return CaseOutcome("failed", "the suite returned no measurements")
        # A row the suite did not declare would be judged by guesswork downstream: it costs the case.
        for metric, _, unit, _, labels in rows:
            if problem := row_problem(type(suite), metric, unit, labels):
                return CaseOutcome("failed", problem)
        return CaseOutcome("ok", measurements=rows)
    except NotApplicable as exc:
        return CaseOutcome("na", str(exc))
    except Exception as exc:
        return CaseOutcome("failed", _describe(exc))
    finally:
        for a in (adapter, peer):
            if a is not None:
                # A failing close must not turn a measured case into a failure.
                with contextlib.suppress(Exception):
                    a.close()


def serve(conn: Connection) -> None:
    """Worker loop: receive CaseOrders until None, answer each with a CaseOutcome."""
    while True:
        try:
            order = conn.recv()
        except EOFError:  # the parent is gone (killed): nothing left to do
            return
        if order is None:
            return
        conn.send(execute(order))
