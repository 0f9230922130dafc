"""TextVectorization, StringLookup and IntegerLookup against Keras 3.15's own outputs.

Keras's layers need TensorFlow, which this environment lacks: the outputs were computed
with TensorFlow's Keras by `tests/fixtures/text_preprocessing/make_reference.py` and stored
in `reference.json` beside it. Each case adapts the lamina layer on the same data (or gives
the same vocabulary) and compares the vocabulary, the idf weights (rtol 1e-6) and the
output (exact for indices and tokens, rtol 1e-6 for floats).
"""
import json
from pathlib import Path

import numpy as np
import pytest

import lamina as lm

FIXTURE = Path(__file__).parents[1] / "fixtures" / "text_preprocessing" / "reference.json"
CASES = json.loads(FIXTURE.read_text())["cases"]


def _array(values, is_text):
    return np.array(values, dtype=object if is_text else np.int64)


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_outputs_equal_keras(case):
    cls = getattr(lm.layers, case["layer"])
    kwargs = dict(case["kwargs"])
    if isinstance(kwargs.get("ngrams"), list):
        kwargs["ngrams"] = tuple(kwargs["ngrams"])
    layer = cls(**kwargs)
    text_input = case["layer"] != "IntegerLookup" and not kwargs.get("invert")
    if case["adapt"] is not None:
        layer.adapt(_array(case["adapt"], case["layer"] != "IntegerLookup"))
    output = layer(_array(case["inputs"], text_input))
    assert layer.get_vocabulary() == case["vocabulary"]
    if case["idf_weights"] is not None:
        np.testing.assert_allclose(layer.idf_weights, case["idf_weights"], rtol=1e-6)
    expected = np.array(case["output"])
    assert output.shape == expected.shape
    if expected.dtype.kind in "fc":
        np.testing.assert_allclose(output, expected, rtol=1e-6, atol=1e-7)
    else:
        assert output.tolist() == expected.tolist()
    kind = "f" if case["dtype"].startswith("float") else case["dtype"][0]
    assert np.asarray(output).dtype.kind == ("O" if case["dtype"] in ("object", "str")
                                             or case["dtype"].startswith("<U") else kind)
