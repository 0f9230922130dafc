"""Import of Keras 3 `.keras` files (needs the optional dependency h5py).

A `.keras` file is a zip holding `config.json` (the model's structure as nested
`{"module", "class_name", "config", "registered_name", ...}` objects; functional models list
their layers with `inbound_nodes`), `model.weights.h5` (one HDF5 group per layer, its
variables as datasets `vars/0`, `vars/1`, ... in creation order) and `metadata.json`.

`load_keras_model(path)` rebuilds the model from lamina classes chosen from a fixed table
(nothing is ever imported or called by a name read from the file) and sets its weights.
Every Keras option is mapped to a lamina argument explicitly; an option lamina cannot honour
(a regularizer, a constraint, an initializer lamina lacks, a mixed-precision policy, ...)
is refused rather than dropped. The file is read defensively: zip members are read into
memory by exact name under size limits (never extracted), and the HDF5 file is opened from
memory and checked whole before anything is read from it. External links, soft links,
objects reachable by several hard links, external storage, virtual datasets, compressed
datasets, non-numeric datasets and datasets declaring more bytes than the file holds are all
refused. Every failure is a `lamina.errors.SavingError` naming the file, the member and the
object at fault.

How Keras names the weight groups (`keras/src/saving/saving_lib.py`): a Sequential or
functional model's layers are stored under `<model path>/layers/<n>`, where `<n>` is the
snake-cased class name made unique within that list ("dense", "dense_1", ...), in
`model.layers` order (a functional model lists its InputLayers, a Sequential model does
not); a layer's variables are in `<its path>/vars`. Layer names are *not* used in paths.
No HDF5 attribute is read (Keras writes the layer name on each `vars` group, as a variable-
length string whose bytes live in the file's global heap; a damaged heap can hang HDF5), so
the weights are matched to layers by path, count and shape.
"""
import math
import os
import re

import numpy as np

from lamina.errors import LaminaError, SavingError
from lamina.saving.keras_files import (CONFIG, WEIGHTS, _parse_json, _read_archive,
                                       _WeightsFile)

DEFAULT_MAX_WEIGHTS_BYTES = 8 * 1024 ** 3
MAX_MODEL_NESTING = 32
# bytes that building the model may allocate beyond the weights the file holds (the Dropout
# seed state and other small variables Keras does not save)
_ALLOCATION_SLACK = 1024 * 1024


_FLOAT_DTYPES = ("float16", "bfloat16", "float32", "float64")

# Keras activation names whose lamina function computes the same thing (checked in tests).
_ACTIVATIONS = frozenset({
    "linear", "relu", "relu6", "sigmoid", "tanh", "softmax", "gelu", "silu", "swish", "elu",
    "selu", "softplus", "softsign", "leaky_relu", "log_softmax", "hard_sigmoid", "exponential",
})

# Keras initializer classes whose only option is a seed -> lamina's name for the same
# initializer (lamina has a class of the same name).
_SEEDED_INITIALIZERS = {
    "GlorotUniform": "glorot_uniform", "GlorotNormal": "glorot_normal",
    "HeUniform": "he_uniform", "HeNormal": "he_normal",
    "LecunUniform": "lecun_uniform", "LecunNormal": "lecun_normal",
}
# (scale, mode, distribution) of Keras VarianceScaling -> the lamina initializer equal to it
# (lamina's "normal" variants are truncated at two standard deviations, like Keras's
# "truncated_normal").
_VARIANCE_SCALING = {
    (1.0, "fan_avg", "uniform"): "GlorotUniform",
    (1.0, "fan_avg", "truncated_normal"): "GlorotNormal",
    (2.0, "fan_in", "uniform"): "HeUniform",
    (2.0, "fan_in", "truncated_normal"): "HeNormal",
    (1.0, "fan_in", "uniform"): "LecunUniform",
    (1.0, "fan_in", "truncated_normal"): "LecunNormal",
}
_INITIALIZER_STRINGS = {
    "glorot_uniform": "GlorotUniform", "glorot_normal": "GlorotNormal",
    "he_uniform": "HeUniform", "he_normal": "HeNormal", "lecun_uniform": "LecunUniform",
    "lecun_normal": "LecunNormal", "zeros": "Zeros", "ones": "Ones", "constant": "Constant",
    "random_normal": "RandomNormal", "random_uniform": "RandomUniform",
}

_MODEL_CLASSES = ("Sequential", "Functional")
_LAYER_CLASSES = ("InputLayer", "Dense", "Activation", "Dropout", "Flatten", "Reshape",
                  "Concatenate", "Add", "BatchNormalization")
_MISSING = object()


def load_keras_model(path, max_weights_bytes=DEFAULT_MAX_WEIGHTS_BYTES):
    """A lamina model equivalent to the Keras 3 model saved at `path` (a `.keras` file).

    Sequential models become `lamina.Sequential`, functional models `lamina.Model(inputs,
    outputs)`; nested models, shared layers, layer names and `trainable` flags are kept.
    Supported layers: InputLayer, Dense, Activation, Dropout, Flatten, Reshape,
    Concatenate, Add, BatchNormalization. The optimizer state and compile settings stored
    in the file are not imported: compile the model again.

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


# -- config helpers -------------------------------------------------------------------------
def _snake_case(name):
    """Keras's `naming.to_snake_case`, which names the weight groups."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def _unique(name, used):
    """Keras's `_get_unique_name`: "dense", "dense_1", ... within one list of layers."""
    if name in used:
        used[name] += 1
        return f"{name}_{used[name]}"
    used[name] = 0
    return name


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


class _Options:
    """The config of one layer, consumed key by key; what is left over is checked."""

    def __init__(self, importer, where, config):
        if not isinstance(config, dict):
            importer.fail(where, f"expected a JSON object as config, received "
                          f"{type(config).__name__}.")
        self.importer = importer
        self.where = where
        self.config = dict(config)

    def fail(self, message):
        self.importer.fail(self.where, message)

    def take(self, key, default=_MISSING):
        if key in self.config:
            return self.config.pop(key)
        if default is _MISSING:
            self.fail(f"the config has no '{key}'.")
        return default

    def int(self, key, default=_MISSING, minimum=None):
        value = self.take(key, default)
        if not _is_int(value) or (minimum is not None and value < minimum):
            bound = f" >= {minimum}" if minimum is not None else ""
            self.fail(f"'{key}' must be an integer{bound}, received {value!r}.")
        return value

    def number(self, key, default=_MISSING):
        value = self.take(key, default)
        if not _is_number(value):
            self.fail(f"'{key}' must be a finite number, received {value!r}.")
        return float(value)

    def bool(self, key, default=_MISSING):
        value = self.take(key, default)
        if not isinstance(value, bool):
            self.fail(f"'{key}' must be true or false, received {value!r}.")
        return value

    def require(self, key, allowed, why):
        """Accept `key` only with one of the `allowed` values (an absent key passes)."""
        value = self.take(key, allowed[0])
        if not any(value is a or (value == a and type(value) is type(a)) for a in allowed):
            self.fail(f"'{key}' is {value!r}; lamina only imports {' or '.join(map(repr, allowed))}"
                      f" ({why}).")

    def unsupported(self, *keys):
        """Keys whose only accepted value is null (regularizers, constraints, ...)."""
        for key in keys:
            value = self.take(key, None)
            if value is not None:
                self.fail(f"'{key}' is set ({_short(value)}), which lamina cannot represent; "
                          "refused rather than silently dropped.")

    def done(self):
        for key, value in self.config.items():
            if value is not None:
                self.fail(f"option '{key}' = {_short(value)} is not one lamina knows how to "
                          "import; refused rather than silently dropped.")


def _short(value):
    text = repr(value)
    return text if len(text) <= 120 else text[:117] + "..."


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
        self._dtype(options)  # a model's policy is its layers' default; each layer has its own
        return name, trainable

    def _child(self, entry, where, h5_path, depth, used):
        """A lamina layer (or model) for one entry of a model's `layers` list."""
        class_name = self._class_of(entry, where)
        config = entry.get("config")
        name = config.get("name") if isinstance(config, dict) else None
        if isinstance(name, str):
            where = f"layer '{name}' ({class_name})"
        child_path = f"{h5_path}layers/{_unique(_snake_case(class_name), used)}"
        if class_name in _MODEL_CLASSES:
            return self._model(entry, where, child_path + "/", depth + 1), class_name
        layer = self._layer(class_name, config, where)
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
                input_layer = self._layer("InputLayer", entry.get("config"), child_where)
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

        return InputLayer(batch_shape=self._batch_shape(shape, where, "build_input_shape"))

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
            layer, class_name = self._child(entry, f"{where}, layer {i}", h5_path, depth, used)
            key = entry.get("name", layer.name)
            if key != layer.name:
                self.fail(where, f"layer {i} is listed as {key!r} but configured as "
                          f"'{layer.name}'.")
            if key in layers:
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
                    args = self._node_inputs(node, node_where, nodes)
                    if args is None:
                        break
                    nodes[key].append(self._call(layers[key], args, node_where))
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

    def _node_inputs(self, node, where, nodes):
        """The lamina input structure of one inbound node, or None while an input is missing."""
        if isinstance(node, list):
            self.fail(where, "the inbound node is in the Keras 2 format; lamina imports files "
                      "saved by Keras 3 (load and save the model again with Keras 3).")
        if not isinstance(node, dict):
            self.fail(where, f"expected an inbound node object, received {type(node).__name__}.")
        args = node.get("args", [])
        kwargs = node.get("kwargs", {})
        if not isinstance(args, list) or len(args) != 1:
            self.fail(where, "lamina imports layer calls with exactly one positional argument "
                      f"(the inputs); received {_short(args)}.")
        if not isinstance(kwargs, dict):
            self.fail(where, f"'kwargs' must be an object, received {_short(kwargs)}.")
        for key, value in kwargs.items():
            # `training` recorded at build time is overridden by the outer call in Keras,
            # except True (always-on dropout), which lamina cannot express
            if key == "mask" and value is None or key == "training" and value in (None, False):
                continue
            self.fail(where, f"the layer is called with {key}={_short(value)}, which lamina's "
                      "import does not support.")
        missing = []
        structure = self._resolve(args[0], where, nodes, missing, 0)
        return None if missing else structure

    def _resolve(self, value, where, nodes, missing, depth):
        if depth > 16:
            self.fail(where, "the inputs are nested too deeply.")
        if isinstance(value, list):
            return [self._resolve(v, where, nodes, missing, depth + 1) for v in value]
        if isinstance(value, dict) and value.get("class_name") == "__keras_tensor__":
            config = value.get("config")
            history = config.get("keras_history") if isinstance(config, dict) else None
            return self._history(history, where, nodes, missing)
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

    def _call(self, layer, inputs, where):
        import jax

        from lamina.core.node import is_symbolic

        try:
            outputs = layer(inputs)
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
            return tensor

        if isinstance(spec, list) and spec and isinstance(spec[0], str):
            return triple(spec)
        if isinstance(spec, list) and spec:
            return [triple(item) for item in spec]
        if isinstance(spec, dict) and spec:
            return {k: triple(v) for k, v in spec.items()}
        self.fail(where, f"'{key}' must name at least one tensor, received {_short(spec)}.")

    # -- layers ------------------------------------------------------------------------
    def _layer(self, class_name, config, where):
        from lamina.layers import (
            Activation,
            Add,
            BatchNormalization,
            Concatenate,
            Dense,
            Dropout,
            Flatten,
            Reshape,
        )

        options = _Options(self, where, config)
        if class_name == "InputLayer":
            return self._input_layer(options)
        common = self._layer_common(options)
        if class_name == "Dense":
            kwargs = {
                "units": options.int("units", minimum=1),
                "activation": self._activation(options),
                "use_bias": options.bool("use_bias", True),
                "kernel_initializer": self._initializer(options, "kernel_initializer",
                                                        "glorot_uniform"),
                "bias_initializer": self._initializer(options, "bias_initializer", "zeros"),
            }
            options.unsupported("kernel_regularizer", "bias_regularizer",
                                "activity_regularizer", "kernel_constraint", "bias_constraint",
                                "quantization_config", "lora_rank", "lora_alpha")
            cls = Dense
        elif class_name == "Activation":
            kwargs, cls = {"activation": self._activation(options, required=True)}, Activation
        elif class_name == "Dropout":
            rate = options.number("rate")
            if not 0 <= rate < 1:
                options.fail(f"'rate' must be in [0, 1), received {rate!r}.")
            seed = options.take("seed", None)
            if seed is not None and not _is_int(seed):
                options.fail(f"'seed' must be an integer or null, received {seed!r}.")
            kwargs = {"rate": rate, "seed": seed,
                      "noise_shape": self._noise_shape(options)}
            cls = Dropout
        elif class_name == "Flatten":
            options.require("data_format", ["channels_last", None],
                            "channels_first reorders axes before flattening")
            kwargs, cls = {}, Flatten
        elif class_name == "Reshape":
            target = options.take("target_shape")
            if (not isinstance(target, list) or not target
                    or not all(_is_int(d) and (d > 0 or d == -1) for d in target)):
                options.fail(f"'target_shape' must be a list of positive integers (one may be "
                             f"-1), received {_short(target)}.")
            kwargs, cls = {"target_shape": tuple(target)}, Reshape
        elif class_name == "Concatenate":
            kwargs, cls = {"axis": options.int("axis", -1)}, Concatenate
        elif class_name == "Add":
            kwargs, cls = {}, Add
        elif class_name == "BatchNormalization":
            axis = options.take("axis", -1)
            if isinstance(axis, list) and len(axis) == 1:
                axis = axis[0]
            if not _is_int(axis):
                options.fail(f"'axis' must be one integer (lamina normalises over one feature "
                             f"axis), received {_short(axis)}.")
            kwargs = {"axis": axis, "momentum": options.number("momentum", 0.99),
                      "epsilon": options.number("epsilon", 1e-3),
                      "center": options.bool("center", True),
                      "scale": options.bool("scale", True)}
            for key, default in (("beta_initializer", "zeros"), ("gamma_initializer", "ones"),
                                 ("moving_mean_initializer", "zeros"),
                                 ("moving_variance_initializer", "ones")):
                if self._initializer(options, key, default) != default:
                    options.fail(f"'{key}' must be {default!r} (lamina's BatchNormalization "
                                 "has fixed initializers).")
            options.unsupported("beta_regularizer", "gamma_regularizer", "beta_constraint",
                                "gamma_constraint", "renorm_clipping")
            options.require("renorm", [False], "batch renormalization is not in lamina")
            options.bool("synchronized", False)  # cross-replica statistics: no single-device effect
            options.number("renorm_momentum", 0.99)  # unused without renorm
            cls = BatchNormalization
        else:  # pragma: no cover - _class_of admits only the classes above
            options.fail(f"no importer for {class_name}.")
        options.done()
        try:
            return cls(**kwargs, **common)
        except SavingError:
            raise
        except LaminaError as err:
            options.fail(f"lamina refuses these arguments: {err}")
        except (TypeError, ValueError) as err:
            options.fail(f"lamina refuses these arguments ({err}).")

    def _layer_common(self, options):
        name = options.take("name", None)
        if name is not None and not isinstance(name, str):
            options.fail(f"'name' must be a string, received {name!r}.")
        return {"name": name, "trainable": options.bool("trainable", True),
                "dtype": self._dtype(options)}

    def _dtype(self, options):
        policy = options.take("dtype", None)
        if policy is None:
            return "float32"
        if isinstance(policy, dict):
            if (policy.get("class_name") not in ("DTypePolicy", "FloatDTypePolicy")
                    or not isinstance(policy.get("config"), dict)):
                options.fail(f"the dtype policy {_short(policy)} is not supported (lamina "
                             "imports plain float policies only).")
            policy = policy["config"].get("name")
        if policy not in _FLOAT_DTYPES:
            options.fail(f"the dtype policy {_short(policy)} is not supported: lamina computes "
                         f"in the variables' dtype ({', '.join(_FLOAT_DTYPES)}); mixed and "
                         "quantized policies are refused.")
        return policy

    def _input_layer(self, options):
        from lamina.core.node import InputLayer

        name = options.take("name", None)
        if name is not None and not isinstance(name, str):
            options.fail(f"'name' must be a string, received {name!r}.")
        if "batch_shape" in options.config:
            shape = options.take("batch_shape")
            options.take("batch_input_shape", None)
        else:
            shape = options.take("batch_input_shape")
        dtype = options.take("dtype", "float32")
        if isinstance(dtype, dict):
            dtype = self._dtype(_Options(self, options.where, {"dtype": dtype}))
        try:
            valid = isinstance(dtype, str) and np.dtype(dtype).kind in "biuf"
        except TypeError:
            valid = False
        if not valid:
            options.fail(f"'dtype' must name a numeric dtype, received {_short(dtype)}.")
        for key in ("sparse", "ragged", "optional"):
            options.require(key, [False], f"lamina has no {key} inputs")
        options.done()
        return InputLayer(batch_shape=self._batch_shape(shape, options.where, "batch_shape"),
                          dtype=dtype, name=name)

    def _batch_shape(self, shape, where, key):
        if (not isinstance(shape, list) or not shape
                or not all(d is None or (_is_int(d) and d > 0) for d in shape)):
            self.fail(where, f"'{key}' must be a list of positive integers or nulls (with the "
                      f"batch axis), received {_short(shape)}.")
        return tuple(shape)

    def _noise_shape(self, options):
        shape = options.take("noise_shape", None)
        if shape is None:
            return None
        if not isinstance(shape, list) or not all(d is None or (_is_int(d) and d > 0)
                                                  for d in shape):
            options.fail(f"'noise_shape' must be a list of positive integers or nulls, "
                         f"received {_short(shape)}.")
        return tuple(shape)

    def _activation(self, options, required=False):
        value = options.take("activation", _MISSING if required else None)
        if value is None:
            return "linear"
        if (isinstance(value, dict) and value.get("module") == "keras.activations"
                and value.get("class_name") == "function"):
            value = value.get("config")
        if not isinstance(value, str) or value not in _ACTIVATIONS:
            options.fail(f"the activation {_short(value)} is not supported. lamina imports "
                         f"{', '.join(sorted(_ACTIVATIONS))}.")
        return value

    def _initializer(self, options, key, default):
        """A lamina initializer: its name when it has no options (`default` when absent),
        else an instance."""
        from lamina import initializers

        value = options.take(key, None)
        if value is None:
            return default
        if isinstance(value, str):
            class_name, config = _INITIALIZER_STRINGS.get(value), {}
            if class_name is None:
                options.fail(f"'{key}': the initializer {value!r} is not one lamina has.")
        elif isinstance(value, dict):
            class_name, config = value.get("class_name"), value.get("config", {})
            module = value.get("module")
            if (not isinstance(class_name, str) or not isinstance(config, dict)
                    or value.get("registered_name") not in (None, class_name)
                    or not (module is None or module == "keras"
                            or str(module).startswith("keras."))):
                options.fail(f"'{key}': the initializer {_short(value)} is not a built-in "
                             "Keras initializer lamina has.")
        else:
            options.fail(f"'{key}': expected an initializer, received {_short(value)}.")
        sub = _Options(self, f"{options.where}, {key} ({class_name})", config)
        if class_name == "VarianceScaling":
            spec = (sub.number("scale", 1.0), sub.take("mode", "fan_in"),
                    sub.take("distribution", "truncated_normal"))
            class_name = _VARIANCE_SCALING.get(spec)
            if class_name is None:
                sub.fail(f"VarianceScaling with (scale, mode, distribution) = {spec} has no "
                         "lamina equivalent.")
        if class_name in ("Zeros", "Ones"):
            sub.done()
            return class_name.lower()
        seed = sub.take("seed", None)
        if seed is not None and not _is_int(seed):
            sub.fail(f"'seed' must be an integer or null, received {seed!r}.")
        if class_name in _SEEDED_INITIALIZERS:
            sub.unsupported("input_axes", "output_axes")
            sub.done()
            if seed is None:
                return _SEEDED_INITIALIZERS[class_name]
            return getattr(initializers, class_name)(seed=seed)
        if class_name == "RandomNormal":
            init = initializers.RandomNormal(mean=sub.number("mean", 0.0),
                                             stddev=sub.number("stddev", 0.05), seed=seed)
        elif class_name == "RandomUniform":
            init = initializers.RandomUniform(minval=sub.number("minval", -0.05),
                                              maxval=sub.number("maxval", 0.05), seed=seed)
        elif class_name == "Constant":
            init = initializers.Constant(value=sub.number("value", 0.0))
        else:
            sub.fail(f"the initializer {class_name} is not one lamina has (lamina has "
                     "Zeros, Ones, Constant, RandomNormal, RandomUniform and the Glorot, He and "
                     "Lecun uniform/normal initializers).")
        sub.done()
        return init

    # -- weights -----------------------------------------------------------------------
    def _set_weights(self, group_path, keras_name, layer):
        weights = layer.weights
        vars_path = f"{group_path}/vars"
        found = sorted(p for p in self.h5.datasets if p.startswith(vars_path + "/")
                        and "/" not in p[len(vars_path) + 1:])
        expected = [f"{vars_path}/{i}" for i in range(len(weights))]
        where = f"'{self.path}': member '{WEIGHTS}': group '/{vars_path}' (layer '{keras_name}')"
        if sorted(expected) != found:
            raise SavingError(f"{where} holds {len(found)} weight(s) "
                              f"{[p[len(vars_path) + 1:] for p in found]}; lamina's "
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
