"""Keras's functional merge forms (`lamina.layers.add`, ..., `dot`) on eager arrays and on
symbolic tensors, against `keras.layers` on the same inputs."""
import keras
import numpy as np
import pytest

import lamina as lm

RNG = np.random.RandomState(0)
A, B, C = (RNG.rand(2, 3).astype("float32") for _ in range(3))
ELEMENTWISE = ["add", "multiply", "average", "maximum", "minimum"]


@pytest.mark.parametrize("name", ELEMENTWISE + ["concatenate"])
def test_eager_merges_match_keras(name):
    ours = getattr(lm.layers, name)([A, B, C])
    np.testing.assert_allclose(ours, getattr(keras.layers, name)([A, B, C]), rtol=1e-6)


def test_subtract_concatenate_axis_and_dot_options_match_keras():
    np.testing.assert_allclose(lm.layers.subtract([A, B]), keras.layers.subtract([A, B]))
    np.testing.assert_allclose(lm.layers.concatenate([A, B], axis=0),
                               keras.layers.concatenate([A, B], axis=0))
    x, y = RNG.rand(2, 3, 4).astype("float32"), RNG.rand(2, 5, 4).astype("float32")
    for axes, normalize in [((2, 2), False), (-1, True), ([2, 2], True)]:
        np.testing.assert_allclose(lm.layers.dot([x, y], axes, normalize=normalize),
                                   keras.layers.dot([x, y], axes, normalize=normalize),
                                   rtol=1e-5)
    np.testing.assert_allclose(lm.layers.dot([A, B]), keras.layers.dot([A, B]), rtol=1e-6)


def test_symbolic_merges_build_a_model_with_named_layers():
    a, b = lm.Input((3,), name="a"), lm.Input((3,), name="b")
    total = lm.layers.add([a, b], name="total")
    joined = lm.layers.concatenate([total, lm.layers.maximum([a, b])], axis=-1)
    score = lm.layers.dot([joined, joined], axes=1)
    model = lm.Model([a, b], score)
    assert model.get_layer("total").__class__ is lm.layers.Add
    assert joined.shape == (None, 6) and score.shape == (None, 1)
    expected = np.sum(np.concatenate([A + B, np.maximum(A, B)], -1) ** 2, -1, keepdims=True)
    np.testing.assert_allclose(model.predict([A, B], verbose=0), expected, rtol=1e-5)


def test_merge_forms_check_their_inputs_like_the_layers():
    with pytest.raises(lm.InputSpecError):
        lm.layers.subtract([A, B, C])
    with pytest.raises(lm.InputSpecError):
        lm.layers.concatenate([A, RNG.rand(3, 3).astype("float32")], axis=-1)
