"""Keras 3 `.weights.h5` files of functional models that apply ops to symbolic tensors
(`x + 3.0`, `x * 0.5`): Keras lists no operations in `model.layers`, so the file's layer
groups skip them, both ways."""
import os

os.environ.setdefault("KERAS_BACKEND", "jax")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from keras.src.applications import convnext as keras_convnext  # noqa: E402

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


def test_keras_application_layers_take_keras_s_groups_but_no_keras_config(tmp_path):
    """LayerScale (Keras defines it in keras.applications.convnext, not keras.layers): its
    weights move through `.weights.h5`; a `.keras` file, whose config could not name it, is
    refused."""
    keras.utils.clear_session()
    inputs = keras.Input((3,))
    keras_model = keras.Model(inputs, keras_convnext.LayerScale(0.5, 3)(
        keras.layers.Dense(3)(inputs)))
    keras_model.layers[-1].set_weights([np.array([1.0, 2.0, 3.0], "float32")])
    lm_inputs = lm.Input((3,))
    lamina_model = lm.Model(lm_inputs, lm.layers.LayerScale(0.5, 3)(
        lm.layers.Dense(3)(lm_inputs)))
    keras_model.save_weights(tmp_path / "k.weights.h5")
    lamina_model.load_weights(tmp_path / "k.weights.h5")
    np.testing.assert_array_equal(lamina_model.layers[-1].gamma.value, [1.0, 2.0, 3.0])
    with pytest.raises(lm.SavingError, match="LayerScale"):
        lamina_model.save(tmp_path / "m.keras")
