"""Keras 3 application models with random weights, saved in both of Keras's weights formats,
and the checks that a lamina model of the same configuration loads them and computes the
same thing (the application families' parity tests)."""
import os

os.environ.setdefault("KERAS_BACKEND", "jax")

import h5py  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras.src.legacy.saving import legacy_h5_format  # noqa: E402

FORMATS = ("weights.h5", "legacy.h5")


def keras_model(constructor, seed=0, **kwargs):
    """`keras.applications.<constructor>(weights=None, **kwargs)` with every weight moved by
    random noise (variances kept positive), so that no layer is an identity at
    initialisation.
    Keras's layer name counters are reset first: auto-named layers get the names of a fresh
    session, as in the published files."""
    keras.utils.clear_session()
    model = getattr(keras.applications, constructor)(weights=None, **kwargs)
    rng = np.random.default_rng(seed)
    for weight in model.weights:
        if "int" in str(weight.dtype):
            continue
        current = np.asarray(weight.value)
        # noise on the scale of the initialisation (0.1 for constants: biases, statistics),
        # so that activations stay finite and small through dozens of blocks
        noise = rng.normal(0.0, 0.1 * (float(current.std()) or 1.0), weight.shape)
        value = current + noise.astype("float32")
        if "variance" in weight.path:
            value = np.abs(value) + 0.5
        weight.assign(value)
    return model


def save(model, folder, file_format):
    """Save `model`'s weights in `file_format` ("weights.h5": Keras 3's file; "legacy.h5":
    the layer-keyed HDF5 layout of the files `keras.applications` downloads)."""
    if file_format == "weights.h5":
        path = os.path.join(folder, "model.weights.h5")
        model.save_weights(path)
        return path
    path = os.path.join(folder, "model.h5")
    with h5py.File(path, "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, model)
    return path


def count(weights):
    return int(sum(np.prod(w.shape) for w in weights))


def assert_same_model(keras_model_, lamina_model, x, atol=1e-4):
    """Same parameter counts (all, trainable, non-trainable), output shape and predictions."""
    assert lamina_model.count_params() == keras_model_.count_params()
    assert count(lamina_model.trainable_weights) == count(keras_model_.trainable_weights)
    assert count(lamina_model.non_trainable_weights) == count(
        keras_model_.non_trainable_weights)
    assert tuple(lamina_model.output.shape) == tuple(keras_model_.output.shape)
    expected = np.asarray(keras_model_.predict(x, verbose=0))
    got = np.asarray(lamina_model.predict(x, verbose=0))
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, atol=atol, rtol=1e-4)


def images(shape, seed=0):
    """A batch of two random images of `shape` with values in [0, 255]."""
    return np.random.default_rng(seed).uniform(0, 255, (2, *shape)).astype("float32")
