"""EinsumDense and RMSNormalization: the layer harness, Keras 3 parity with copied weights,
Keras's weight shapes and fan computation, bad equations, and the `.keras` importer."""
import os

import numpy as np
import pytest
from harness import LayerCase, check_layer

import lamina as lm

os.environ.setdefault("KERAS_BACKEND", "jax")

# Keras 3.15 calls `__array__` the pre-NumPy-2 way; only its own deprecation warnings are muted
pytestmark = pytest.mark.filterwarnings(r"ignore::DeprecationWarning:keras(\..*)?")


def _normal(*shape):
    return lambda rng: rng.normal(size=shape).astype(np.float32)


HARNESS_CASES = [
    LayerCase("einsum-dense-matrix", lambda: lm.layers.EinsumDense("ab,bc->ac", 4, bias_axes="c"),
              _normal(6, 3), (6, 4), trainable_params=16),
    LayerCase("einsum-dense-heads",
              lambda: lm.layers.EinsumDense("abc,cde->abde", (None, 2, 3), bias_axes="de"),
              _normal(6, 5, 4), (6, 5, 2, 3), trainable_params=4 * 2 * 3 + 2 * 3),
    LayerCase("einsum-dense-left-ellipsis", lambda: lm.layers.EinsumDense("...b,bc->...c", 2),
              _normal(6, 5, 3), (6, 5, 2), trainable_params=6),
    LayerCase("rms-norm", lambda: lm.layers.RMSNormalization(), _normal(6, 5, 3), (6, 5, 3),
              trainable_params=3),
    LayerCase("rms-norm-two-axes", lambda: lm.layers.RMSNormalization(axis=[1, 2]),
              _normal(6, 5, 3), (6, 5, 3), trainable_params=15),
]


@pytest.mark.parametrize("case", HARNESS_CASES, ids=str)
def test_harness(case):
    check_layer(case)


@pytest.fixture(scope="module")
def keras():
    keras = pytest.importorskip("keras")
    if keras.backend.backend() != "jax":
        pytest.skip("the Keras comparisons run on Keras's JAX backend")
    return keras


EINSUM_CASES = [
    # (equation, output_shape, bias_axes, input shape)
    ("ab,bc->ac", 4, "c", (5, 3)),
    ("abc,cd->abd", (None, 4), "d", (5, 2, 3)),
    ("abc,cde->abde", (None, 2, 3), "de", (5, 4, 6)),
    ("abcd,cde->abe", (None, 7), "e", (5, 3, 2, 4)),
    ("...b,bc->...c", 4, None, (5, 2, 3, 6)),
    ("ab...,bc->ac...", (4, 3), "c", (5, 2, 3)),
    ("abc,cde->abde", (None, 2, 3), "e", (5, 4, 6)),
]


@pytest.mark.parametrize("equation,output_shape,bias_axes,shape", EINSUM_CASES)
def test_einsum_dense_equals_keras_with_copied_weights(keras, equation, output_shape,
                                                       bias_axes, shape):
    x = np.random.default_rng(0).normal(size=shape).astype(np.float32)
    klayer = keras.layers.EinsumDense(equation, output_shape, bias_axes=bias_axes,
                                      activation="tanh")
    expected = np.asarray(klayer(x))
    rng = np.random.default_rng(1)
    weights = [rng.normal(size=tuple(w.shape)).astype(np.float32) for w in klayer.weights]
    for variable, value in zip(klayer.weights, weights, strict=True):
        variable.assign(value)
    expected = np.asarray(klayer(x))
    layer = lm.layers.EinsumDense(equation, output_shape, bias_axes=bias_axes,
                                  activation="tanh")
    layer(x)
    assert [tuple(w.shape) for w in layer.weights] == [tuple(w.shape) for w in klayer.weights]
    assert [w.path.split("/")[-1] for w in layer.weights] == [
        w.path.split("/")[-1] for w in klayer.weights]
    layer.set_weights(weights)
    np.testing.assert_allclose(np.asarray(layer(x)), expected, rtol=1e-5, atol=1e-5)


def test_einsum_dense_glorot_counts_fans_over_input_and_output_axes():
    """Kernel (c, d, e) of 'abc,cde->abde': fan_in = c, fan_out = d * e (Keras's rule), so
    the uniform limit is sqrt(6 / (c + d*e)), not the one a plain (c*d, e) reading gives."""
    layer = lm.layers.EinsumDense("abc,cde->abde", (None, 16, 32))
    layer(np.zeros((1, 2, 64), np.float32))
    kernel = np.asarray(layer.kernel.value)
    limit = np.sqrt(6.0 / (64 + 16 * 32))
    assert kernel.shape == (64, 16, 32)
    assert np.abs(kernel).max() <= limit
    assert np.abs(kernel).max() > 0.98 * limit


def test_rms_normalization_equals_keras_and_numpy(keras):
    x = np.random.default_rng(0).normal(size=(4, 3, 5)).astype(np.float32)
    scale = np.random.default_rng(1).normal(size=(5,)).astype(np.float32)
    klayer, layer = keras.layers.RMSNormalization(), lm.layers.RMSNormalization()
    klayer.build(x.shape)
    klayer.scale.assign(scale)
    layer(x)
    layer.set_weights([scale])
    reference = x / np.sqrt(np.mean(x ** 2, axis=-1, keepdims=True) + 1e-6) * scale
    np.testing.assert_allclose(np.asarray(layer(x)), reference, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(layer(x)), np.asarray(klayer(x)), rtol=1e-5, atol=1e-6)


def test_rms_normalization_keeps_a_half_precision_dtype():
    x = np.ones((2, 4), np.float16)
    layer = lm.layers.RMSNormalization(dtype="float16")
    assert layer(x).dtype == np.float16


@pytest.mark.parametrize("make,x,match", [
    (lambda: lm.layers.EinsumDense("ab->b", 3), (2, 3), "expected an equation of the form"),
    (lambda: lm.layers.EinsumDense("ab,bc->ad", 3), (2, 3), "output dimension 'd'"),
    (lambda: lm.layers.EinsumDense("ab,bcz->ac", 3), (2, 3), "weight dimension 'z'"),
    (lambda: lm.layers.EinsumDense("ab,bc->ac", 3, bias_axes="b"), (2, 3), "bias axis 'b'"),
    (lambda: lm.layers.EinsumDense("abc,cd->abd", (4, 2)), (2, 3, 5),
     "expected the same size in both, received input size 3 and output size 4"),
    (lambda: lm.layers.RMSNormalization(axis=3), (2, 3), "axis 3 is out of range"),
])
def test_bad_configurations_name_the_layer_and_the_problem(make, x, match):
    layer = make()
    with pytest.raises(lm.LaminaError, match=match) as info:
        layer(np.zeros(x, np.float32))
    assert layer.name in str(info.value)


def test_equation_and_axis_types_are_checked_at_construction():
    with pytest.raises(lm.ConfigurationError, match="expected `equation` to be a string"):
        lm.layers.EinsumDense(3, 4)
    with pytest.raises(lm.ConfigurationError, match="expected `axis` to be an int"):
        lm.layers.RMSNormalization(axis="last")


def test_keras_file_with_einsum_dense_and_rms_norm_imports_with_equal_predictions(
        keras, tmp_path):
    inputs = keras.Input((5, 6))
    h = keras.layers.EinsumDense("abc,cde->abde", (None, 2, 3), bias_axes="de",
                                 activation="relu", name="proj")(inputs)
    h = keras.layers.Reshape((5, 6))(h)
    h = keras.layers.RMSNormalization(name="norm")(h)
    outputs = keras.layers.EinsumDense("abc,cd->abd", (None, 4), name="out")(h)
    kmodel = keras.Model(inputs, outputs)
    rng = np.random.default_rng(0)
    for variable in kmodel.weights:
        variable.assign(rng.uniform(-0.6, 0.6, tuple(variable.shape)).astype("float32"))
    kmodel.save(tmp_path / "m.keras")
    model = lm.models.load_model(tmp_path / "m.keras")
    x = rng.normal(size=(3, 5, 6)).astype(np.float32)
    assert model.count_params() == kmodel.count_params()
    np.testing.assert_allclose(np.asarray(model.predict(x, verbose=0)),
                               kmodel.predict(x, verbose=0), rtol=1e-5, atol=1e-5)
