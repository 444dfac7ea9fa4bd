"""Scenario files: YAML validated by pydantic, errors that point at file:line:col.

Validation happens in two passes: the scenario's own shape, then each suite's
`params:` block against that suite's `Params` model. Every error keeps the
location of the YAML node it is about, so a user reads
`demo.yaml:12:7: suites.0.params.samples: Input should be greater than 0`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from harness.evaluation import criteria_spec
from harness.evaluation.criteria_spec import Criterion, RegressionPolicy
from harness.registry import UnknownPlugin, adapter_class, suite_class
from harness.suite import SuiteParams

Loc = tuple[str | int, ...]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class VendorSpec(_Strict):
    """A vendor under test: a name for reports, the adapter that reaches it, and its options."""

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.+-]+$")
    adapter: str | None = Field(None, description="registered adapter name; defaults to `name`")
    options: dict[str, Any] = Field(default_factory=dict, description="passed to the adapter unchanged")

    @property
    def adapter_name(self) -> str:
        return self.adapter or self.name


class SuiteRun(_Strict):
    suite: str = Field(description="registered suite name, e.g. pqc_primitives")
    vendors: list[str] | None = Field(None, description="subset of the scenario's vendors; default all")
    repeats: int = Field(1, ge=1, le=1000, description="independent repetitions of every case")
    timeout_s: float | None = Field(None, gt=0, description="per-case timeout; default the scenario's")
    params: dict[str, Any] = Field(default_factory=dict, description="the suite's own parameters")


class Scenario(_Strict):
    name: str = Field(min_length=1)
    description: str = ""
    seed: int = Field(0, ge=0, description="run seed; every case derives its own from it")
    timeout_s: float = Field(300.0, gt=0, description="default per-case timeout in seconds")
    vendors: list[VendorSpec] = Field(min_length=1)
    suites: list[SuiteRun] = Field(min_length=1)
    criteria: list[Criterion] = Field(default_factory=list, description="success criteria (pilot verdicts)")
    categories: dict[str, Annotated[float, Field(ge=0)]] | None = Field(
        None, description="scoring category → weight; default five equal categories")
    regression: RegressionPolicy = Field(default_factory=RegressionPolicy,
                                         description="when a change against a baseline is a regression")

    @field_validator("vendors", mode="before")
    @classmethod
    def _vendor_shorthand(cls, value: Any) -> Any:
        # `- openssl` is short for `- {name: openssl}`.
        if isinstance(value, list):
            return [{"name": v} if isinstance(v, str) else v for v in value]
        return value

    def vendor(self, name: str) -> VendorSpec:
        return next(v for v in self.vendors if v.name == name)


@dataclass(frozen=True)
class ScenarioError:
    file: str
    line: int  # 1-based
    col: int  # 1-based
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}: {self.path or '<root>'}: {self.message}"


class ScenarioInvalid(Exception):
    def __init__(self, errors: list[ScenarioError]) -> None:
        self.errors = errors
        super().__init__("\n".join(str(e) for e in errors))


@dataclass(frozen=True)
class LoadedScenario:
    scenario: Scenario
    text: str
    source: str  # file name as given, for messages
    params: tuple[SuiteParams, ...]  # validated params, one per entry of scenario.suites

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()


def _marks(node: yaml.Node, loc: Loc, out: dict[Loc, tuple[int, int]]) -> None:
    out.setdefault(loc, (node.start_mark.line + 1, node.start_mark.column + 1))
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            child = (*loc, str(key.value))
            out[child] = (key.start_mark.line + 1, key.start_mark.column + 1)
            _marks(value, child, out)
            out[child] = (key.start_mark.line + 1, key.start_mark.column + 1)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _marks(item, (*loc, i), out)


def _locate(marks: dict[Loc, tuple[int, int]], loc: Loc) -> tuple[int, int]:
    # A missing field has no node of its own: point at the nearest enclosing one.
    for n in range(len(loc), -1, -1):
        if loc[:n] in marks:
            return marks[loc[:n]]
    return (1, 1)


def _errors_from(exc: ValidationError, prefix: Loc, marks: dict, source: str) -> list[ScenarioError]:
    errors = []
    for err in exc.errors():
        # pydantic reports union branches and before-validators with non-field segments; drop them.
        loc = tuple(p for p in (*prefix, *err["loc"]) if not (isinstance(p, str) and "[" in p))
        line, col = _locate(marks, loc)
        errors.append(ScenarioError(source, line, col, ".".join(map(str, loc)), err["msg"]))
    return errors


def _yaml_tree(text: str, source: str) -> tuple[yaml.Node | None, Any]:
    """Compose and construct the document once, so positions and values come from the same parse."""
    def syntax(line: int, col: int, message: str) -> ScenarioInvalid:
        return ScenarioInvalid([ScenarioError(source, line, col, "", f"YAML syntax: {message}")])

    loader = None
    try:
        loader = yaml.SafeLoader(text)  # checks every character up front (ReaderError)
        node = loader.get_single_node()
        if node is None:
            return None, None
        duplicates = _duplicate_keys(node)
        if duplicates:
            raise ScenarioInvalid([
                ScenarioError(source, k.start_mark.line + 1, k.start_mark.column + 1, path,
                              f"key {k.value!r} appears twice in this mapping (first at line {first})")
                for path, k, first in duplicates])
        return node, loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise syntax(*((mark.line + 1, mark.column + 1) if mark else (1, 1)), str(exc.problem)) from None
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow (control codes, NUL)
        where = _line_col(text, exc.position)
        raise syntax(*where, f"character U+{exc.character:04X} is not allowed") from None
    except (yaml.YAMLError, RecursionError) as exc:  # e.g. nesting deeper than the parser's stack
        raise syntax(1, 1, f"{type(exc).__name__}: {exc}") from None
    finally:
        if loader is not None:
            loader.dispose()


def _duplicate_keys(node: yaml.Node, loc: Loc = ()) -> list[tuple[str, yaml.Node, int]]:
    """Every key repeated within one mapping: YAML loaders keep the last silently, we refuse."""
    found: list[tuple[str, yaml.Node, int]] = []
    stack: list[tuple[yaml.Node, Loc]] = [(node, loc)]
    seen_nodes: set[int] = set()  # aliases share nodes: visit each once
    while stack:
        current, at = stack.pop()
        if id(current) in seen_nodes:
            continue
        seen_nodes.add(id(current))
        if isinstance(current, yaml.MappingNode):
            first: dict[str, int] = {}
            for key, value in current.value:
                if isinstance(key, yaml.ScalarNode):
                    if key.value in first:
                        found.append((".".join(map(str, (*at, key.value))), key, first[key.value]))
                    else:
                        first[key.value] = key.start_mark.line + 1
                stack.append((value, (*at, str(key.value) if isinstance(key, yaml.ScalarNode) else "?")))
        elif isinstance(current, yaml.SequenceNode):
            stack.extend((item, (*at, i)) for i, item in enumerate(current.value))
    return sorted(found, key=lambda f: (f[1].start_mark.line, f[1].start_mark.column))


def _line_col(text: str, index: int) -> tuple[int, int]:
    before = text[:index]
    return before.count("\n") + 1, index - (before.rfind("\n") + 1) + 1


def parse_scenario(text: str, source: str = "<scenario>") -> LoadedScenario:
    """Validate scenario text; raise ScenarioInvalid with every error found, in one pass."""
    root, data = _yaml_tree(text, source)
    if root is None or not isinstance(data, dict):
        raise ScenarioInvalid([ScenarioError(source, 1, 1, "", "a scenario is a YAML mapping")])
    marks: dict[Loc, tuple[int, int]] = {}
    _marks(root, (), marks)

    errors: list[ScenarioError] = []

    def fail(loc: Loc, message: str) -> None:
        line, col = _locate(marks, loc)
        errors.append(ScenarioError(source, line, col, ".".join(map(str, loc)), message))

    scenario: Scenario | None
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        errors.extend(_errors_from(exc, (), marks, source))
        scenario = None

    # Names and suite params are checked on the raw data too, so a shape error elsewhere in
    # the file does not hide them: the user sees every problem of the file at once.
    names = _vendor_names(data.get("vendors"), fail)
    params: list[SuiteParams] = []
    declared: dict[str, Any] = {}  # suite → its metric declarations, for the criteria's units
    runs = data.get("suites")
    for i, run in enumerate(runs if isinstance(runs, list) else []):
        if not isinstance(run, dict):
            continue
        subset = run.get("vendors")
        for j, vendor in enumerate(subset if isinstance(subset, list) else []):
            if isinstance(vendor, str) and names is not None and vendor not in names:
                fail(("suites", i, "vendors", j), f"{vendor!r} is not among the scenario's vendors: {names}")
        if not isinstance(run.get("suite"), str):
            continue
        try:
            cls = suite_class(run["suite"])
        except UnknownPlugin as exc:
            fail(("suites", i, "suite"), str(exc))
            continue
        declared[run["suite"]] = cls.metrics
        given = run.get("params", {})
        if not isinstance(given, dict):
            continue
        try:
            params.append(cls.Params.model_validate(given))
        except ValidationError as exc:
            errors.extend(_errors_from(exc, ("suites", i, "params"), marks, source))
    if scenario is not None:
        for loc, message in criteria_spec.check(list(scenario.criteria), scenario.categories, names or [],
                                                declared):
            fail(loc, message)
    if errors or scenario is None:
        raise ScenarioInvalid(sorted(errors, key=lambda e: (e.line, e.col)))
    return LoadedScenario(scenario, text, source, tuple(params))


def _vendor_names(vendors: Any, fail: Any) -> list[str] | None:
    """The vendor names as written (None when `vendors` is not a list); repeats and unknown adapters fail."""
    if not isinstance(vendors, list):
        return None
    names: list[str] = []
    for i, spec in enumerate(vendors):
        entry = {"name": spec} if isinstance(spec, str) else spec
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            continue
        name, adapter = entry["name"], entry.get("adapter")
        if name in names:
            fail(("vendors", i, "name"), f"vendor {name!r} is listed twice")
        names.append(name)
        if adapter is not None and not isinstance(adapter, str):
            continue
        try:
            cls = adapter_class(adapter or name)
        except UnknownPlugin as exc:
            fail(("vendors", i, "adapter" if adapter else "name"), str(exc))
            continue
        _check_options(cls, entry.get("options"), ("vendors", i, "options"), fail)
    return names


def _check_options(cls: Any, options: Any, at: tuple, fail: Any) -> None:
    """Refuse option names the adapter does not read (a typo would otherwise be ignored)."""
    accepted = getattr(cls, "options_accepted", None)
    if not isinstance(options, dict) or accepted is None:
        return
    for key in options:
        if key not in accepted:
            known = ", ".join(sorted(accepted)) or "none"
            fail((*at, key), f"adapter {cls.name!r} has no option {key!r}; it reads: {known}")


def load_scenario(path: str | Path) -> LoadedScenario:
    """Read and validate a scenario file; the file must be UTF-8 (YAML 1.2's default encoding)."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ScenarioInvalid([ScenarioError(str(path), 1, 1, "", f"cannot read: {exc.strerror}")]) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        good = raw[: exc.start].decode("utf-8")
        line, col = _line_col(good, len(good))
        raise ScenarioInvalid([ScenarioError(
            str(path), line, col, "", f"not UTF-8: byte 0x{raw[exc.start]:02x} at offset {exc.start} "
            f"({exc.reason}); save the file as UTF-8")]) from None
    return parse_scenario(text, str(path))


def json_schema() -> dict[str, Any]:
    """JSON Schema of the scenario format for editors (suite params are validated separately)."""
    return Scenario.model_json_schema()
