"""Keras's legacy HDF5 model file (`model.save("m.h5")`), which Keras 3's
`keras.models.load_model` still opens (`keras/src/legacy/saving/legacy_h5_format.py`).

The file's attribute `model_config` holds the model's entry (the same as in a `.keras` file,
`export_model.model_entry`, with the same refusals and `trainable` flags); the group
`model_weights` lists its layers in `layer_names` and holds, per top-level layer with
weights, its values under the names in `weight_names`, in Keras's legacy order: the layer's
`trainable_weights`, then its `non_trainable_weights` (as Keras computes them from the
written flags). The format has no place for lamina's compile settings in a form Keras 3
reads back reliably, so the model is written uncompiled, with a warning when it was compiled
(Keras warns as well when it loads it); `.keras` files carry them.
"""
import io
import json
import warnings

import numpy as np

from lamina import trainability
from lamina.core.files import atomic_write
from lamina.models.model import Model
from lamina.saving.keras.export_model import model_entry
from lamina.saving.keras.export_objects import is_default_trainable
from lamina.saving.keras.exporter import KERAS_VERSION
from lamina.saving.keras.files import _import_h5py


def save_legacy_h5(model, path):
    """Write `model` to `path` in Keras's legacy HDF5 model format."""
    entry = model_entry(model)
    resolution = trainability.resolve(model)
    layers = [(layer, _legacy_order(layer, resolution)) for layer in model.layers]
    if model._trainer is not None:
        warnings.warn(f"Saving model '{model.name}' to '{path}' without its compile settings "
                      "and optimizer state: the legacy HDF5 format is written uncompiled. "
                      "Use a '.keras' name to keep them for Keras, or '.lamina'.",
                      stacklevel=4)
    h5py = _import_h5py(path)
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as f:
        f.attrs["model_config"] = json.dumps(
            {"class_name": entry["class_name"], "config": entry["config"]})
        f.attrs["keras_version"] = KERAS_VERSION
        f.attrs["backend"] = "jax"
        weights = f.create_group("model_weights")
        weights.attrs["layer_names"] = [layer.name.encode() for layer, _ in layers]
        weights.attrs["keras_version"] = KERAS_VERSION
        weights.attrs["backend"] = "jax"
        for layer, variables in layers:
            group = weights.create_group(layer.name)
            names = [f"{layer.name}_{i}" for i in range(len(variables))]
            group.attrs["weight_names"] = [name.encode() for name in names]
            for name, variable in zip(names, variables, strict=True):
                group.create_dataset(name, data=np.asarray(variable._value))
    data = buffer.getvalue()
    atomic_write(path, lambda f: f.write(data))


def _legacy_order(layer, resolution):
    """Keras's `layer.trainable_weights + layer.non_trainable_weights` of the loaded layer."""
    return _trainable(layer, resolution) + _non_trainable(layer, resolution)


def _sublayers(layer):
    return layer.layers if isinstance(layer, Model) else []


def _trainable(layer, resolution):
    if not resolution.layer_is_trained(layer):
        return []
    if isinstance(layer, Model):
        return [v for sub in _sublayers(layer) for v in _trainable(sub, resolution)]
    return [v for v in layer.weights if is_default_trainable(v)]


def _non_trainable(layer, resolution):
    if not resolution.layer_is_trained(layer):
        return list(layer.weights)
    if isinstance(layer, Model):
        return [v for sub in _sublayers(layer) for v in _non_trainable(sub, resolution)]
    return [v for v in layer.weights if not is_default_trainable(v)]
