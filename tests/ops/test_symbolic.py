"""Ops and Python operators on symbolic tensors (Keras's KerasTensor operators): each call
becomes a TensorOperation node that computes what numpy computes, trains, saves and loads by
op name, and equals Keras's functional model on the same weights."""
import os

import numpy as np
import pytest

import lamina as lm
from lamina import ops

os.environ.setdefault("KERAS_BACKEND", "jax")
pytestmark = pytest.mark.filterwarnings(r"ignore::DeprecationWarning:keras(\..*)?")


def _graph(lib, kops):
    inputs = lib.Input((4, 3))
    h = lib.layers.Dense(3, name="dense")(inputs)
    residual = (h + inputs) * 2.0 - 1
    first = kops.expand_dims(residual[:, 0], -1)
    pooled = kops.mean(first, axis=1)
    joined = kops.concatenate([residual, 1 - inputs, abs(-inputs) ** 2], axis=-1)
    return lib.Model(inputs, [pooled, joined[..., 1:5] @ kops.ones((4, 2)), inputs > 0])


def test_operator_and_op_nodes_compute_what_numpy_computes():
    model = _graph(lm, ops)
    x = np.random.default_rng(0).normal(size=(2, 4, 3)).astype(np.float32)
    kernel, bias = (np.asarray(w.value) for w in model.get_layer("dense").weights)
    residual = ((x @ kernel + bias) + x) * 2 - 1
    joined = np.concatenate([residual, 1 - x, np.abs(-x) ** 2], axis=-1)
    pooled, projected, positive = model.predict(x, verbose=0)
    np.testing.assert_allclose(pooled, residual[:, 0][..., None].mean(axis=1), rtol=1e-5,
                               atol=1e-6)
    np.testing.assert_allclose(projected, joined[..., 1:5] @ np.ones((4, 2)), rtol=1e-5,
                               atol=1e-5)
    np.testing.assert_array_equal(positive, x > 0)
    assert ops.shape(model.inputs[0]) == (None, 4, 3)


def test_a_model_with_op_nodes_saves_loads_and_trains(tmp_path):
    model = _graph(lm, ops)
    x = np.random.default_rng(1).normal(size=(8, 4, 3)).astype(np.float32)
    expected = model.predict(x, verbose=0)
    model.save(tmp_path / "m.lamina")
    loaded = lm.models.load_model(tmp_path / "m.lamina")
    for a, b in zip(loaded.predict(x, verbose=0), expected, strict=True):
        np.testing.assert_array_equal(a, b)
    trained = lm.Model(model.inputs, model.outputs[:2])
    trained.compile("sgd", ["mse", "mse"])
    kernel = np.array(model.get_layer("dense").kernel.value)
    trained.fit(x, [expected[0] + 1, expected[1]], epochs=1, verbose=0)
    assert not np.array_equal(np.array(model.get_layer("dense").kernel.value), kernel)


def test_equals_keras_functional_model_with_the_same_weights():
    keras = pytest.importorskip("keras")
    theirs, ours = _graph(keras, keras.ops), _graph(lm, ops)
    ours.set_weights([np.asarray(w.value) for w in theirs.weights])
    x = np.random.default_rng(2).normal(size=(2, 4, 3)).astype(np.float32)
    for a, b in zip(ours.predict(x, verbose=0), theirs.predict(x, verbose=0), strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-5)


def test_a_file_naming_anything_but_an_op_is_refused():
    from lamina.ops.symbolic import TensorOperation
    with pytest.raises(lm.ConfigurationError, match="public lamina.ops name, received 'os.system'"):
        TensorOperation.from_config({"op": "os.system", "arguments": {"args": [], "kwargs": {}}})


def test_an_argument_a_model_cannot_record_is_an_error():
    inputs = lm.Input((3,))
    with pytest.raises(lm.ConfigurationError, match="cannot record in a model: function"):
        ops.where(inputs > 0, inputs, lambda: 0)
