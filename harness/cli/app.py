"""The `qsbench` command line."""

from __future__ import annotations

import contextlib
import json
import math
import sys
from collections import Counter
from pathlib import Path
from typing import Annotated

import typer

from harness.cli import evaluate as evaluation_commands
from harness.cli import keyrate, netem
from harness.cli.boundary import EXIT_BAD_INPUT, GuardedGroup
from harness.cli.console import Notes, stderr_console, stdout_console

# Every command imports what it needs when it runs, so `--help` and `validate` start fast:
# scipy, pandas, pyarrow and the suites are imported only by the commands that use them.

app = typer.Typer(
    name="qsbench",
    help="Benchmark and evaluate quantum-safe links: QKD devices and PQC libraries.\n\n"
         "Start with:  qsbench run suites/scenarios/demo.yaml",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
    cls=GuardedGroup,
)
out = stdout_console()
err = stderr_console()
NOTES = Notes()  # a long reason is printed once per command, then referred to by number

EXIT_OK, EXIT_FAILED = 0, 1


def _bad_input(message: str) -> typer.Exit:
    print(message, file=sys.stderr)  # plain: one unwrapped line per error, for editors and CI logs
    return typer.Exit(EXIT_BAD_INPUT)


def _load(path: Path):
    from harness.scenario import ScenarioInvalid, load_scenario

    try:
        return load_scenario(path)
    except ScenarioInvalid as exc:
        raise _bad_input(str(exc)) from None
    except UnicodeDecodeError as exc:  # located here until scenario.py reports it itself
        raise _bad_input(f"{path}: not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset "
                         f"{exc.start})") from None


@app.command()
def vendors(as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False) -> None:
    """List every registered adapter, whether it can run here, and why not.

    Example: [bold]qsbench vendors --json[/bold]
    """
    from harness.cli.console import table
    from harness.registry import adapter_names, vendor_info

    infos = [vendor_info(name) for name in adapter_names()]
    if as_json:
        print(json.dumps([vars(i) for i in infos], indent=2))
        return
    shown = table("Registered vendor adapters (entry-point group qsbench.vendors)",
                  ("name", "kind", "available", "version", "capabilities", "reason"),
                  prose=("capabilities", "reason"))
    for i in infos:
        shown.add_row(i.name, i.kind, "[green]yes[/]" if i.available else "[red]no[/]", i.version,
                      ", ".join(i.capabilities), i.reason)
    out.print(shown)


@app.command()
def validate(scenario: Annotated[Path, typer.Argument(help="scenario YAML file")]) -> None:
    """Check a scenario file; print FILE:LINE:COL: field: problem for each error (exit 2).

    Example: [bold]qsbench validate suites/scenarios/demo.yaml[/bold]
    """
    from harness.plan import plan

    loaded = _load(scenario)
    cases = plan(loaded)
    out.print(f"{scenario}: valid — {len(cases)} cases across {len(loaded.scenario.suites)} suite entries "
              f"and {len(loaded.scenario.vendors)} vendors")


@app.command()
def schema() -> None:
    """Print the JSON Schema of scenario files, for editors.

    Example: [bold]qsbench schema > scenario.schema.json[/bold]
    """
    from harness.scenario import json_schema

    print(json.dumps(json_schema(), indent=2))


def _progress():
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), TextColumn("{task.fields[last]}"), console=err,
                    disable=not err.is_terminal)


def _start(loaded, out_dir: Path, seed: int | None):
    from harness.manifest import new_manifest, new_run_id
    from harness.plan import param_columns, plan
    from harness.registry import suite_class
    from harness.store import RunStore, row_columns

    run_seed = loaded.scenario.seed if seed is None else seed
    cases = plan(loaded, run_seed)
    params = param_columns(cases)
    labels = sorted({c for run in loaded.scenario.suites for c in suite_class(run.suite).label_columns})
    run_id = new_run_id(loaded.scenario.name)
    manifest = new_manifest(loaded, run_id, run_seed, row_columns(params, labels), list(params), len(cases))
    return RunStore.create(out_dir / run_id, manifest), cases


def _resume(scenario: Path, run_dir: Path):
    from harness.plan import plan
    from harness.scenario import parse_scenario
    from harness.store import RunStore

    store = RunStore(run_dir)
    try:
        manifest = store.manifest
    except (OSError, ValueError) as exc:
        raise _bad_input(f"{run_dir}: not a run directory ({exc})") from None
    given = _load(scenario)
    try:
        started, seed = manifest["scenario"], manifest["seed"]
        sha256, text, source = started["sha256"], started["text"], started["source"]
        store.schema()  # a manifest without its row schema fails here, located, not after a case ran
    except (KeyError, TypeError) as exc:
        raise _bad_input(f"{run_dir / 'manifest.json'}: cannot resume, the manifest lacks "
                         f"{exc.args[0] if isinstance(exc, KeyError) else 'the scenario record'!r}") from None
    if given.sha256 != sha256:
        raise _bad_input(f"{scenario}: differs from the scenario run {manifest.get('run_id')} started with; "
                         "resume runs the original plan, so start a new run for the changed scenario")
    loaded = parse_scenario(text, source)
    return store, plan(loaded, seed), loaded


@app.command()
def run(
    scenario: Annotated[Path, typer.Argument(help="scenario YAML file")],
    out_dir: Annotated[Path, typer.Option("--out", help="where run directories go")] = Path("results"),
    seed: Annotated[int | None, typer.Option(help="override the scenario's run seed")] = None,
    resume: Annotated[Path | None, typer.Option(help="finish an interrupted run directory")] = None,
    retry_failed: Annotated[bool, typer.Option(
        "--retry-failed", help="with --resume: also run again the cases that failed or timed out")] = False,
    jobs: Annotated[int, typer.Option(min=1, help="cases run in parallel (timings are cleanest at 1)")] = 1,
    executor: Annotated[str, typer.Option(
        help="local (this machine's process pool), dask-local:N (a dask LocalCluster of N workers) "
             "or dask://HOST:PORT (an existing dask scheduler)")] = "local",
) -> None:
    """Run a scenario and store every measurement under OUT/<run_id>/.

    Each case runs in its own worker process with the scenario's timeout; a crash or a
    hang costs that case only. Rows are written as each case finishes, so an interrupted
    run keeps what it measured: finish it with --resume RUN_DIR. The last line printed is the
    run directory. Piped to a file or a CI log, one line per finished case is printed to stderr.

    Exit codes, from everything the run directory holds (also after --resume):
      0  every case ran
      1  a case failed or timed out, or a criterion with `gate: true` is not met
      2  unusable input

    Example: [bold]qsbench run suites/scenarios/demo.yaml --out results[/bold]
    """
    from datetime import UTC, datetime

    from harness import digest
    from harness.evaluation import stability
    from harness.manifest import host_state
    from harness.runner import Runner

    if retry_failed and resume is None:
        raise _bad_input("--retry-failed: give the run directory to retry with --resume RUN_DIR")
    cluster = _executor(executor, jobs)
    if resume is not None:
        store, cases, loaded = _resume(scenario, resume)
    else:
        loaded = _load(scenario)
        store, cases = _start(loaded, out_dir, seed)
    retry = ("failed", "timeout") if retry_failed else ()
    already = sum(1 for s in store.case_statuses().values() if s not in retry)
    with _entered(cluster) as pool, _progress() as progress:
        runner = Runner(store, loaded, jobs=jobs, executor=pool)
        task = progress.add_task(loaded.scenario.name, total=len(cases), completed=already, last="")

        finished = [already]

        def done(case, status: str) -> None:
            finished[0] += 1
            progress.update(task, advance=1, last=f"{case.suite}/{case.vendor}: {status}")
            if not err.is_terminal:  # CI logs and files get a line per case where no bar shows
                conditions = ", ".join(f"{k}={v}" for k, v in case.params.items())
                err.print(f"[{finished[0]}/{len(cases)}] {case.suite}/{case.vendor} ({conditions}): {status}",
                          markup=False, highlight=False)

        try:
            counts = runner.run(cases, done, retry=retry)
        except KeyboardInterrupt:
            err.print(f"interrupted; measured cases are kept. Finish with: "
                      f"qsbench run {scenario} --resume {store.run_dir}", markup=False)
            raise typer.Exit(130) from None
    digest.write(store.run_dir)  # what history and comparisons read of this run
    manifest = store.manifest
    manifest["finished"] = datetime.now(UTC).isoformat(timespec="seconds")
    manifest.setdefault("host_state", {"start": None})["end"] = host_state()
    manifest["stability"] = stability.of_run(store.run_dir, manifest)
    store.write_manifest(manifest)
    _print_summary(store.run_dir)
    out.print(", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "nothing left to run")
    # The exit code speaks for the whole run, not only for the cases this invocation ran.
    planned = {c.case_id for c in cases}
    held = Counter(s for case_id, s in store.case_statuses().items() if case_id in planned)
    if held != counts:
        out.print("run total: " + ", ".join(f"{n} {s}" for s, n in sorted(held.items())))
    if warning := stability.warning(manifest["stability"]):
        out.print(warning, markup=False, highlight=False)
    gates_failed = _print_gates(store.run_dir)
    print(store.run_dir)
    sys.stdout.flush()
    if held["failed"] or held["timeout"] or gates_failed:
        raise typer.Exit(EXIT_FAILED)


def _executor(text: str, jobs: int):
    """None for the local pool, else an (unentered) harness.executors.DaskExecutor."""
    from harness import executors

    try:
        spec = executors.parse(text)
    except executors.ExecutorError as exc:
        raise _bad_input(str(exc)) from None
    if spec.kind == executors.LOCAL:
        return None
    if jobs != 1:
        raise _bad_input(f"--jobs applies to --executor local; {spec} runs as many cases at once "
                         "as its workers have threads")
    return executors.DaskExecutor(spec)


@contextlib.contextmanager
def _entered(cluster):
    if cluster is None:
        yield None
        return
    from harness.executors import ExecutorError

    try:
        cluster.__enter__()
    except ExecutorError as exc:
        raise _bad_input(str(exc)) from None
    try:
        yield cluster
    finally:
        cluster.__exit__(None, None, None)


def _print_gates(run_dir: Path) -> bool:
    """Judge the scenario's success criteria; True when a mandatory one is not met."""
    from harness.evaluation.evaluate import evaluate

    ev = evaluate(run_dir)
    if ev.verdicts:
        counts = {o: sum(v.outcome == o for v in ev.verdicts) for o in ("pass", "fail", "n/a")}
        out.print(f"criteria: {counts['pass']} pass, {counts['fail']} fail, {counts['n/a']} n/a "
                  f"(details: qsbench verdicts {run_dir})")
    for v in ev.gate_failures:
        out.print(f"[red]mandatory criterion {v.criterion.id} not met by {v.vendor}[/]: ", end="")
        out.print(NOTES.ref(v.reason), markup=False, highlight=False)
    NOTES.print(out)
    return bool(ev.gate_failures)


def _cell(value: object) -> str:
    """A parameter's value for the table; blank where the row's suite has no such parameter."""
    from harness.evaluation.summary import value_text

    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else value_text(value)


def _print_summary(run_dir: Path) -> Path:
    """One table per suite, with only the parameters that suite's rows use; booleans as counts."""
    from harness.cli.console import table
    from harness.evaluation.summary import declared_better, fmt, lines_by, outcome, write_summary
    from harness.store import RunStore

    summary, bad, path = write_summary(run_dir)
    manifest = RunStore(run_dir).manifest
    params = lines_by(manifest.get("param_columns", []), manifest)
    for suite, rows in summary.groupby("suite", sort=False):
        used = [p for p in params if p in rows and rows[p].notna().any()]
        shown = table(f"{suite} ({run_dir.name})",
                      ("vendor", *used, "metric", "unit", "n", "median", "p25–p75", "p99"))
        failures = []
        for _, r in rows.iterrows():
            conditions = [_cell(r.get(p)) for p in used]
            if r["unit"] == "bool":
                better = declared_better(manifest, suite, r["metric"])
                cells = (outcome(r, better, named=False), "", "")
                if r["false_samples"] and better != "lower":
                    where = ", ".join(f"{p}={c}" for p, c in zip(used, conditions, strict=True) if c)
                    which = "" if r["false_samples"] == "false" else f": {r['false_samples']}"
                    failures.append(f"{r['vendor']} {r['metric']} ({where}){which}")
            else:
                cells = (fmt(r["median"]), f"{fmt(r['p25'])}–{fmt(r['p75'])}", fmt(r["p99"]))
            shown.add_row(r["vendor"], *conditions, r["metric"], r["unit"], str(r["n"]), *cells)
        out.print(shown)
        for line in failures:
            out.print("[red]false[/] ", end="")
            out.print(line, markup=False, highlight=False)
    for _, r in bad.iterrows():
        cases = "1 case" if r["cases"] == 1 else f"{r['cases']} cases"
        out.print(f"[yellow]{r['status']}[/] {r['suite']}/{r['vendor']} ({cases}): ", end="")
        out.print(NOTES.ref(r["reason"]), markup=False, highlight=False)
    NOTES.print(out)
    return path


@app.command()
def report(
    run_dir: Annotated[Path, typer.Argument(help="a run directory under results/")],
    baseline: Annotated[str | None, typer.Option(
        help="a baseline run directory, 'latest' (newest earlier run of the same scenario next to RUN_DIR), "
             "or 'history' / 'history:N' (the last N such runs, default 10), to add regressions and trends")
    ] = None,
) -> None:
    """Summarise and evaluate a run: RUN_DIR/report/{scorecard.html, summary.md, results.json, junit.xml}.

    scorecard.html is one self-contained file (open it anywhere, nothing is fetched): verdicts first,
    then scorecard and sensitivity, regressions against the baseline (judged as `qsbench compare`
    judges them), trends and evidence plots.

    Example: [bold]qsbench report results/20261124T120000Z-demo-1a2b --baseline history:7[/bold]
    """
    from harness.evaluation.compare import history_count, resolve_baseline
    from harness.report import render
    from harness.rundata import RunDirError

    if not (run_dir / "manifest.json").is_file():
        raise _bad_input(f"{run_dir}: not a run directory (no manifest.json)")
    if baseline is not None:
        try:
            history_count(baseline)
        except ValueError as exc:
            raise _bad_input(str(exc)) from None
    _print_summary(run_dir)
    base = None
    if baseline is not None:
        try:
            base = resolve_baseline(run_dir, baseline)
        except RunDirError as exc:  # the first night has nothing to compare with: report without
            err.print(f"{exc}; reporting without a comparison", markup=False)
    rendered = render(run_dir, base)
    for path in (rendered.markdown, rendered.results, rendered.junit, rendered.html):
        print(path)


COMMAND_GROUP = "qsbench.commands"


def _register_plugin_commands() -> None:
    """Commands a plugin brings (the simulated device's `kme`) register through an entry point,
    `register(app)`, as adapters and suites do: the engine's CLI names no vendor."""
    from importlib.metadata import entry_points

    for ep in entry_points(group=COMMAND_GROUP):
        try:
            ep.load()(app)
        except Exception as exc:  # a broken plugin costs its own commands, not the whole CLI
            print(f"qsbench: commands of plugin {ep.name!r} ({ep.value}) not available: "
                  f"{type(exc).__name__}: {exc}", file=sys.stderr)


for _module in (keyrate, netem, evaluation_commands):
    _module.register(app)
_register_plugin_commands()


def main() -> None:
    app()
