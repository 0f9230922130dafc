"""Writing Keras 3 files from lamina models (needs the optional dependency h5py).

- `save_keras_model(model, path)`: a `.keras` zip that `keras.models.load_model` opens:
  `metadata.json` (`keras_version`, `date_saved`), `config.json` (the model's entry,
  `export_model.model_entry`, plus its `compile_config` when compiled) and
  `model.weights.h5` (`export_model.weight_groups`).
- `save_keras_weights(model, path)`: the same HDF5 layout alone (Keras's `.weights.h5`,
  read by `keras.Model.load_weights`); `load_keras_weights(model, path)` reads such a file
  into a lamina model, through the importer's checked reader.

Everything is written through `core.files.atomic_write`. What Keras cannot express is
refused before anything is written (`export_objects.refuse`). The optimizer's state is
written where Keras's state is the same (`export_optimizer`).
"""
import datetime
import io
import json
import warnings
import zipfile

import numpy as np

from lamina.core import registry
from lamina.core.files import atomic_write
from lamina.errors import SavingError
from lamina.models.model import Model
from lamina.saving import archive
from lamina.saving.keras.export_model import layer_paths, model_entry, weight_groups
from lamina.saving.keras.export_objects import keras_object, refuse
from lamina.saving.keras.export_optimizer import optimizer_vars
from lamina.saving.keras.files import CONFIG, WEIGHTS, _import_h5py, _WeightsFile
from lamina.saving.keras.importer import DEFAULT_MAX_WEIGHTS_BYTES
from lamina.saving.keras.weights import _set_weights

METADATA = "metadata.json"
# the Keras version whose format is written (checked against it in tests)
KERAS_VERSION = "3.15.1"
OPTIMIZERS = ("SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta", "Adamax", "Nadam",
               "Ftrl", "Lion", "Lamb")


def save_keras_model(model, path):
    """Write `model` to `path` as a Keras 3 `.keras` file (see the module docstring)."""
    entry = model_entry(model)
    groups = weight_groups(model)
    entry["compile_config"], optimizer = _compiled_state(model, groups, path)
    members = {
        METADATA: json.dumps({"keras_version": KERAS_VERSION, "date_saved":
                              datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S")}),
        CONFIG: json.dumps(entry),
        WEIGHTS: weights_h5(groups, path, optimizer),
    }

    def fill(f):
        with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_STORED) as zf:
            for name, data in members.items():
                zf.writestr(name, data)

    atomic_write(path, fill)


def weights_h5(groups, path, optimizer=None):
    """The bytes of Keras 3's weights HDF5 file: `groups` ({group path: variables},
    `export_model.weight_groups`) and the optimizer's `vars` when given."""
    h5py = _import_h5py(path)
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as f:
        for group_path, variables in groups.items():
            group = f.create_group(group_path)
            for i, variable in enumerate(variables):
                group.create_dataset(str(i), data=np.asarray(variable._value))
        if optimizer is not None:
            group = f.create_group("optimizer/vars")
            for i, value in enumerate(optimizer):
                group.create_dataset(str(i), data=value)
    return buffer.getvalue()


def save_keras_weights(model, path):
    """Write the weights of `model` as Keras 3's `.weights.h5` file: with the optimizer's
    state when compiled, as Keras writes it (Keras's `load_weights` into a compiled model
    expects it)."""
    groups = weight_groups(model)
    data = weights_h5(groups, path, _compiled_state(model, groups, path)[1])
    atomic_write(path, lambda f: f.write(data))


class _Reader:
    """What `weights._set_weights` reads through: the file's path and its checked HDF5."""

    def __init__(self, path, h5):
        self.path, self.h5 = path, h5


def load_keras_weights(model, path, skip_mismatch=False):
    """Set `model`'s weights from a Keras 3 `.weights.h5` file; returns the mismatch report
    (layer groups that do not match, by path, when `skip_mismatch`). Without
    `skip_mismatch`, a mismatch leaves every weight as it was."""
    data = archive.read_bytes(path)
    if len(data) > DEFAULT_MAX_WEIGHTS_BYTES:
        raise SavingError(f"'{path}': {len(data)} bytes, more than the "
                          f"{DEFAULT_MAX_WEIGHTS_BYTES} a weights file may hold.")
    reader = _Reader(str(path), _WeightsFile(str(path), data))
    report = {"missing": [], "unexpected": [], "mismatched": []}
    before = [(variable, variable._value) for variable in model.weights]
    try:
        for group_path, layer in layer_paths(model):
            if isinstance(layer, Model) or not layer.weights:
                continue
            try:
                _set_weights(reader, group_path, layer.name, layer)
            except SavingError:
                if not skip_mismatch:
                    raise
                report["mismatched"].append(group_path)
    except BaseException:  # all or nothing, as for lamina's own weights files
        for variable, value in before:
            variable._value = value
        raise
    finally:
        reader.h5.close()
    return report


def _compiled_state(model, groups, path):
    """(compile config, optimizer arrays) of a compiled model, or (None, None) when it is not
    compiled or Keras cannot take its compile settings or optimizer state (then with a
    warning: Keras loads the model uncompiled)."""
    if model._trainer is None:
        return None, None
    try:
        config = compile_config(model)
    except SavingError as err:
        reason = str(err)
    else:
        optimizer = optimizer_vars(model, groups)
        if optimizer is not None:
            return config, optimizer
        reason = (f"the state of {type(model._trainer.optimizer).__name__} (with these "
                  "options) has no Keras form in lamina's export")
    warnings.warn(f"Writing '{path}' without the compile settings and optimizer state of "
                  f"model '{model.name}': {reason} Keras will have the model uncompiled; "
                  "compile it again there, or save a '.lamina' file to keep them.",
                  stacklevel=4)
    return None, None


def compile_config(model):
    """Keras's `compile_config` of a compiled lamina model."""
    loss, metrics, loss_weights = model._trainer._compile_args
    return {"optimizer": _optimizer(model._trainer.optimizer), "loss": _compiled(loss, "loss"),
            "loss_weights": _plain(loss_weights, "loss_weights"),
            "metrics": _compiled(metrics, "metrics"), "weighted_metrics": None,
            "run_eagerly": False, "steps_per_execution": 1, "jit_compile": True}


def _optimizer(optimizer):
    name = type(optimizer).__name__
    what = f"the optimizer of this model ({name})"
    if name not in OPTIMIZERS or getattr(optimizer, "has_schedule", False):
        refuse(what, "it is a lamina-only optimizer (Partitioned, LossScaleOptimizer, an "
               "optax transform) or uses a learning-rate schedule",
               f"Keras optimizers written: {', '.join(OPTIMIZERS)} with a constant "
               "learning rate.")
    config = dict(registry.serialize(optimizer)["config"])
    config.setdefault("name", name.lower())
    return keras_object("keras.optimizers", name, _plain(config, "optimizer"))


def _compiled(value, what):
    """A loss or metrics argument: strings stay strings, built-in objects become Keras
    objects; functions and other objects are refused."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (list, tuple)):
        return [_compiled(v, what) for v in value]
    if isinstance(value, dict):
        return {str(k): _compiled(v, what) for k, v in value.items()}
    if hasattr(value, "get_config") and not isinstance(value, type):
        module = "keras.losses" if what == "loss" else "keras.metrics"
        return keras_object(module, type(value).__name__, _plain(value.get_config(), what))
    refuse(f"the compiled {what}", f"it holds {value!r}, which is not a built-in Keras "
           "loss or metric named by a string or an object")


def _plain(value, what):
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, (list, tuple)):
        return [_plain(v, what) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v, what) for k, v in value.items()}
    if isinstance(value, np.generic):
        return value.item()
    refuse(f"the compile config ({what})", f"it holds {value!r}")

