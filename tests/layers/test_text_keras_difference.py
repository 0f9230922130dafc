"""Where lamina differs from Keras 3 on purpose: a model that starts with TextVectorization
fits on raw strings on JAX, with no TensorFlow installed.

Keras 3's TextVectorization needs TensorFlow: in this environment (no TensorFlow) its JAX
backend cannot even build the layer; where TensorFlow is present, fitting such a model on
the JAX backend fails on the string inputs ("Invalid dtype: str..."). The test asserts
whichever of the two Keras does here, then that lamina's model trains on the same data.
"""
import os

import numpy as np
import pytest

import lamina as lm

TEXTS = np.array(["good day", "bad day", "good good", "bad bad"])
LABELS = np.array([1.0, 0.0, 1.0, 0.0], dtype=np.float32)


def _keras_fails_on_raw_strings():
    """The error Keras 3 (JAX backend) raises for a TextVectorization model on strings."""
    os.environ["KERAS_BACKEND"] = "jax"
    keras = pytest.importorskip("keras")
    assert keras.backend.backend() == "jax"
    try:
        layer = keras.layers.TextVectorization(output_mode="multi_hot")
    except ImportError as err:  # no TensorFlow: the layer cannot be built
        return err
    layer.adapt(TEXTS)
    inputs = keras.Input(shape=(1,), dtype="string")
    model = keras.Model(inputs, keras.layers.Dense(1)(layer(inputs)))
    model.compile("sgd", "mse")
    with pytest.raises(Exception) as caught:
        model.fit(TEXTS[:, None], LABELS, epochs=1, verbose=0)
    return caught.value


def test_keras_cannot_fit_a_text_model_on_jax_and_lamina_can():
    error = _keras_fails_on_raw_strings()
    assert "tensorflow" in str(error).lower() or "dtype" in str(error).lower()
    layer = lm.layers.TextVectorization(output_mode="multi_hot")
    layer.adapt(TEXTS)
    inputs = lm.Input(shape=(1,), dtype="string")
    model = lm.Model(inputs, lm.layers.Dense(1)(layer(inputs)))
    model.compile("sgd", "mse")
    before = model.get_weights()[0].copy()
    history = model.fit(TEXTS, LABELS, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    assert not np.array_equal(model.get_weights()[0], before)
