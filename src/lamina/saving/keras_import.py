"""Import of Keras 3 `.keras` files (needs the optional dependency h5py).

A `.keras` file is a zip holding `config.json` (the model's structure as nested
`{"module", "class_name", "config", "registered_name", ...}` objects; functional models list
their layers with `inbound_nodes`), `model.weights.h5` (one HDF5 group per layer, its
variables as datasets `vars/0`, `vars/1`, ... in creation order) and `metadata.json`.

`load_keras_model(path)` rebuilds the model from lamina classes chosen from a fixed table
(nothing is ever imported or called by a name read from the file) and sets its weights;
`keras_layers` maps each layer's config and `keras_files` reads the file defensively. Every
failure is a `lamina.errors.SavingError` naming the file, the member and the object at fault.

How Keras names the weight groups (`keras/src/saving/saving_lib.py`): a Sequential or
functional model's layers are stored under `<model path>/layers/<n>`, where `<n>` is the
snake-cased class name made unique within that list ("dense", "dense_1", ...), in
`model.layers` order (a functional model lists its InputLayers, a Sequential model does
not); a layer's variables are in `<its path>/vars`. Layer names are *not* used in paths.
No HDF5 attribute is read (Keras writes the layer name on each `vars` group, as a variable-
length string whose bytes live in the file's global heap; a damaged heap can hang HDF5), so
the weights are matched to layers by path, count and shape.
"""
import os

import numpy as np

from lamina.core import naming
from lamina.errors import LaminaError, SavingError
from lamina.saving.keras_files import CONFIG, WEIGHTS, _parse_json, _read_archive, _WeightsFile
from lamina.saving.keras_layers import _LAYER_CLASSES, _batch_shape, _dtype, _layer, weight_groups
from lamina.saving.keras_objects import _ACTIVATIONS  # noqa: F401 (re-exported for tests)
from lamina.saving.keras_options import _is_int, _is_number, _Options, _short

DEFAULT_MAX_WEIGHTS_BYTES = 8 * 1024 ** 3
MAX_MODEL_NESTING = 32
# bytes that building the model may allocate beyond the weights the file holds (the Dropout
# seed state and other small variables Keras does not save)
_ALLOCATION_SLACK = 1024 * 1024

_MODEL_CLASSES = ("Sequential", "Functional")
# Keras operations a functional model records to compute masks (Embedding(mask_zero=True):
# `not_equal(ids, 0)`; Masking: `any(not_equal(x, mask_value), axis=-1)`): their outputs only
# reach layers as `mask=` arguments, which lamina's graph recomputes with the layers'
# `compute_mask`, so they are checked and skipped
_MASK_OPS = ("NotEqual", "Any")
_OPS_MODULE = "keras.src.ops.numpy"


class _Mask:
    """The output of a skipped mask operation."""


_MASK = _Mask()


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
    except LaminaError:
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
        from lamina.core import allocation

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
                self._set_weights(group_path, name, layer)
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
        return self._functional(config, where, h5_path, depth)

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
        child_path = f"{h5_path}layers/{_unique(naming.to_snake_case(class_name), used)}"
        if class_name in _MODEL_CLASSES:
            return self._model(entry, where, child_path + "/", depth + 1), class_name
        layer = _layer(self, class_name, config, where)
        if class_name != "InputLayer":
            self.targets.append((child_path, layer.name, layer))
        return layer, class_name

    # -- Sequential --------------------------------------------------------------------
    def _sequential(self, config, where, h5_path, depth):
        from lamina.core.sequential import Sequential

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
        from lamina.core.node import InputLayer

        return InputLayer(batch_shape=_batch_shape(self, shape, where, "build_input_shape"))

    # -- functional --------------------------------------------------------------------
    def _functional(self, config, where, h5_path, depth):
        from lamina.core.model import Model

        options = _Options(self, where, config)
        name, trainable = self._model_common(options)
        entries = self._layers_list(options)
        input_spec = options.take("input_layers")
        output_spec = options.take("output_layers")
        options.done()

        layers, nodes, order, used = {}, {}, [], {}
        for i, entry in enumerate(entries):
            if isinstance(entry, dict) and entry.get("module") == _OPS_MODULE:
                key = self._mask_op(entry, f"{where}, layer {i}")
                if key in nodes:
                    self.fail(where, f"two layers are named '{key}'.")
                nodes[key] = []
                order.append((key, entry["inbound_nodes"]))
                continue
            layer, class_name = self._child(entry, f"{where}, layer {i}", h5_path, depth, used)
            key = entry.get("name", layer.name)
            if key != layer.name:
                self.fail(where, f"layer {i} is listed as {key!r} but configured as "
                          f"'{layer.name}'.")
            if key in nodes:
                self.fail(where, f"two layers are named '{key}'.")
            inbound = entry.get("inbound_nodes", [])
            if not isinstance(inbound, list):
                self.fail(where, f"layer '{key}': 'inbound_nodes' must be a list.")
            if class_name == "InputLayer":
                if inbound:
                    self.fail(where, f"InputLayer '{key}' has inbound nodes.")
                nodes[key] = [[layer.output]]
            else:
                nodes[key] = []
            layers[key] = layer
            order.append((key, inbound))

        pending = {key: list(inbound) for key, inbound in order}
        progress = True
        while progress:
            progress = False
            for key, _ in order:
                while pending[key]:
                    node = pending[key][0]
                    node_where = f"{where}, layer '{key}', node {len(nodes[key])}"
                    if key not in layers:  # a mask operation
                        if self._node_inputs(node, node_where, nodes, mask_op=True) is None:
                            break
                        nodes[key].append([_MASK])
                        pending[key].pop(0)
                        progress = True
                        continue
                    call = self._node_inputs(node, node_where, nodes)
                    if call is None:
                        break
                    nodes[key].append(self._call(layers[key], *call, node_where))
                    pending[key].pop(0)
                    progress = True
        stuck = [key for key, left in pending.items() if left]
        if stuck:
            self.fail(where, f"the inbound nodes of {stuck} refer to tensors that no layer "
                      "produces (a dangling reference or a cycle).")
        inputs = self._tensor_structure(input_spec, "input_layers", where, nodes)
        outputs = self._tensor_structure(output_spec, "output_layers", where, nodes)
        try:
            return Model(inputs, outputs, name=name, trainable=trainable)
        except SavingError:
            raise
        except LaminaError as err:
            self.fail(where, f"lamina cannot build this functional model: {err}")

    def _mask_op(self, entry, where):
        """The name of a Keras mask operation entry, after checking it is one."""
        class_name = entry.get("class_name")
        config = entry.get("config")
        if (class_name not in _MASK_OPS or entry.get("registered_name") not in (None, class_name)
                or not isinstance(config, dict)):
            self.fail(where, f"the operation {_OPS_MODULE}.{_short(class_name)} is not "
                      "supported by lamina's Keras import (only the mask operations "
                      f"{', '.join(_MASK_OPS)} are); rebuild this part of the model in lamina.")
        name = config.get("name")
        where = f"operation '{name}' ({class_name})"
        options = _Options(self, where, config)
        options.take("name")
        if class_name == "Any":
            options.require("axis", [-1], "the mask of the last axis")
            options.require("keepdims", [False], "a (batch, timesteps) mask")
        options.done()
        if not isinstance(name, str) or entry.get("name", name) != name:
            self.fail(where, "the operation needs one name, in its entry and its config.")
        if not isinstance(entry.get("inbound_nodes"), list):
            self.fail(where, "'inbound_nodes' must be a list.")
        return name

    def _node_inputs(self, node, where, nodes, mask_op=False):
        """(positional inputs, keyword arguments) of one inbound node, or None while an input
        is missing. Of a mask operation, only its inputs are checked."""
        if isinstance(node, list):
            self.fail(where, "the inbound node is in the Keras 2 format; lamina imports files "
                      "saved by Keras 3 (load and save the model again with Keras 3).")
        if not isinstance(node, dict):
            self.fail(where, f"expected an inbound node object, received {type(node).__name__}.")
        args = node.get("args", [])
        kwargs = node.get("kwargs", {})
        if not isinstance(args, list) or not args or len(args) > 3:
            self.fail(where, "lamina imports layer calls with one to three positional tensor "
                      f"arguments; received {_short(args)}.")
        if not isinstance(kwargs, dict):
            self.fail(where, f"'kwargs' must be an object, received {_short(kwargs)}.")
        missing = []
        if mask_op:
            tensor = self._resolve(args[0], where, nodes, missing, 0, mask_ok=True)
            if (kwargs or len(args) > 2 or isinstance(tensor, list)
                    or (len(args) == 2 and not _is_number(args[1]))):
                self.fail(where, f"a mask operation called as ({_short(args)}, "
                          f"{_short(kwargs)}) is not one lamina recomputes.")
            return None if missing else True
        call_kwargs = {}
        for key, value in kwargs.items():
            # `training` recorded at build time is overridden by the outer call in Keras,
            # except True (always-on dropout), which lamina cannot express
            if key == "training" and value in (None, False):
                continue
            if key in ("use_causal_mask", "return_attention_scores") and isinstance(value, bool):
                call_kwargs[key] = value
                continue
            if key in ("mask", "query_mask", "value_mask", "key_mask"):
                # a mask Keras propagated: lamina's graph passes the same one itself
                if value is None or self._resolve(value, where, nodes, missing, 0,
                                                  mask_ok=True) is _MASK:
                    continue
                if not missing:
                    self.fail(where, f"the layer is called with {key}= a tensor that is not "
                              "the mask Keras propagates; lamina's import does not support "
                              "explicit masks.")
                continue
            self.fail(where, f"the layer is called with {key}={_short(value)}, which lamina's "
                      "import does not support.")
        structure = [self._resolve(a, where, nodes, missing, 0) for a in args]
        return None if missing else (structure, call_kwargs)

    def _resolve(self, value, where, nodes, missing, depth, mask_ok=False):
        if depth > 16:
            self.fail(where, "the inputs are nested too deeply.")
        if isinstance(value, list):
            return [self._resolve(v, where, nodes, missing, depth + 1) for v in value]
        if isinstance(value, dict) and value.get("class_name") == "__keras_tensor__":
            config = value.get("config")
            history = config.get("keras_history") if isinstance(config, dict) else None
            tensor = self._history(history, where, nodes, missing)
            if tensor is _MASK and not mask_ok:
                self.fail(where, f"uses the mask operation '{history[0]}' as an input; lamina "
                          "imports mask operations only as the masks Keras propagates.")
            return tensor
        if isinstance(value, dict):
            return {k: self._resolve(v, where, nodes, missing, depth + 1)
                    for k, v in value.items()}
        self.fail(where, f"expected symbolic tensors as inputs, received {_short(value)}.")

    def _history(self, history, where, nodes, missing):
        if (not isinstance(history, list) or len(history) != 3 or not isinstance(history[0], str)
                or not _is_int(history[1]) or not _is_int(history[2])
                or history[1] < 0 or history[2] < 0):
            self.fail(where, f"malformed tensor reference {_short(history)}.")
        layer_name, node_index, tensor_index = history
        if layer_name not in nodes:
            self.fail(where, f"refers to layer '{layer_name}', which the model does not list.")
        done = nodes[layer_name]
        if node_index >= len(done):
            missing.append(history)
            return None
        outputs = done[node_index]
        if tensor_index >= len(outputs):
            self.fail(where, f"refers to output {tensor_index} of layer '{layer_name}', which "
                      f"has {len(outputs)}.")
        return outputs[tensor_index]

    def _call(self, layer, args, kwargs, where):
        import jax

        from lamina.core.node import is_symbolic

        try:
            outputs = layer(*args, **kwargs)
        except SavingError:
            raise
        except LaminaError as err:
            self.fail(where, f"calling the layer failed: {err}")
        except (TypeError, ValueError, IndexError) as err:
            self.fail(where, f"calling the layer failed ({type(err).__name__}: {err}).")
        return jax.tree_util.tree_leaves(outputs, is_leaf=is_symbolic)

    def _tensor_structure(self, spec, key, where, nodes):
        def triple(value):
            missing = []
            tensor = self._history(value, f"{where}, {key}", nodes, missing)
            if missing:
                self.fail(where, f"{key} refers to {value!r}, which is never computed.")
            if tensor is _MASK:
                self.fail(where, f"{key} refers to the mask operation {value!r}; lamina "
                          "imports mask operations only as the masks Keras propagates.")
            return tensor

        if isinstance(spec, list) and spec and isinstance(spec[0], str):
            return triple(spec)
        if isinstance(spec, list) and spec:
            return [triple(item) for item in spec]
        if isinstance(spec, dict) and spec:
            return {k: triple(v) for k, v in spec.items()}
        self.fail(where, f"'{key}' must name at least one tensor, received {_short(spec)}.")

    # -- weights -----------------------------------------------------------------------
    def _set_weights(self, group_path, keras_name, layer):
        weights = layer.weights
        where = f"'{self.path}': member '{WEIGHTS}': group '/{group_path}' (layer '{keras_name}')"
        expected, groups = [], weight_groups(layer)
        for group in groups:
            vars_path = f"{group_path}/{group}"
            found = sorted((p for p in self.h5.datasets if p.startswith(vars_path + "/")
                            and "/" not in p[len(vars_path) + 1:]),
                           key=lambda p: (len(p), p))
            names = [f"{vars_path}/{i}" for i in range(len(found))]
            if found != names:
                raise SavingError(f"{where}: group '/{vars_path}' holds the datasets "
                                  f"{[p[len(vars_path) + 1:] for p in found]}; expected "
                                  "0, 1, 2, ... (the file does not match its config).")
            expected += names
        if len(expected) != len(weights):
            raise SavingError(f"{where} holds {len(expected)} weight(s) in "
                              f"{', '.join(f'/{group_path}/{g}' for g in groups)}; lamina's "
                              f"{type(layer).__name__} has {len(weights)} "
                              f"({[v.name for v in weights]}). The file does not match its "
                              "config.")
        values = []
        for variable, obj_path in zip(weights, expected):
            value = self.h5.read(obj_path)
            if tuple(value.shape) != tuple(variable.shape):
                raise SavingError(f"'{self.path}': member '{WEIGHTS}': dataset '/{obj_path}' "
                                  f"has shape {tuple(value.shape)}; '{variable.path}' needs "
                                  f"{tuple(variable.shape)}.")
            with np.errstate(over="ignore", invalid="ignore"):
                values.append(value.astype(np.dtype(variable.dtype), copy=False))
        if values:
            layer.set_weights(values)
