"""Keras 3 `.weights.h5` files of functional models that apply ops to symbolic tensors
(`x + 3.0`, `x * 0.5`): Keras lists no operations in `model.layers`, so the file's layer
groups skip them, both ways."""
import os

os.environ.setdefault("KERAS_BACKEND", "jax")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import lamina as lm  # noqa: E402

pytestmark = pytest.mark.filterwarnings(r"ignore::DeprecationWarning:keras(\..*)?")


def _build(lib):
    inputs = lib.Input((3,))
    x = lib.layers.Dense(4, name="first")(inputs)
    x = lib.layers.ReLU(6.0)(x + 3.0) * (1.0 / 6.0)
    return lib.Model(inputs, lib.layers.Dense(2, name="second")(x))


def test_ops_on_symbolic_tensors_take_no_group_in_keras_weights_files(tmp_path):
    keras.utils.clear_session()
    keras_model, lamina_model = _build(keras), _build(lm)
    x = np.random.default_rng(0).normal(size=(5, 3)).astype("float32")
    keras_model.save_weights(tmp_path / "k.weights.h5")
    lamina_model.load_weights(tmp_path / "k.weights.h5")
    np.testing.assert_allclose(lamina_model.predict(x, verbose=0),
                               keras_model.predict(x, verbose=0), atol=1e-5)
    lamina_model.layers[-1].kernel.assign(np.ones((4, 2), "float32"))
    lamina_model.save_weights(tmp_path / "l.weights.h5")
    keras_model.load_weights(tmp_path / "l.weights.h5")
    np.testing.assert_allclose(keras_model.predict(x, verbose=0),
                               lamina_model.predict(x, verbose=0), atol=1e-5)
