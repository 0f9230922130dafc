"""Import of Keras 3 `.keras` files (needs the optional dependency h5py).

A `.keras` file is a zip holding `config.json` (the model's structure as nested
`{"module", "class_name", "config", "registered_name", ...}` objects; functional models list
their layers with `inbound_nodes`), `model.weights.h5` (one HDF5 group per layer, its
variables as datasets `vars/0`, `vars/1`, ... in creation order) and `metadata.json`.

`load_keras_model(path)` rebuilds the model from lamina classes chosen from a fixed table
(nothing is ever imported or called by a name read from the file) and sets its weights. This
module holds the importer, which walks the models (Sequential here, functional graphs in
`keras_functional`) and names each layer's weight group; `keras_layers` maps each layer's
config, `keras_weights` sets its weights and `keras_files` reads the file defensively. Every
failure is a `lamina.errors.SavingError` naming the file, the member and the object at fault.

How Keras names the weight groups (`keras/src/saving/saving_lib.py`): a Sequential or
functional model's layers are stored under `<model path>/layers/<n>`, where `<n>` is the
snake-cased class name made unique within that list ("dense", "dense_1", ...), in
`model.layers` order (a functional model lists its InputLayers, a Sequential model does
not); a layer's variables are in `<its path>/vars`. Layer names are *not* used in paths:
`keras_weights` matches the weights to layers by path, count and shape.
"""
import os

import lamina.layers
from lamina.core import allocation, naming
from lamina.core.input_layer import InputLayer
from lamina.errors import LaminaError, SavingError
from lamina.models.sequential import Sequential
from lamina.saving.keras.files import CONFIG, _parse_json, _read_archive, _WeightsFile
from lamina.saving.keras.functional import _functional
from lamina.saving.keras.layers import _LAYER_CLASSES, _batch_shape, _dtype, _layer
from lamina.saving.keras.objects import _ACTIVATIONS  # noqa: F401 (re-exported for tests)
from lamina.saving.keras.options import _is_int, _Options
from lamina.saving.keras.weights import _set_weights

# config class names whose Keras Python class has another name (it names the HDF5 group)
_KERAS_PYTHON_NAMES = {"GroupQueryAttention": "GroupedQueryAttention"}

DEFAULT_MAX_WEIGHTS_BYTES = 8 * 1024 ** 3
MAX_MODEL_NESTING = 32
# bytes that building the model may allocate beyond the weights the file holds (the Dropout
# seed state and other small variables Keras does not save)
_ALLOCATION_SLACK = 1024 * 1024

_MODEL_CLASSES = ("Sequential", "Functional")


def load_keras_model(path, max_weights_bytes=DEFAULT_MAX_WEIGHTS_BYTES):
    """A lamina model equivalent to the Keras 3 model saved at `path` (a `.keras` file).

    Sequential models become `lamina.Sequential`, functional models `lamina.Model(inputs,
    outputs)`; nested models, shared layers, layer names and `trainable` flags are kept.
    Supported layers: the Keras 3 layers lamina has under the same name (`keras_layers.
    _LAYER_CLASSES`: core, convolution, pooling, normalization, embedding and masking,
    recurrent, wrappers, attention, merging, reshaping, activation, dropout and
    preprocessing layers), with every option mapped or refused by name. Masks that Keras
    records as `not_equal`/`any` operations are recomputed by lamina's layers. The optimizer
    state and compile settings stored in the file are not imported: compile the model again.

    Args:
        path: the `.keras` file.
        max_weights_bytes: the largest `model.weights.h5` member accepted (default 8 GiB);
            the member is read into memory.
    Raises:
        lamina.errors.SavingError: the file is not a Keras 3 model lamina can represent, or
            it is malformed or hostile. The message names the file, the member and the
            object at fault.
    """
    path = os.fspath(path)
    try:
        return _Importer(path, max_weights_bytes).load()
    except SavingError:
        raise
    except Exception as err:  # a last guard: whatever the file holds, callers get one type
        raise SavingError(
            f"'{path}': cannot import this Keras file ({type(err).__name__}: {err})."
        ) from err


# -- weight group names ----------------------------------------------------------------------
def _unique(name, used):
    """Keras's `_get_unique_name`: "dense", "dense_1", ... within one list of layers."""
    if name in used:
        used[name] += 1
        return f"{name}_{used[name]}"
    used[name] = 0
    return name


# -- the importer ---------------------------------------------------------------------------
class _Importer:
    def __init__(self, path, max_weights_bytes):
        if not _is_int(max_weights_bytes) or max_weights_bytes < 0:
            raise SavingError(f"load_keras_model: max_weights_bytes must be a non-negative "
                              f"integer, received {max_weights_bytes!r}.")
        self.path = path
        self.max_weights_bytes = max_weights_bytes
        self.targets = []  # (h5 group path, keras layer name, lamina layer) with weights

    def fail(self, where, message):
        raise SavingError(f"'{self.path}': member '{CONFIG}': {where}: {message}")

    def load(self):
        config_bytes, weights_bytes = _read_archive(self.path, self.max_weights_bytes)
        config = _parse_json(self.path, config_bytes)
        self.h5 = _WeightsFile(self.path, weights_bytes)
        try:
            # the config cannot make lamina allocate more than the file's weights (plus a
            # little for state Keras does not save) before the weights are checked. Building
            # draws from lamina's random stream like building the model by hand would (not
            # `random.preserved()`): Keras does not save Dropout's RNG state, so an imported
            # Dropout keeps the seed it drew, and the next Dropout must not draw it again.
            with allocation.budget(self.h5.total_bytes + _ALLOCATION_SLACK,
                                   f"'{self.path}'"):
                model = self._model(config, "the model", "", 0)
            for group_path, name, layer in self.targets:
                _set_weights(self, group_path, name, layer)
        finally:
            self.h5.close()
        return model

    # -- entries -----------------------------------------------------------------------
    def _class_of(self, entry, where):
        if not isinstance(entry, dict):
            self.fail(where, f"expected a JSON object, received {type(entry).__name__}.")
        class_name = entry.get("class_name")
        if not isinstance(class_name, str):
            self.fail(where, f"has no class_name (received {class_name!r}).")
        module = entry.get("module")
        registered = entry.get("registered_name")
        known = class_name in _MODEL_CLASSES or class_name in _LAYER_CLASSES
        builtin = (module is None or (isinstance(module, str) and
                                      (module == "keras" or module.startswith("keras."))))
        if not known or not builtin or registered not in (None, class_name):
            label = ".".join(str(p) for p in (module, class_name) if p)
            if registered not in (None, class_name):
                label += f" (registered as {registered!r})"
            self.fail(where, f"the class {label} is not supported by lamina's Keras import. "
                      f"Supported: {', '.join(_MODEL_CLASSES + _LAYER_CLASSES)}. Nothing named "
                      "in a file is ever imported; rebuild this part of the model in lamina.")
        return class_name

    def _model(self, entry, where, h5_path, depth):
        if depth > MAX_MODEL_NESTING:
            self.fail(where, f"models are nested more than {MAX_MODEL_NESTING} deep.")
        class_name = self._class_of(entry, where)
        if class_name not in _MODEL_CLASSES:
            self.fail(where, f"the file holds a {class_name}, not a model (Sequential or "
                      "functional).")
        config = entry.get("config")
        name = config.get("name") if isinstance(config, dict) else None
        where = f"model '{name}' ({class_name})" if isinstance(name, str) else where
        if class_name == "Sequential":
            return self._sequential(config, where, h5_path, depth)
        return _functional(self, config, where, h5_path, depth)

    def _layers_list(self, options):
        layers = options.take("layers")
        if not isinstance(layers, list):
            options.fail(f"'layers' must be a list, received {type(layers).__name__}.")
        return layers

    def _model_common(self, options):
        name = options.take("name", None)
        if name is not None and not isinstance(name, str):
            options.fail(f"'name' must be a string, received {name!r}.")
        trainable = options.bool("trainable", True)
        _dtype(options)  # a model's policy is its layers' default; each layer has its own
        return name, trainable

    def _child(self, entry, where, h5_path, depth, used):
        """A lamina layer (or model) for one entry of a model's `layers` list."""
        class_name = self._class_of(entry, where)
        config = entry.get("config")
        name = config.get("name") if isinstance(config, dict) else None
        if isinstance(name, str):
            where = f"layer '{name}' ({class_name})"
        h5_name = naming.to_snake_case(_KERAS_PYTHON_NAMES.get(class_name, class_name))
        child_path = f"{h5_path}layers/{_unique(h5_name, used)}"
        if class_name in _MODEL_CLASSES:
            return self._model(entry, where, child_path + "/", depth + 1), class_name
        if class_name == "Pipeline":
            return self._pipeline(config, where, child_path + "/", depth + 1), class_name
        layer = _layer(self, class_name, config, where)
        if class_name != "InputLayer":
            self.targets.append((child_path, layer.name, layer))
        return layer, class_name

    def _pipeline(self, config, where, h5_path, depth):
        """A Keras Pipeline: its layers, each read like a model's, under its own group."""
        options = _Options(self, where, config)
        name, trainable = self._model_common(options)
        entries = self._layers_list(options)
        options.done()
        used = {}
        layers = [self._child(entry, f"{where}, layer {i}", h5_path, depth, used)[0]
                  for i, entry in enumerate(entries)]
        return lamina.layers.Pipeline(layers, name=name, trainable=trainable)

    # -- Sequential --------------------------------------------------------------------
    def _sequential(self, config, where, h5_path, depth):
        options = _Options(self, where, config)
        name, trainable = self._model_common(options)
        entries = self._layers_list(options)
        build_shape = options.take("build_input_shape", None)
        options.done()
        layers, used = [], {}
        input_layer = None
        for i, entry in enumerate(entries):
            child_where = f"{where}, layer {i}"
            if isinstance(entry, dict) and entry.get("class_name") == "InputLayer":
                if layers or input_layer is not None:
                    self.fail(child_where, "an InputLayer can only come first in a Sequential.")
                # Sequential.layers leaves out its InputLayer, and so do the weight groups
                self._class_of(entry, child_where)
                input_layer = _layer(self, "InputLayer", entry.get("config"), child_where)
                continue
            layers.append(self._child(entry, child_where, h5_path, depth, used)[0])
        if input_layer is None and build_shape is not None:
            input_layer = self._input_layer_from_shape(build_shape, where)
        try:
            return Sequential(([input_layer] if input_layer is not None else []) + layers,
                              name=name, trainable=trainable)
        except SavingError:  # the allocation budget, with its own message
            raise
        except LaminaError as err:
            self.fail(where, f"lamina cannot build this Sequential model: {err}")

    def _input_layer_from_shape(self, shape, where):
        return InputLayer(batch_shape=_batch_shape(self, shape, where, "build_input_shape"))
