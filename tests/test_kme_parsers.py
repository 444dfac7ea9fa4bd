"""The KME's request parsers under hypothesis: any bytes, any Content-Type, any query text.

Each input either parses (a JSON object / an ASCII decimal) or raises ApiError with a 4xx
status and a message; nothing else may escape (that would be a 5xx on the wire).
"""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vendors.simulated_qkd.kme_app import MAX_JSON_DEPTH, ApiError, parse_json_bytes, parse_query_int

JSON = "application/json"
json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
                           lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(), inner, max_size=4),
                           max_leaves=20)


def _outcome(fn, *args):
    try:
        return fn(*args)
    except ApiError as exc:
        assert 400 <= exc.status < 500 and exc.message
        return exc


@settings(max_examples=300, deadline=None)
@given(raw=st.binary(max_size=2048), content_type=st.sampled_from(
    [JSON, "application/json; charset=utf-8", "text/plain", "application/json; charset=utf-16", "", None]))
def test_any_bytes_parse_or_give_a_4xx(raw, content_type):
    out = _outcome(parse_json_bytes, raw, content_type)
    assert isinstance(out, dict | ApiError)


@settings(max_examples=300, deadline=None)
@given(value=json_values)
def test_json_texts_parse_to_objects_or_give_a_4xx(value):
    raw = json.dumps(value).encode()
    out = _outcome(parse_json_bytes, raw, JSON)
    if isinstance(out, dict):
        assert out == json.loads(raw)


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=30))
def test_query_numbers_are_ascii_decimals_only(text):
    out = _outcome(parse_query_int, text, "number")
    if isinstance(out, int):
        assert text.isascii() and text.isdigit() and out == int(text)


@pytest.mark.parametrize("text", ["１", "+1", "1_0", " 1", "1 ", "-1", "0x10", "1e3", "", "٣"])
def test_lenient_numbers_are_refused(text):
    with pytest.raises(ApiError) as info:
        parse_query_int(text, "number")
    assert info.value.status == 400


@pytest.mark.parametrize(("raw", "content_type", "status"), [
    (b"[" * 100_000 + b"]" * 100_000, JSON, 413),
    (b'{"a":' * (MAX_JSON_DEPTH + 1) + b"1" + b"}" * (MAX_JSON_DEPTH + 1), JSON, 400),
    (b'{"key_IDs":[{"key_ID":"\\ud800"}]}', JSON, 400),
    (b'{"number":1,"number":2}', JSON, 400),
    (b'{"number":NaN}', JSON, 400),
    (b'{"number":1}', "text/plain", 415),
    (b'<number>1</number>', "application/xml", 415),
    ('{"number":1}'.encode("utf-16"), "application/json; charset=utf-16", 415),
    ('{"number":1}'.encode("utf-16"), JSON, 400),
    (b"\xff\xfe", JSON, 400),
    (b'{"n":' + b"9" * 5000 + b"}", JSON, 400),
])
def test_malformed_bodies_are_refused_with_the_right_status(raw, content_type, status):
    with pytest.raises(ApiError) as info:
        parse_json_bytes(raw, content_type)
    assert info.value.status == status
