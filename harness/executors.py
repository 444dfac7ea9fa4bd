"""Where cases run: this machine's process pool, or a dask.distributed cluster.

`--executor local` (the default) is the runner's own pool of spawned worker
processes. `--executor dask-local:N` starts a `dask.distributed` LocalCluster
of N single-threaded workers here; `--executor dask://HOST:PORT` sends the
cases to an existing scheduler. Planning, fingerprints, the store and
`--resume` stay in the client process: the cluster only turns a `CaseOrder`
into a `CaseOutcome`, and the client writes each case's rows when its outcome
arrives, once.

On a dask worker every thread keeps one *case host*: a child process that
runs cases one at a time exactly like the local pool's workers
(`harness.worker.serve`), so a library that segfaults or a device that hangs
past the case's timeout costs that case only and the host is replaced. The
host is started with `subprocess`, not `multiprocessing`, because dask's
worker processes are daemonic and may not have multiprocessing children.

A dask worker that dies mid-case (killed, out of memory, a lost machine) takes
only its running tasks with it: the scheduler runs them again on another
worker, and since nothing was written for them nothing is duplicated. A case
that has killed `distributed.scheduler.allowed-failures` + 1 workers is
recorded as failed with that reason.

dask is an optional extra (`pip install qsbench[dask]`), imported only here
and only when a dask executor is asked for.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from harness import worker
from harness.plan import Case
from harness.runner import _exit_reason

LOCAL = "local"
_DASK_LOCAL = "dask-local:"
_DASK_REMOTE = "dask://"


class ExecutorError(ValueError):
    """An executor that cannot be used: a malformed spec, dask missing, a scheduler out of reach."""


@dataclass(frozen=True)
class ExecutorSpec:
    kind: str  # "local" | "dask-local" | "dask"
    workers: int = 0  # dask-local only
    address: str = ""  # dask only: tcp://HOST:PORT

    def __str__(self) -> str:
        return {"local": LOCAL, "dask-local": f"{_DASK_LOCAL}{self.workers}",
                "dask": self.address.replace("tcp://", _DASK_REMOTE, 1)}[self.kind]


def parse(text: str) -> ExecutorSpec:
    """`local`, `dask-local:N` (N ≥ 1) or `dask://HOST:PORT`."""
    if text == LOCAL:
        return ExecutorSpec(LOCAL)
    if text.startswith(_DASK_LOCAL):
        count = text.removeprefix(_DASK_LOCAL)
        if not count.isdigit() or int(count) < 1:
            raise ExecutorError(f"--executor {text}: N in dask-local:N must be a whole number ≥ 1")
        return ExecutorSpec("dask-local", workers=int(count))
    if text.startswith(_DASK_REMOTE):
        host, _, port = text.removeprefix(_DASK_REMOTE).rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ExecutorError(f"--executor {text}: expected dask://HOST:PORT with a port 1–65535")
        return ExecutorSpec("dask", address=f"tcp://{host}:{port}")
    raise ExecutorError(f"--executor {text}: expected local, dask-local:N or dask://HOST:PORT")


class _CaseHost:
    """A child process that runs cases sent over a socket, one at a time (harness.worker.serve)."""

    def __init__(self) -> None:
        parent, child = socket.socketpair()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "harness.executors", str(child.fileno())],
            pass_fds=(child.fileno(),), stdin=subprocess.DEVNULL)
        child.close()
        self.conn = Connection(parent.detach())

    def run(self, order: worker.CaseOrder) -> tuple[worker.CaseOutcome, bool]:
        """The case's outcome, and whether this host can take another case."""
        self.conn.send(order)
        if not self.conn.poll(order.timeout_s):
            self.close(kill=True)
            return worker.CaseOutcome("timeout", f"case exceeded its timeout of {order.timeout_s:g} s"), False
        try:
            return self.conn.recv(), True
        except (EOFError, OSError):  # the host died mid-case
            self.proc.wait(timeout=5)
            self.conn.close()
            # subprocess and multiprocessing both report death by signal N as -N: one wording for both
            return worker.CaseOutcome("failed", _exit_reason(self.proc.returncode)), False

    def close(self, kill: bool = False) -> None:
        if kill:
            self.proc.kill()
        else:
            with contextlib.suppress(OSError):
                self.conn.send(None)
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.conn.close()


_hosts: dict[int, _CaseHost] = {}
_hosts_lock = threading.Lock()


def run_case(order: worker.CaseOrder) -> worker.CaseOutcome:
    """The dask task: run one case on this worker thread's case host, replacing a host that died."""
    key = threading.get_ident()
    with _hosts_lock:
        host = _hosts.pop(key, None)
    if host is None or host.proc.poll() is not None:
        host = _CaseHost()
    outcome, reusable = host.run(order)
    if reusable:
        with _hosts_lock:
            _hosts[key] = host
    return outcome


# dask's defaults suit a cluster whose machines do nothing else. A LocalCluster shares this
# machine's cores with the cases: with them an idle worker spends about 0.07 of a core on its
# sampling profiler (a stack sample every 10 ms), GIL and system monitors, and the scheduler and
# nannies as much again, which on a 2-core machine took about a tenth of 2 workers' speed-up.
# Nothing here reads the profiles or the dashboard's history; the nanny's memory limit still
# applies, checked each second rather than ten times a second.
_QUIET_LOCAL = {
    "distributed.worker.profile.enabled": False,
    "distributed.admin.system-monitor.gil.enabled": False,
    "distributed.admin.system-monitor.interval": "2s",
    "distributed.worker.memory.monitor-interval": "1s",
    "distributed.admin.tick.interval": "500ms",
}


class DaskExecutor:
    """Runs cases on a dask.distributed cluster; use as a context manager around `Runner.run`."""

    def __init__(self, spec: ExecutorSpec) -> None:
        self.spec = spec
        self.client: Any = None
        self._cluster: Any = None

    def __enter__(self) -> DaskExecutor:
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            raise ExecutorError(f"--executor {self.spec} needs dask: pip install 'qsbench[dask]'") from None
        if self.spec.kind == "dask-local":
            import logging

            import dask

            # One thread per worker: one case at a time per process, as the local pool does. The
            # workers (and the scheduler and nannies, here in this process) get _QUIET_LOCAL:
            # their monitors share this machine's cores with the cases they run.
            with dask.config.set(_QUIET_LOCAL):
                self._cluster = LocalCluster(n_workers=self.spec.workers, threads_per_worker=1,
                                             processes=True, dashboard_address=None,
                                             silence_logs=logging.ERROR)
                self.client = Client(self._cluster)
        else:
            host, _, port = self.spec.address.removeprefix("tcp://").rpartition(":")
            try:
                # A plain connect first: where nothing listens it fails at once with the OS's
                # reason, where dask's Client would retry for its whole timeout and say only that.
                socket.create_connection((host.strip("[]"), int(port)), timeout=10).close()
                self.client = Client(self.spec.address, timeout=10)
            except (OSError, TimeoutError) as exc:
                raise ExecutorError(f"--executor {self.spec}: no dask scheduler reachable ({exc})") from None
        return self

    def __exit__(self, *exc: object) -> None:
        if self.client is not None:
            self.client.close()
        if self._cluster is not None:
            self._cluster.close()

    def outcomes(self, work: list[tuple[Case, worker.CaseOrder]]
                 ) -> Iterator[tuple[Case, worker.CaseOutcome]]:
        """Every case's outcome, in the order they finish."""
        from distributed import as_completed
        from distributed.scheduler import KilledWorker

        tag = uuid.uuid4().hex[:8]  # keys unique on a scheduler shared with other runs
        futures = {}
        for case, order in work:
            future = self.client.submit(run_case, order, key=f"qsbench-{tag}-{case.case_id}", pure=False)
            futures[future.key] = (case, future)
        try:
            for future in as_completed([f for _, f in futures.values()]):
                case, _ = futures[future.key]
                try:
                    outcome = future.result()
                except KilledWorker as exc:  # it took down worker after worker: the case's own fault
                    outcome = worker.CaseOutcome("failed", f"dask workers died running it: {exc}")
                except Exception as exc:
                    outcome = worker.CaseOutcome("failed", f"dask: {type(exc).__name__}: {exc}")
                yield case, outcome
        finally:
            self.client.cancel([f for _, f in futures.values()])


def _watch_parent(parent: int) -> None:
    # A host orphaned by a killed dask worker must not finish its case for nobody.
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(1)


def _serve(fd: int) -> None:
    threading.Thread(target=_watch_parent, args=(os.getppid(),), daemon=True).start()
    worker.serve(Connection(fd))


if __name__ == "__main__":
    _serve(int(sys.argv[1]))
