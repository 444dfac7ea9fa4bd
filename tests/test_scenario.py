from __future__ import annotations

import pytest

from harness.scenario import ScenarioInvalid, json_schema, load_scenario, parse_scenario

GOOD = """\
name: engine-check
seed: 7
vendors:
  - toy
  - name: slow-toy
    adapter: toy
    options: {keygen_sleep_s: 0.001}
suites:
  - suite: keygen_timing
    repeats: 2
    params:
      samples: 4
"""


def errors_of(text: str) -> list[str]:
    with pytest.raises(ScenarioInvalid) as info:
        parse_scenario(text, "s.yaml")
    return [str(e) for e in info.value.errors]


def test_good_scenario_loads_with_typed_suite_params():
    loaded = parse_scenario(GOOD, "s.yaml")
    assert loaded.scenario.vendor("slow-toy").adapter_name == "toy"
    assert loaded.scenario.vendor("toy").adapter_name == "toy"
    assert loaded.params[0].samples == 4
    assert len(loaded.sha256) == 64


def test_suite_param_error_points_at_file_line_col_and_field():
    text = GOOD.replace("samples: 4", "samples: many")
    assert errors_of(text) == [
        "s.yaml:12:7: suites.0.params.samples: "
        "Input should be a valid integer, unable to parse string as an integer"
    ]


def test_unknown_field_is_an_error_at_its_own_line():
    text = GOOD.replace("    repeats: 2\n", "    repeats: 2\n    repeets: 3\n")
    assert errors_of(text) == ["s.yaml:11:5: suites.0.repeets: Extra inputs are not permitted"]


def test_missing_field_points_at_enclosing_mapping():
    text = "name: x\nvendors: [toy]\n"
    assert errors_of(text) == ["s.yaml:1:1: suites: Field required"]


def test_unknown_suite_and_adapter_name_the_registered_ones():
    text = GOOD.replace("suite: keygen_timing", "suite: nope").replace("adapter: toy", "adapter: ghost")
    errs = errors_of(text)
    assert errs[0].startswith("s.yaml:6:5: vendors.1.adapter: no adapter named 'ghost'; registered: ")
    assert "toy" in errs[0]
    assert errs[1].startswith("s.yaml:9:5: suites.0.suite: no suite named 'nope'; registered: ")


def test_duplicate_vendor_and_unknown_subset_vendor():
    text = GOOD.replace("name: slow-toy", "name: toy").replace(
        "    repeats: 2\n", "    repeats: 2\n    vendors: [toy, ghost]\n")
    errs = errors_of(text)
    assert errs[0] == "s.yaml:5:5: vendors.1.name: vendor 'toy' is listed twice"
    assert errs[1].startswith("s.yaml:11:20: suites.0.vendors.1: 'ghost' is not among")
    assert len(errs) == 2


def test_yaml_syntax_error_has_a_position():
    errs = errors_of("name: x\nvendors: [toy\nsuites: []\n")
    assert len(errs) == 1 and errs[0].startswith("s.yaml:3:") and "YAML syntax" in errs[0]


def test_non_mapping_and_unreadable_file(tmp_path):
    assert errors_of("- a\n- b\n") == ["s.yaml:1:1: <root>: a scenario is a YAML mapping"]
    with pytest.raises(ScenarioInvalid, match="cannot read"):
        load_scenario(tmp_path / "missing.yaml")


def test_json_schema_describes_the_format():
    schema = json_schema()
    assert set(schema["required"]) == {"name", "vendors", "suites"}
    assert schema["additionalProperties"] is False


def test_repeated_key_is_an_error_at_the_repeat():
    text = GOOD.replace("seed: 7\n", "seed: 7\nseed: 8\n")
    assert errors_of(text) == ["s.yaml:3:1: seed: key 'seed' appears twice in this mapping (first at line 2)"]


def test_file_that_is_not_utf8_names_the_byte_and_its_line(tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes(GOOD.replace("engine-check", "caf\u00e9").encode("latin-1"))
    with pytest.raises(ScenarioInvalid) as info:
        load_scenario(path)
    (err,) = info.value.errors
    assert (err.line, err.col) == (1, 10)
    assert "not UTF-8: byte 0xe9 at offset 9" in err.message


def test_shape_and_suite_param_errors_come_together():
    text = GOOD.replace("seed: 7", "seed: -1").replace("samples: 4", "samples: many")
    errs = errors_of(text)
    assert [e.split(": ")[0] for e in errs] == ["s.yaml:2:1", "s.yaml:12:7"]


def test_an_option_the_adapter_does_not_read_is_an_error_naming_what_it_reads():
    text = GOOD.replace("keygen_sleep_s: 0.001", "keygen_sleep: 0.001")
    (error,) = errors_of(text)
    assert error.startswith("s.yaml:7:15: vendors.1.options.keygen_sleep: adapter 'toy' has no option")
    assert "keygen_sleep_s" in error
    qkd = ("name: q\nvendors: [{name: d, adapter: simulated_qkd, options: {profil: lim-2014}}]\n"
           "suites: [{suite: key_rate}]\n")
    assert any("has no option 'profil'" in e and "profile" in e for e in errors_of(qkd))
    parse_scenario(qkd.replace("profil:", "profile:"), "s.yaml")  # the real name is accepted
