"""Run planned cases in isolated worker processes and store each as it finishes.

Each worker is a spawned process that runs one case at a time. A case that
crashes its worker (a segfault or abort in a C library) or overruns its
timeout costs that case only: the worker is replaced and the run goes on.
Finished cases are written to the store at once (see harness.store), so an
interrupted run keeps everything it measured and `--resume` picks up the rest.

A worker never runs two repeats of one experiment: the next repeat gets a
fresh process, so each repeat carries its own process state (memory layout,
caches, library initialisation) and the spread between repeats shows it, as
pyperf's worker processes do. The plan already spreads repeats over the run.

A case whose rows cannot be stored (a value that does not fit its column)
is recorded as failed with the reason: one bad case never ends the run.
"""

from __future__ import annotations

import multiprocessing as mp
import signal
import time
from collections import Counter
from collections.abc import Callable, Collection, Iterable
from multiprocessing.connection import wait
from typing import Any

import pyarrow as pa

from harness import worker
from harness.plan import Case
from harness.registry import adapter_class, suite_class, vendor_info
from harness.scenario import LoadedScenario
from harness.store import CASE_STATUS_METRIC, RunStore


class _Worker:
    def __init__(self) -> None:
        ctx = mp.get_context("spawn")
        self.conn, child = ctx.Pipe()
        # Not daemonic: a case may start processes of its own (the simulated device serves its
        # key source from a child process), which a daemonic process may not. The runner stops
        # or kills every worker in its `finally`, so none outlives the run.
        self.proc = ctx.Process(target=worker.serve, args=(child,), daemon=False)
        self.proc.start()
        child.close()
        self.case: Case | None = None
        self.deadline = 0.0
        self.experiments: set[str] = set()  # experiments this process has run a repeat of

    def send(self, case: Case, order: worker.CaseOrder) -> None:
        self.case = case
        self.experiments.add(case.experiment_id)
        self.deadline = time.monotonic() + case.timeout_s
        self.conn.send(order)

    def receive(self) -> worker.CaseOutcome:
        try:
            return self.conn.recv()
        except (EOFError, OSError):  # the process died mid-case
            self.proc.join(timeout=5)
            self.conn.close()
            return worker.CaseOutcome("failed", _exit_reason(self.proc.exitcode))

    def kill(self) -> None:
        self.proc.kill()
        self.proc.join()
        self.conn.close()

    def stop(self) -> None:
        try:
            self.conn.send(None)
            self.proc.join(timeout=5)
        except (BrokenPipeError, OSError):
            pass
        if self.proc.is_alive():
            self.kill()


def _exit_reason(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        try:
            return f"worker process died with {signal.Signals(-exitcode).name}"
        except ValueError:
            pass
    return f"worker process exited with code {exitcode}"


def _rows(run_id: str, case: Case, status: str, reason: str,
          measurements: Iterable[tuple[str, float, str, int, dict[str, str]]] = (),
          experiment: bool = True) -> list[dict[str, Any]]:
    """The case's rows; `experiment` False for a run planned before experiments had ids."""
    head = {"run_id": run_id, "case_id": case.case_id,
            **({"experiment_id": case.experiment_id} if experiment else {}),
            "suite": case.suite, "vendor": case.vendor,
            "adapter": case.adapter, "repeat": case.repeat, "status": status, "reason": reason,
            **case.params}
    if status != "ok":
        return [{**head, "metric": CASE_STATUS_METRIC, "value": float("nan"), "unit": "", "sample": 0}]
    return [{**head, **labels, "metric": metric, "value": value, "unit": unit, "sample": sample}
            for metric, value, unit, sample, labels in measurements]


def _not_applicable(case: Case, peer_adapter: str | None) -> str | None:
    """Why a case cannot run at all, decided without starting a worker.

    A pairwise case needs both sides: an unavailable peer makes it n/a, not a failure.
    """
    required = suite_class(case.suite).requires
    sides = [(case.vendor, case.adapter)]
    if peer_adapter is not None:
        sides.append((case.params["peer"], peer_adapter))
    for vendor, adapter in sides:
        info = vendor_info(adapter)
        if not info.available:
            return f"{vendor} unavailable: {info.reason}"
        missing = required - adapter_class(adapter).capabilities
        if missing:
            return f"{vendor} has no {', '.join(sorted(missing))}"
    return None


class Runner:
    def __init__(self, store: RunStore, loaded: LoadedScenario, jobs: int = 1, executor=None) -> None:
        self.store = store
        self.loaded = loaded
        self.jobs = max(1, jobs)
        self.executor = executor  # None: this machine's pool; else harness.executors.DaskExecutor
        self.run_id = store.manifest["run_id"]
        # A run planned before experiments had ids (resumed now) keeps its own columns.
        self.experiments = "experiment_id" in store.columns

    def _peer_adapter(self, case: Case) -> str | None:
        if "peer" not in case.params:
            return None
        return self.loaded.scenario.vendor(case.params["peer"]).adapter_name

    def _order(self, case: Case) -> worker.CaseOrder:
        scenario = self.loaded.scenario
        run = scenario.suites[case.suite_index]
        spec = scenario.vendor(case.vendor)
        peer = scenario.vendor(case.params["peer"]) if "peer" in case.params else None
        return worker.CaseOrder(
            case_id=case.case_id, suite=case.suite, suite_params=dict(run.params),
            adapter=spec.adapter_name, options=dict(spec.options), case_params=dict(case.params),
            seed=case.seed, timeout_s=case.timeout_s,
            work_dir=str(self.store.run_dir / "work" / case.case_id),
            peer_adapter=peer.adapter_name if peer else None,
            peer_options=dict(peer.options) if peer else {},
        )

    def _record(self, case: Case, status: str, reason: str = "", measurements=()) -> str:
        """Store the case; returns the status it was stored with."""
        try:
            self.store.write_case(case.case_id, _rows(self.run_id, case, status, reason, measurements,
                                                      self.experiments))
            return status
        except (ValueError, TypeError, pa.ArrowException) as exc:
            why = f"its rows could not be stored: {type(exc).__name__}: {exc}"
            self.store.write_case(case.case_id, _rows(self.run_id, case, "failed", why, (), self.experiments))
            return "failed"

    def run(self, cases: list[Case], on_done: Callable[[Case, str], None] = lambda c, s: None,
            retry: Collection[str] = ()) -> Counter:
        """Run the cases the store does not hold yet, and again those stored with a status in `retry`."""
        stored = self.store.case_statuses()
        pending = [c for c in cases if c.case_id not in stored or stored[c.case_id] in retry]
        counts: Counter = Counter()
        queue: list[Case] = []
        # Cases of one suite and vendors share the answer, and asking costs an availability probe
        # and a package-metadata read (ms each): 10 000 cases would wait on it before the first ran.
        verdicts: dict[tuple[str, str, str, str | None, str | None], str | None] = {}
        for case in pending:
            peer_adapter = self._peer_adapter(case)
            sides = (case.suite, case.vendor, case.adapter, case.params.get("peer"), peer_adapter)
            if sides not in verdicts:
                verdicts[sides] = _not_applicable(case, peer_adapter)
            reason = verdicts[sides]
            if reason is None:
                queue.append(case)
            else:
                self._record(case, "na", reason)
                counts["na"] += 1
                on_done(case, "na")
        if self.executor is not None:  # the cluster runs the cases; this process stores them
            for case, outcome in self.executor.outcomes([(c, self._order(c)) for c in queue]):
                status = self._record(case, outcome.status, outcome.reason, outcome.measurements)
                counts[status] += 1
                on_done(case, status)
            return counts
        queue.reverse()  # pop() from the end keeps the planned order

        idle = [_Worker() for _ in range(min(self.jobs, len(queue)))]
        busy: list[_Worker] = []
        try:
            while queue or busy:
                while queue and idle:
                    w = idle.pop()
                    case = queue.pop()
                    if case.experiment_id in w.experiments:  # each repeat in a process of its own
                        w.stop()
                        w = _Worker()
                    w.send(case, self._order(case))
                    busy.append(w)
                ready = wait([w.conn for w in busy],
                             timeout=max(0.0, min(w.deadline for w in busy) - time.monotonic()))
                now = time.monotonic()
                for w in list(busy):
                    case = w.case
                    assert case is not None
                    if w.conn in ready:
                        outcome = w.receive()
                    elif now >= w.deadline:
                        w.kill()
                        outcome = worker.CaseOutcome(
                            "timeout", f"case exceeded its timeout of {case.timeout_s:g} s")
                    else:
                        continue
                    busy.remove(w)
                    status = self._record(case, outcome.status, outcome.reason, outcome.measurements)
                    counts[status] += 1
                    on_done(case, status)
                    if w.proc.is_alive():
                        idle.append(w)
                    elif queue:  # it crashed or was killed: replace it
                        idle.append(_Worker())
        finally:
            for w in idle:
                w.stop()
            for w in busy:
                w.kill()
        return counts
