"""CategoryEncoding and the shared `encode_categorical`, against Keras 3 on the same inputs.

References: Keras 3.15's `numerical_utils.encode_categorical_inputs` (JAX backend) for the
encoding function, `keras.layers.CategoryEncoding` for the layer; both are exact (0/1 values
and small float sums), compared with atol 1e-6.
"""
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from harness import LayerCase, check_layer

import lamina as lm
from lamina.errors import ConfigurationError, InputSpecError
from lamina.layers.categorical_encoding import encode_categorical
from lamina.layers.category_encoding import CategoryEncoding, encoded_shape

os.environ.setdefault("KERAS_BACKEND", "jax")
keras = pytest.importorskip("keras")
from keras.src.utils import numerical_utils  # noqa: E402

EXACT = {"rtol": 0, "atol": 1e-6}
# ranks 0-2, with indices out of range ([0, 5) is valid) in the rank-1 and rank-2 cases
INPUTS = {
    "rank0": np.array(3),
    "rank1": np.array([1, 4, 4, 0, 7]),
    "rank2": np.array([[0, 1, 1], [4, 2, -1], [3, 3, 3]]),
    "rank2-last1": np.array([[2], [0], [4], [5]]),
}


def _ints(*shape):
    return lambda rng: rng.integers(0, 5, size=shape).astype(np.int32)


HARNESS_CASES = [
    LayerCase("category-encoding-multi-hot", lambda: CategoryEncoding(5), _ints(6, 3), (6, 5),
              trainable_params=0),
    LayerCase("category-encoding-one-hot", lambda: CategoryEncoding(5, "one_hot"), _ints(6, 3),
              (6, 3, 5), trainable_params=0),
    LayerCase("category-encoding-count", lambda: CategoryEncoding(4, "count"), _ints(6, 3),
              (6, 4), trainable_params=0),
]


@pytest.mark.parametrize("case", HARNESS_CASES, ids=str)
def test_harness(case):
    check_layer(case)


# -- encode_categorical against Keras's encode_categorical_inputs ----------------------------
@pytest.mark.parametrize("mode", ["int", "one_hot", "multi_hot", "count"])
@pytest.mark.parametrize("name", sorted(INPUTS))
def test_encode_categorical_equals_keras_on_numpy_and_jax(mode, name):
    x = INPUTS[name]
    expected = np.asarray(numerical_utils.encode_categorical_inputs(
        jnp.asarray(x), output_mode=mode, depth=5, dtype="float32"))
    for xp in (np, jnp):
        got = encode_categorical(xp.asarray(x), mode, 5, dtype="float32", xp=xp)
        assert got.shape == expected.shape == encoded_shape(x.shape, mode, 5)
        np.testing.assert_allclose(np.asarray(got), expected, **EXACT)


@pytest.mark.parametrize("name", ["rank1", "rank2"])
def test_encode_categorical_count_weights_equal_keras(name):
    x = INPUTS[name]
    weights = np.random.default_rng(0).uniform(0.1, 2.0, size=x.shape).astype(np.float32)
    expected = numerical_utils.encode_categorical_inputs(
        jnp.asarray(x), output_mode="count", depth=5, dtype="float32",
        count_weights=jnp.asarray(weights))
    for xp in (np, jnp):
        got = encode_categorical(xp.asarray(x), "count", 5, count_weights=xp.asarray(weights),
                                 xp=xp)
        np.testing.assert_allclose(np.asarray(got), np.asarray(expected), rtol=1e-6, atol=1e-6)


def test_encode_categorical_tf_idf_is_count_times_idf_and_needs_weights():
    x = INPUTS["rank2"]
    idf = np.array([0.5, 1.0, 1.5, 2.0, 2.5], np.float32)
    counts = np.stack([np.bincount(row[(row >= 0) & (row < 5)], minlength=5) for row in x])
    got = encode_categorical(x, "tf_idf", 5, idf_weights=idf, xp=np)
    np.testing.assert_allclose(got, counts * idf, **EXACT)
    with pytest.raises(InputSpecError, match="enc: `output_mode='tf_idf'` expected "
                                             "`idf_weights`, received None"):
        encode_categorical(x, "tf_idf", 5, xp=np, name="enc")
    with pytest.raises(InputSpecError, match="enc: expected `output_mode` in"):
        encode_categorical(x, "binary", 5, xp=np, name="enc")


# -- the layer against keras.layers.CategoryEncoding ------------------------------------------
@pytest.mark.parametrize("mode", ["one_hot", "multi_hot", "count"])
@pytest.mark.parametrize("name", sorted(INPUTS))
def test_category_encoding_equals_keras(mode, name):
    x = INPUTS[name]
    expected = np.asarray(keras.layers.CategoryEncoding(5, output_mode=mode)(x))
    got = CategoryEncoding(5, output_mode=mode)(x)
    assert got.shape == expected.shape and got.dtype == jnp.float32
    np.testing.assert_allclose(np.asarray(got), expected, **EXACT)


def test_category_encoding_list_inputs_and_count_weights_equal_keras():
    x = [[0, 1], [0, 0], [1, 2], [3, 1]]
    weights = np.array([[.1, .2], [.1, .1], [.2, .3], [.4, .2]])
    expected = keras.layers.CategoryEncoding(4, "count")(x, count_weights=weights)
    got = CategoryEncoding(4, "count")(x, count_weights=weights)
    np.testing.assert_allclose(np.asarray(got), np.asarray(expected), rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(np.asarray(CategoryEncoding(4, "one_hot")([3, 2, 0, 1])),
                                  np.eye(4)[[3, 2, 0, 1]])


def test_category_encoding_float_indices_are_truncated_as_keras_multi_hot_does():
    x = np.array([[1.0, 2.5], [3.0, 3.7]], np.float32)
    np.testing.assert_allclose(np.asarray(CategoryEncoding(4)(x)),
                               np.asarray(keras.layers.CategoryEncoding(4)(x)), **EXACT)
    truncated = x.astype(np.int32)
    for mode in ("one_hot", "count"):
        np.testing.assert_allclose(
            np.asarray(CategoryEncoding(4, mode)(x)),
            np.asarray(keras.layers.CategoryEncoding(4, output_mode=mode)(truncated)), **EXACT)


def test_category_encoding_runs_inside_jit_and_in_a_model():
    layer = CategoryEncoding(5, "count")
    x = INPUTS["rank2"]
    np.testing.assert_array_equal(np.asarray(jax.jit(layer)(x)), np.asarray(layer(x)))
    inp = lm.Input((3,), dtype="int32")
    model = lm.Model(inp, CategoryEncoding(5, "multi_hot")(inp))
    assert tuple(model.outputs[0].shape) == (None, 5)
    np.testing.assert_array_equal(model.predict(x, verbose=0),
                                  np.asarray(CategoryEncoding(5)(x)))


def test_category_encoding_binary_is_multi_hot_and_config_round_trips():
    layer = CategoryEncoding(num_tokens=6, output_mode="binary", name="enc")
    config = layer.get_config()
    assert config["output_mode"] == "multi_hot" and config["num_tokens"] == 6
    assert "sparse" not in config  # as Keras's config
    assert CategoryEncoding.from_config(config).get_config() == config
    keras_config = keras.layers.CategoryEncoding(6).get_config()
    assert set(config) - {"trainable", "dtype"} <= set(keras_config)


@pytest.mark.parametrize("kwargs, match", [
    ({}, "expected `num_tokens` \\(the number of categories\\), received None. If the number "
         "of categories is not known in advance, use IntegerLookup"),
    ({"num_tokens": 0}, "expected `num_tokens` to be an int >= 1, received 0"),
    ({"num_tokens": 3, "output_mode": "int"}, "expected `output_mode` in \\('one_hot', "
                                              "'multi_hot', 'count'\\), received 'int'"),
    ({"num_tokens": 3, "sparse": True}, "expected `sparse=False`, received sparse=True")])
def test_category_encoding_bad_arguments_name_the_layer(kwargs, match):
    with pytest.raises(ConfigurationError, match="CategoryEncoding 'enc': " + match):
        CategoryEncoding(name="enc", **kwargs)


def test_category_encoding_bad_inputs_name_the_layer():
    layer = CategoryEncoding(4, "count", name="enc")
    with pytest.raises(InputSpecError, match="CategoryEncoding 'enc': expected integer indices "
                                             "of rank 0, 1 or 2, received shape \\(2, 2, 2\\)"):
        layer(np.zeros((2, 2, 2), np.int32))
    with pytest.raises(InputSpecError, match="expected `count_weights` of the inputs' shape "
                                             "\\(2, 2\\), received \\(2, 3\\)"):
        layer(np.zeros((2, 2), np.int32), count_weights=np.ones((2, 3)))
    with pytest.raises(ConfigurationError, match="`count_weights` is used only with "
                                                 "output_mode='count'"):
        CategoryEncoding(4, name="enc")(np.zeros((2, 2), np.int32), count_weights=np.ones((2, 2)))
