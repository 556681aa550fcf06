"""moby_dick.jsontext reads and writes what the standard json module reads and writes."""

import json

import pytest
from hypothesis import given, strategies as st

from moby_dick import jsontext

scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
documents = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
                         max_leaves=20)


@given(documents)
def test_the_same_text_as_json_compact_and_indented(document):
    assert jsontext.dumps(document) == json.dumps(document)
    assert jsontext.dumps(document, indent=2) == json.dumps(document, indent=2)


@given(documents)
def test_reads_back_what_json_wrote(document):
    for text in (json.dumps(document), json.dumps(document, indent=4), " \n" + json.dumps(document) + "\n"):
        assert jsontext.loads(text) == document
        assert jsontext.loads(text.encode()) == document


def test_keys_and_constants_as_json_writes_them():
    document = {True: 1, None: 2, 3: [], 1.5: {}}
    assert jsontext.dumps(document, indent=2) == json.dumps(document, indent=2)
    assert jsontext.loads("[NaN, Infinity]")[1] == float("inf")


@pytest.mark.parametrize("bad", ["", "{", '{"a": 1} x', "[1,]", "nul", '"\\x"', "{'a': 1}"])
def test_invalid_documents_raise_value_error(bad):
    with pytest.raises(ValueError):
        json.loads(bad)
    with pytest.raises(ValueError):
        jsontext.loads(bad)


def test_what_json_cannot_write_is_refused():
    with pytest.raises(TypeError):
        jsontext.dumps({"a": object()})
    with pytest.raises(TypeError):
        jsontext.dumps({(1, 2): 1}, indent=2)
    assert jsontext.dumps({"a": [1]}) == '{"a": [1]}'  # a refusal leaves nothing behind for the next call
    loop = []
    loop.append(loop)
    with pytest.raises(ValueError):
        jsontext.dumps(loop)
