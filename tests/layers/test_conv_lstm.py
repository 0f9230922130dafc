"""ConvLSTM1D/2D/3D: the layer harness, Keras 3 parity with copied weights (sequences,
states, strides, go_backwards, masks), a numpy reference of one step, errors, and the
`.keras` importer."""
import os

import numpy as np
import pytest
from harness import LayerCase, check_layer

import lamina as lm

os.environ.setdefault("KERAS_BACKEND", "jax")
pytestmark = pytest.mark.filterwarnings(r"ignore::DeprecationWarning:keras(\..*)?")


def _normal(*shape):
    return lambda rng: rng.normal(size=shape).astype(np.float32)


def _params(window, channels, filters):
    return int(np.prod(window)) * (channels + filters) * 4 * filters + 4 * filters


HARNESS_CASES = [
    LayerCase("conv-lstm-1d", lambda: lm.layers.ConvLSTM1D(2, 3, padding="same"),
              _normal(4, 3, 5, 2), (4, 5, 2), trainable_params=_params((3,), 2, 2)),
    LayerCase("conv-lstm-2d-sequences",
              lambda: lm.layers.ConvLSTM2D(2, 3, return_sequences=True),
              _normal(4, 3, 5, 5, 1), (4, 3, 3, 3, 2), trainable_params=_params((3, 3), 1, 2)),
    LayerCase("conv-lstm-3d", lambda: lm.layers.ConvLSTM3D(1, 2, padding="same"),
              _normal(2, 2, 3, 3, 3, 1), (2, 3, 3, 3, 1),
              trainable_params=_params((2, 2, 2), 1, 1)),
]


@pytest.mark.parametrize("case", HARNESS_CASES, ids=str)
def test_harness(case):
    check_layer(case)


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def test_one_step_equals_a_numpy_reference():
    """1 time step of ConvLSTM1D with kernel_size 1: the gates are per-position matmuls."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 1, 4, 3)).astype(np.float32)
    layer = lm.layers.ConvLSTM1D(2, 1)
    layer(x)
    kernel, recurrent, bias = (rng.normal(size=w.shape).astype(np.float32)
                               for w in layer.weights)
    layer.set_weights([kernel, recurrent, bias])
    z = x[:, 0] @ kernel[0] + bias  # h0 = 0: no recurrent term
    i, f, g, o = np.split(z, 4, axis=-1)
    c = _sigmoid(i) * np.tanh(g)  # c0 = 0
    expected = _sigmoid(o) * np.tanh(c)
    np.testing.assert_allclose(np.asarray(layer(x)), expected, rtol=1e-5, atol=1e-6)


@pytest.fixture(scope="module")
def keras():
    keras = pytest.importorskip("keras")
    if keras.backend.backend() != "jax":
        pytest.skip("the Keras comparisons run on Keras's JAX backend")
    return keras


@pytest.mark.parametrize("cls,kwargs,shape", [
    ("ConvLSTM1D", {"padding": "same", "return_sequences": True}, (2, 4, 6, 3)),
    ("ConvLSTM2D", {"strides": 2, "return_state": True}, (2, 3, 6, 6, 2)),
    ("ConvLSTM2D", {"padding": "same", "go_backwards": True, "return_sequences": True,
                    "dilation_rate": 2}, (2, 3, 6, 6, 2)),
    ("ConvLSTM3D", {"activation": "relu", "use_bias": False}, (1, 2, 4, 4, 4, 1)),
])
def test_conv_lstm_equals_keras_with_copied_weights(keras, cls, kwargs, shape):
    rng = np.random.default_rng(1)
    x = rng.normal(size=shape).astype(np.float32)
    theirs, ours = getattr(keras.layers, cls)(3, 3, **kwargs), getattr(lm.layers, cls)(3, 3,
                                                                                      **kwargs)
    theirs(x), ours(x)
    assert [tuple(w.shape) for w in ours.weights] == [tuple(w.shape) for w in theirs.weights]
    weights = [rng.normal(size=tuple(w.shape)).astype(np.float32) * 0.3 for w in theirs.weights]
    for variable, value in zip(theirs.weights, weights, strict=True):
        variable.assign(value)
    ours.set_weights(weights)
    expected, received = theirs(x), ours(x)
    expected = list(expected) if isinstance(expected, (list, tuple)) else [expected]
    received = list(received) if isinstance(received, (list, tuple)) else [received]
    for e, r in zip(expected, received, strict=True):
        np.testing.assert_allclose(np.asarray(r), np.asarray(e), rtol=1e-4, atol=1e-5)


def test_masked_trailing_steps_equal_running_the_shorter_sequence():
    """(Keras 3.15's ConvLSTM fails on a mask on its JAX backend, so the reference is the
    layer itself on each sample's unmasked prefix: masked steps keep the state.)"""
    rng = np.random.default_rng(2)
    x = rng.normal(size=(2, 4, 5, 2)).astype(np.float32)
    lengths = (3, 1)
    mask = np.arange(4)[None, :] < np.array(lengths)[:, None]
    layer = lm.layers.ConvLSTM1D(2, 3, padding="same")
    out = np.asarray(layer(x, mask=mask))
    for i, n in enumerate(lengths):
        np.testing.assert_allclose(out[i], np.asarray(layer(x[i:i + 1, :n]))[0], rtol=1e-5,
                                   atol=1e-6)


def test_bad_inputs_and_arguments_name_the_layer():
    with pytest.raises(lm.InputSpecError, match="ConvLSTM2D 'c': expected inputs of rank 5"):
        lm.layers.ConvLSTM2D(2, 3, name="c")(np.zeros((2, 3, 4, 1), np.float32))
    with pytest.raises(lm.ConfigurationError, match="stateful=True is not supported"):
        lm.layers.ConvLSTM1D(2, 3, stateful=True)
    with pytest.raises(lm.ConfigurationError, match="positive integer `filters`"):
        lm.layers.ConvLSTM1D(0, 3)


def test_keras_file_with_conv_lstm_imports(keras, tmp_path):
    inputs = keras.Input((3, 6, 6, 1))
    h = keras.layers.ConvLSTM2D(2, 3, padding="same", return_sequences=True, name="c1")(inputs)
    h = keras.layers.ConvLSTM2D(2, 3, name="c2")(h)
    kmodel = keras.Model(inputs, keras.layers.Flatten()(h))
    rng = np.random.default_rng(3)
    for variable in kmodel.weights:
        variable.assign(rng.uniform(-0.5, 0.5, tuple(variable.shape)).astype("float32"))
    kmodel.save(tmp_path / "m.keras")
    model = lm.models.load_model(tmp_path / "m.keras")
    x = rng.normal(size=(2, 3, 6, 6, 1)).astype(np.float32)
    assert model.count_params() == kmodel.count_params()
    np.testing.assert_allclose(np.asarray(model.predict(x, verbose=0)),
                               kmodel.predict(x, verbose=0), rtol=1e-4, atol=1e-5)
