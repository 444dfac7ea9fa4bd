"""Malformed scenarios, generated: every one is refused by `qsbench validate` with exit 2 and
located FILE:LINE:COL messages, never a traceback.

Each family starts from a valid scenario and breaks it one way: a wrong type, an unknown name,
a bad unit, broken YAML, bytes that are not UTF-8, a repeated key. Where the break has a line of
its own the test also checks that an error points at that line. Six families × 100 examples.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from harness.cli.app import app
from harness.scenario import parse_scenario

EXAMPLES = 100
SETTINGS = settings(max_examples=EXAMPLES, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@dataclass
class Pairs:
    """A YAML mapping as an ordered list of (key, value): it can hold a repeated key, as a file can."""

    items: list[tuple[str, Any]] = field(default_factory=list)


def base() -> Pairs:
    return Pairs([
        ("name", "fuzz"),
        ("seed", 1),
        ("timeout_s", 30),
        ("vendors", ["toy", Pairs([("name", "toy2"), ("adapter", "toy"),
                                   ("options", Pairs([("keygen_sleep_s", 0)]))]), "openssl"]),
        ("suites", [
            Pairs([("suite", "keygen_timing"), ("vendors", ["toy", "toy2"]), ("repeats", 2),
                   ("params", Pairs([("algorithms", ["TOY-KEM"]), ("samples", 3)]))]),
            Pairs([("suite", "pqc_primitives"), ("vendors", ["openssl"]),
                   ("params", Pairs([("algorithms", ["ML-KEM-768"]), ("samples", 5)]))]),
        ]),
        ("criteria", [Pairs([("id", "encaps_fast"), ("metric", "encaps_us"), ("statistic", "median"),
                             ("op", "<="), ("threshold", "5 ms"), ("weight", 1)])]),
    ])


def emit(node: Any, indent: int = 0) -> tuple[list[str], dict[tuple, int]]:
    """Block-style YAML lines and the 1-based line of every mapping key and list item, by path."""
    lines: list[str] = []
    where: dict[tuple, int] = {}
    pad = " " * indent

    def scalar(v: Any) -> str:
        return json.dumps(v)  # a JSON scalar is a YAML flow scalar

    def child(v: Any, path: tuple) -> None:
        sub_lines, sub_where = emit(v, indent + 2)
        for p, n in sub_where.items():
            where[(*path, *p)] = n + len(lines)
        lines.extend(sub_lines)

    if isinstance(node, Pairs):
        for key, v in node.items:
            where[(key,)] = len(lines) + 1
            if isinstance(v, (Pairs, list)) and (v.items if isinstance(v, Pairs) else v):
                lines.append(f"{pad}{key}:")
                child(v, (key,))
            else:
                empty = "{}" if isinstance(v, Pairs) else "[]" if isinstance(v, list) else scalar(v)
                lines.append(f"{pad}{key}: {empty}")
    else:
        for i, v in enumerate(node):
            where[(i,)] = len(lines) + 1
            if isinstance(v, (Pairs, list)) and (v.items if isinstance(v, Pairs) else v):
                sub_lines, sub_where = emit(v, indent + 2)
                lines.append(f"{pad}- {sub_lines[0].lstrip()}")
                for p, n in sub_where.items():
                    where[(i, *p)] = n + len(lines) - 1
                lines.extend(sub_lines[1:])
            else:
                lines.append(f"{pad}- {scalar(v) if not isinstance(v, (Pairs, list)) else '[]'}")
    return lines, where


def get(node: Any, path: tuple) -> Any:
    for p in path:
        node = dict(node.items)[p] if isinstance(node, Pairs) else node[p]
    return node


def put(node: Any, path: tuple, value: Any) -> None:
    parent = get(node, path[:-1])
    if isinstance(parent, Pairs):
        parent.items = [(k, value if k == path[-1] else v) for k, v in parent.items]
    else:
        parent[path[-1]] = value


def render(doc: Pairs) -> tuple[str, dict[tuple, int]]:
    lines, where = emit(doc)
    return "\n".join(lines) + "\n", where


def validate(tmp_path: Path, data: bytes) -> tuple[int, list[tuple[int, int, str]], int]:
    path = tmp_path / "s.yaml"
    path.write_bytes(data)
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    located = []
    for line in result.stderr.splitlines():
        m = re.match(rf"^{re.escape(str(path))}:(\d+):(\d+): (.+)$", line)
        assert m, f"not a located message: {line!r}"
        located.append((int(m[1]), int(m[2]), m[3]))
    return result.exit_code, located, data.count(b"\n") + 1


def refused(tmp_path: Path, data: bytes, at_line: int | None = None) -> list[tuple[int, int, str]]:
    code, located, n_lines = validate(tmp_path, data)
    assert code == 2
    assert located, "no error message"
    assert all(1 <= line <= n_lines and col >= 1 for line, col, _ in located)
    if at_line is not None:
        assert at_line in {line for line, _, _ in located}, (at_line, located)
    return located


def test_the_base_scenario_is_valid(tmp_path):
    text, _ = render(base())
    parse_scenario(text)
    code, located, _ = validate(tmp_path, text.encode())
    assert code == 0 and located == []


# --- wrong types ---------------------------------------------------------------------------------
NOT_A_NUMBER = st.sampled_from(["many", [1], {"a": 1}, None, "1 ms"])
NOT_A_STRING = st.sampled_from([[1], {"a": 1}, 3, None, True])
NOT_A_LIST = st.sampled_from([3, "toy", {"a": 1}, True])
NOT_A_MAPPING = st.sampled_from([3, "x", [1, 2], True])
TYPED = {
    ("name",): NOT_A_STRING, ("seed",): st.one_of(NOT_A_NUMBER, st.integers(max_value=-1)),
    ("timeout_s",): st.one_of(NOT_A_NUMBER, st.sampled_from([0, -1])),
    ("vendors",): NOT_A_LIST, ("vendors", 1, "name"): NOT_A_STRING,
    ("vendors", 1, "options"): NOT_A_MAPPING, ("suites",): NOT_A_LIST, ("suites", 0, "suite"): NOT_A_STRING,
    ("suites", 0, "repeats"): st.one_of(NOT_A_NUMBER, st.sampled_from([0, 1001, 2.5])),
    ("suites", 0, "vendors"): NOT_A_LIST, ("suites", 0, "params"): NOT_A_MAPPING,
    ("suites", 0, "params", "samples"): NOT_A_NUMBER, ("suites", 0, "params", "algorithms"): NOT_A_LIST,
    ("suites", 1, "params", "samples"): st.one_of(NOT_A_NUMBER, st.sampled_from([0, -3])),
    ("criteria",): NOT_A_LIST, ("criteria", 0, "op"): st.sampled_from(["=<", "==", 1, None]),
    ("criteria", 0, "weight"): st.one_of(NOT_A_NUMBER, st.just(-1)),
    ("criteria", 0, "statistic"): st.sampled_from(["p", "p100x", "average", 5]),
}


@SETTINGS
@given(path=st.sampled_from(sorted(TYPED, key=str)), data=st.data())
def test_wrong_types_are_refused_at_their_line(tmp_path, path, data):
    doc = base()
    put(doc, path, data.draw(TYPED[path]))
    text, where = render(doc)
    refused(tmp_path, text.encode(), where[path])


# --- unknown names -------------------------------------------------------------------------------
IDENT = st.from_regex(r"\A[a-z][a-z0-9_]{2,12}\Z", fullmatch=True)
MAPPINGS = [(), ("vendors", 1), ("suites", 0), ("suites", 0, "params"), ("suites", 1, "params"),
            ("criteria", 0)]
NAMED = {("suites", 0, "suite"): "suite", ("vendors", 1, "adapter"): "adapter",
         ("suites", 0, "vendors", 1): "vendor", ("criteria", 0, "category"): "category",
         ("criteria", 0, "vendors"): "criterion vendor"}


@SETTINGS
@given(where_=st.sampled_from(MAPPINGS + sorted(NAMED, key=str)), name=IDENT)
def test_unknown_names_are_refused_at_their_line(tmp_path, where_, name):
    doc = base()
    name = f"zz_{name}"  # never a real field, suite, adapter or vendor
    if where_ in MAPPINGS:
        target = get(doc, where_)
        target.items.append((name, 1))
        path = (*where_, name)
    elif where_ == ("criteria", 0, "category"):
        get(doc, ("criteria", 0)).items.append(("category", name))
        path = where_
    elif where_ == ("criteria", 0, "vendors"):
        get(doc, ("criteria", 0)).items.append(("vendors", [name]))
        path = (*where_, 0)
    else:
        put(doc, where_, name)
        path = where_
    text, lines = render(doc)
    refused(tmp_path, text.encode(), lines[path])


# --- bad units -----------------------------------------------------------------------------------
WRONG_UNIT = st.sampled_from(["bps", "bytes", "dB", "km", "%", "Hz", "bit", "parsec", "msec", "ms ms", ""])


@SETTINGS
@given(number=st.floats(0.001, 1e6), unit=WRONG_UNIT, field_=st.sampled_from(["threshold", "target"]))
def test_bad_units_are_refused_at_their_line(tmp_path, number, unit, field_):
    doc = base()
    crit = get(doc, ("criteria", 0))
    value = f"{number:g} {unit}".strip() if unit else f"{number:g}"  # a bare number: no unit at all
    if field_ == "threshold":
        put(doc, ("criteria", 0, "threshold"), value)
    else:
        crit.items.append(("target", value))
    text, lines = render(doc)
    refused(tmp_path, text.encode(), lines[("criteria", 0, field_)])


# --- broken YAML ---------------------------------------------------------------------------------
@SETTINGS
@given(line=st.integers(0, 40), how=st.sampled_from(["tab", "unclosed_flow", "open_quote", "bad_indent",
                                                     "colon", "alias", "tag", "documents"]))
def test_broken_yaml_is_refused(tmp_path, line, how):
    text, _ = render(base())
    lines = text.splitlines()
    i = line % len(lines)
    if how == "tab":  # tabs may not indent YAML
        i = next(j for j in range(i, i + len(lines)) if lines[j % len(lines)].startswith(" ")) % len(lines)
        lines[i] = "\t" + lines[i].lstrip(" ")
    elif how == "unclosed_flow":
        lines.insert(i, lines[i][: len(lines[i]) - len(lines[i].lstrip())] + "zz: [a, {b: c")
    elif how == "open_quote":
        lines[i] = lines[i].replace(": ", ': "', 1) if ": " in lines[i] else lines[i] + ' "'
    elif how == "bad_indent":
        lines.insert(i + 1, "   " + "x" * (i + 1) + ": 1" if not lines[i].endswith(":") else " - : :")
    elif how == "colon":
        lines.insert(i, "name: a: b")
    elif how == "alias":
        lines.insert(i, f"{lines[i][: len(lines[i]) - len(lines[i].lstrip())]}zz: *undefined_anchor")
    elif how == "tag":
        lines.insert(i, "zz: !!python/object/apply:os.system [echo]")
    else:
        lines.insert(max(1, i), "---\nzz: a second document")
    refused(tmp_path, ("\n".join(lines) + "\n").encode())


# --- not UTF-8 -----------------------------------------------------------------------------------
BAD_BYTES = st.sampled_from([b"\x80", b"\xbf", b"\xc0\xaf", b"\xe9t\xe9", b"\xff", b"\xfe\xff",
                             b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80", b"\xe2\x82"])


@SETTINGS
@given(offset=st.integers(0, 10_000), bad=BAD_BYTES, utf16=st.booleans())
def test_non_utf8_bytes_are_refused_at_their_line(tmp_path, offset, bad, utf16):
    text, _ = render(base())
    if utf16:  # a whole file saved as UTF-16 (with its byte-order mark)
        refused(tmp_path, text.encode("utf-16"), 1)
        return
    raw = text.encode()
    cut = offset % len(raw)
    refused(tmp_path, raw[:cut] + bad + raw[cut:], raw[:cut].count(b"\n") + 1)


# --- repeated keys -------------------------------------------------------------------------------
@SETTINGS
@given(where_=st.sampled_from(MAPPINGS), pick=st.integers(0, 10), same_value=st.booleans())
def test_repeated_keys_are_refused_at_the_repeat(tmp_path, where_, pick, same_value):
    doc = base()
    target = get(doc, where_)
    key, value = target.items[pick % len(target.items)]
    target.items.append((key, value if same_value else "other"))
    text, lines = render(doc)  # a repeated key's line is its last occurrence's
    located = refused(tmp_path, text.encode(), lines[(*where_, key)])
    assert any("appears twice" in msg for _, _, msg in located)


# --- every error of a file in one pass -----------------------------------------------------------
def test_every_error_is_reported_in_one_pass(tmp_path):
    doc = base()
    put(doc, ("seed",), "many")                               # the scenario's own shape
    put(doc, ("suites", 0, "params", "samples"), "lots")      # a suite's params
    put(doc, ("vendors", 1, "adapter"), "ghost")              # an unknown adapter
    put(doc, ("suites", 1, "suite"), "nope")                  # an unknown suite
    text, lines = render(doc)
    located = refused(tmp_path, text.encode())
    expected = {lines[("seed",)], lines[("suites", 0, "params", "samples")],
                lines[("vendors", 1, "adapter")], lines[("suites", 1, "suite")]}
    assert {line for line, _, _ in located} >= expected


@pytest.mark.parametrize("data", [b"", b"\n", b"# only a comment\n", b"[1, 2]\n", b"just text\n", b"~\n"])
def test_documents_that_are_not_mappings(tmp_path, data):
    refused(tmp_path, data, 1)
