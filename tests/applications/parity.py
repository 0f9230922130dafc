"""Shared checks of the applications tests: a Keras application and lamina's of the same
configuration agree on layer names, parameter counts and output shape, and lamina's loads
Keras's random weights from both file formats (Keras 3 `.weights.h5`, and the legacy
layer-keyed `.h5` that `keras.applications` downloads) and predicts as Keras does."""
import re

import h5py
import numpy as np


def _names(model):
    """Layer names, with auto names (`global_average_pooling2d_3`, whose counter depends on
    how many layers of the class each library made before) reduced to the class's name."""
    names = []
    for layer in model.layers:
        auto = re.sub(r"(?<!^)(?=[A-Z])", "_", type(layer).__name__).lower()
        auto = auto.replace("2_d", "2d").replace("functional", "model")
        names.append(auto if re.fullmatch(rf"{auto}(_\d+)?", layer.name) else layer.name)
    return sorted(names)


def counts(model):
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    non_trainable = sum(int(np.prod(w.shape)) for w in model.non_trainable_weights)
    return model.count_params(), trainable, non_trainable


def same_structure(kmodel, model):
    assert model.name == kmodel.name
    assert _names(model) == _names(kmodel)
    assert sorted((w.path, tuple(w.shape)) for w in model.weights) == sorted(
        (w.path, tuple(w.shape)) for w in kmodel.weights)
    assert counts(model) == counts(kmodel)
    assert tuple(model.outputs[0].shape) == tuple(kmodel.output_shape)


def randomize_statistics(kmodel, seed=0):
    """Moving statistics away from 0 / 1, so a swapped mean and variance would show."""
    rng = np.random.default_rng(seed)
    for layer in kmodel.layers:
        if type(layer).__name__ == "BatchNormalization":
            shape = layer.moving_mean.shape
            layer.moving_mean.assign(rng.normal(0, 0.1, shape).astype("float32"))
            layer.moving_variance.assign(rng.uniform(0.5, 1.5, shape).astype("float32"))


def check_weight_files(kmodel, model, tmp_path, x, atol=1e-4):
    """Keras's weights in both formats load into `model` and give Keras's predictions."""
    from keras.src.legacy.saving import legacy_h5_format

    randomize_statistics(kmodel)
    expected = np.asarray(kmodel.predict(x, verbose=0))
    kmodel.save_weights(tmp_path / "k.weights.h5")
    with h5py.File(tmp_path / "k_legacy.h5", "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, kmodel)
    for name in ("k.weights.h5", "k_legacy.h5"):
        for w in model.weights:
            w.assign(np.zeros(w.shape, w.dtype))
        model.load_weights(tmp_path / name)
        np.testing.assert_allclose(model.predict(x, verbose=0), expected, atol=atol,
                                   err_msg=name)
