"""`lamina.utils` array helpers against Keras 3 on the same inputs: to_categorical,
normalize, pad_sequences (every padding/truncating/value/dtype option), and the (x, y,
sample_weight) packing helpers."""
import itertools

import jax.numpy as jnp
import keras
import numpy as np
import pytest

import lamina as lm


@pytest.mark.parametrize("labels, num_classes", [
    ([0, 2, 1, 3], None), ([[1], [0], [2]], None), ([0, 1], 4),
    (np.array([[0, 1], [2, 0]]), None), (np.array([[[1], [0]]]), 3)])
def test_to_categorical_matches_keras_on_numpy(labels, num_classes):
    ours = lm.utils.to_categorical(labels, num_classes)
    theirs = keras.utils.to_categorical(labels, num_classes)
    assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
    np.testing.assert_array_equal(ours, theirs)


def test_to_categorical_of_a_jax_array_is_a_float32_jax_array_like_keras():
    labels = jnp.array([[2], [0], [1]])
    ours, theirs = lm.utils.to_categorical(labels, 3), keras.utils.to_categorical(labels, 3)
    assert ours.dtype == theirs.dtype == jnp.float32 and ours.shape == theirs.shape == (3, 3)
    np.testing.assert_array_equal(ours, theirs)
    # Keras fails on a JAX array without num_classes; lamina infers max + 1 as for numpy
    np.testing.assert_array_equal(lm.utils.to_categorical(labels), theirs)


def test_to_categorical_refuses_a_label_beyond_num_classes():
    with pytest.raises(lm.InputSpecError, match=r"\[0, 2\).*num_classes"):
        lm.utils.to_categorical([0, 1, 2], num_classes=2)


X = np.array([[3.0, 4.0, 0.0], [0.0, 0.0, 0.0], [1.0, -2.0, 2.0]])


@pytest.mark.parametrize("axis, order", [(-1, 2), (0, 2), (1, 1), (-1, np.inf), (0, 3)])
def test_normalize_matches_keras_on_numpy(axis, order):
    np.testing.assert_allclose(lm.utils.normalize(X, axis, order),
                               keras.utils.normalize(X, axis, order))


@pytest.mark.parametrize("axis, order", [(-1, 2), (0, 2), (1, 1), (0, 3)])
def test_normalize_matches_keras_on_jax_arrays(axis, order):
    xj = jnp.asarray(X, jnp.float32)
    np.testing.assert_allclose(lm.utils.normalize(xj, axis, order),
                               keras.utils.normalize(xj, axis, order), rtol=1e-6)
    with pytest.raises(lm.ConfigurationError, match="int >= 1"):
        lm.utils.normalize(xj, axis, 0.5)


SEQS = [[1, 2, 3, 4], [5], [], [6, 7]]


@pytest.mark.parametrize("padding, truncating, maxlen", list(itertools.product(
    ["pre", "post"], ["pre", "post"], [None, 2, 6])))
def test_pad_sequences_matches_keras_for_every_side(padding, truncating, maxlen):
    ours = lm.utils.pad_sequences(SEQS, maxlen=maxlen, padding=padding, truncating=truncating,
                                  value=-1)
    theirs = keras.utils.pad_sequences(SEQS, maxlen=maxlen, padding=padding,
                                       truncating=truncating, value=-1)
    assert ours.dtype == theirs.dtype
    np.testing.assert_array_equal(ours, theirs)


def test_pad_sequences_dtypes_values_and_sample_shapes_match_keras():
    floats = [[0.5, 1.5], [2.5]]
    for kwargs in ({"dtype": "float32", "value": 0.25}, {"dtype": "int64"}):
        np.testing.assert_array_equal(lm.utils.pad_sequences(floats, **kwargs),
                                      keras.utils.pad_sequences(floats, **kwargs))
    words = [["a", "b"], ["c"]]
    ours = lm.utils.pad_sequences(words, dtype=object, value="<pad>")
    assert ours.tolist() == keras.utils.pad_sequences(words, dtype=object, value="<pad>").tolist()
    vectors = [np.ones((3, 2)), np.zeros((1, 2))]
    np.testing.assert_array_equal(lm.utils.pad_sequences(vectors, maxlen=2, dtype="float32"),
                                  keras.utils.pad_sequences(vectors, maxlen=2, dtype="float32"))


def test_pad_sequences_errors_name_the_problem():
    with pytest.raises(lm.ConfigurationError, match="'pre' or 'post'"):
        lm.utils.pad_sequences(SEQS, padding="middle")
    with pytest.raises(lm.ConfigurationError, match="dtype=object"):
        lm.utils.pad_sequences([["a"]], value="x")
    with pytest.raises(lm.InputSpecError, match="item 1"):
        lm.utils.pad_sequences([[1], 5])
    with pytest.raises(lm.InputSpecError, match="sequence 1"):
        lm.utils.pad_sequences([np.ones((2, 3)), np.ones((2, 4))])


@pytest.mark.parametrize("data", [
    np.ones(3), (np.ones(3),), (np.ones(3), np.zeros(3)), [np.ones(3), np.zeros(3), 2.0]])
def test_unpack_x_y_sample_weight_matches_keras(data):
    ours = lm.utils.unpack_x_y_sample_weight(data)
    theirs = keras.utils.unpack_x_y_sample_weight(data)
    assert len(ours) == len(theirs) == 3
    for a, b in zip(ours, theirs, strict=True):
        assert a is b


@pytest.mark.parametrize("args", [
    (1,), ((1, 2),), ([1, 2],), (1, 2), (1, 2, 3), (1, None, 3)])
def test_pack_x_y_sample_weight_matches_keras(args):
    assert lm.utils.pack_x_y_sample_weight(*args) == keras.utils.pack_x_y_sample_weight(*args)


def test_unpack_refuses_four_items():
    with pytest.raises(lm.InputSpecError, match="a tuple of 4 entries"):
        lm.utils.unpack_x_y_sample_weight((1, 2, 3, 4))
