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

from harness import criteria_spec
from harness.criteria_spec import Criterion, RegressionPolicy
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


def parse_scenario(text: str, source: str = "<scenario>") -> LoadedScenario:
    """Validate scenario text; raise ScenarioInvalid with every error found."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        raise ScenarioInvalid([ScenarioError(source, line, col, "", f"YAML syntax: {exc.problem}")]) from None
    if not isinstance(data, dict):
        raise ScenarioInvalid([ScenarioError(source, 1, 1, "", "a scenario is a YAML mapping")])
    marks: dict[Loc, tuple[int, int]] = {}
    _marks(root, (), marks)

    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioInvalid(_errors_from(exc, (), marks, source)) from None

    errors: list[ScenarioError] = []

    def fail(loc: Loc, message: str) -> None:
        line, col = _locate(marks, loc)
        errors.append(ScenarioError(source, line, col, ".".join(map(str, loc)), message))

    names = [v.name for v in scenario.vendors]
    for i, spec in enumerate(scenario.vendors):
        if spec.name in names[:i]:
            fail(("vendors", i, "name"), f"vendor {spec.name!r} is listed twice")
        try:
            adapter_class(spec.adapter_name)
        except UnknownPlugin as exc:
            fail(("vendors", i, "adapter" if spec.adapter else "name"), str(exc))

    params: list[SuiteParams] = []
    declared: dict[str, Any] = {}  # suite → its metric declarations, for the criteria's units
    for i, run in enumerate(scenario.suites):
        for j, vendor in enumerate(run.vendors or []):
            if vendor not in names:
                fail(("suites", i, "vendors", j), f"{vendor!r} is not among the scenario's vendors: {names}")
        try:
            cls = suite_class(run.suite)
        except UnknownPlugin as exc:
            fail(("suites", i, "suite"), str(exc))
            continue
        declared[run.suite] = cls.metrics
        try:
            params.append(cls.Params.model_validate(run.params))
        except ValidationError as exc:
            errors.extend(_errors_from(exc, ("suites", i, "params"), marks, source))
    for loc, message in criteria_spec.check(list(scenario.criteria), scenario.categories, names, declared):
        fail(loc, message)
    if errors:
        raise ScenarioInvalid(errors)
    return LoadedScenario(scenario, text, source, tuple(params))


def load_scenario(path: str | Path) -> LoadedScenario:
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ScenarioInvalid([ScenarioError(str(path), 1, 1, "", f"cannot read: {exc.strerror}")]) from None
    return parse_scenario(text, str(path))


def json_schema() -> dict[str, Any]:
    """JSON Schema of the scenario format for editors (suite params are validated separately)."""
    return Scenario.model_json_schema()
