"""Mapping one Keras layer config to a lamina layer, option by option.

lamina's layers take Keras 3's constructor arguments under Keras's names, so a layer's
options are the arguments its lamina class (and, for SimpleRNN/LSTM/GRU, its cell class)
accepts. Each option is parsed by what it holds: activations by name
(`lamina.activations.names()`), initializers, regularizers and constraints from the built-in
Keras classes lamina has, seeds as integers, dtypes as plain float policies, everything else
as a JSON number, string, boolean or (nested) list handed to the lamina constructor, which
checks it. An option lamina does not have (`use_gate`, `quantization_config`, ...) is refused
unless it holds Keras's inert default; nothing is silently dropped. Wrappers
(Bidirectional, TimeDistributed) hold the config of the layer they wrap, built the same way.

`importer` arguments are the `keras_import._Importer` reading the file: its
`fail(where, message)` raises a `SavingError`, its `_class_of(entry, where)` checks a nested
entry's class.
"""
import inspect
import math

import numpy as np

from lamina import activations as _activations
from lamina.errors import LaminaError, SavingError

_FLOAT_DTYPES = ("float16", "bfloat16", "float32", "float64")

# lamina activation names whose Keras function of the same name differs or needs arguments a
# name cannot carry ("threshold"), or is checked against Keras only on even sizes ("glu")
_NOT_KERAS_ACTIVATIONS = frozenset({"sparsemax", "threshold", "glu"})
# Keras activation names lamina computes identically (checked against Keras in tests)
_ACTIVATIONS = frozenset(_activations.names()) - _NOT_KERAS_ACTIVATIONS

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
_REGULARIZER_STRINGS = {"l1": "L1", "l2": "L2", "l1_l2": "L1L2",
                        "orthogonal_regularizer": "OrthogonalRegularizer"}
_CONSTRAINT_STRINGS = {"max_norm": "MaxNorm", "non_neg": "NonNeg", "unit_norm": "UnitNorm",
                       "min_max_norm": "MinMaxNorm"}


# the Keras layer classes lamina imports: each is the lamina class of the same name
_LAYER_CLASSES = (
    "InputLayer", "Dense", "Activation", "Dropout", "Flatten", "Reshape", "Identity",
    "Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate", "Dot",
    "BatchNormalization", "LayerNormalization", "GroupNormalization", "UnitNormalization",
    "Conv1D", "Conv2D", "Conv3D", "Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose",
    "DepthwiseConv1D", "DepthwiseConv2D", "SeparableConv1D", "SeparableConv2D",
    "MaxPooling1D", "MaxPooling2D", "MaxPooling3D",
    "AveragePooling1D", "AveragePooling2D", "AveragePooling3D",
    "GlobalMaxPooling1D", "GlobalMaxPooling2D", "GlobalMaxPooling3D",
    "GlobalAveragePooling1D", "GlobalAveragePooling2D", "GlobalAveragePooling3D",
    "Embedding", "Masking", "SimpleRNN", "LSTM", "GRU", "Bidirectional", "TimeDistributed",
    "MultiHeadAttention", "Attention", "AdditiveAttention",
    "Permute", "RepeatVector", "UpSampling1D", "UpSampling2D", "ZeroPadding1D",
    "ZeroPadding2D", "Cropping1D", "Cropping2D",
    "ReLU", "LeakyReLU", "PReLU", "ELU", "Softmax",
    "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D", "GaussianNoise",
    "GaussianDropout", "AlphaDropout", "ActivityRegularization", "Rescaling", "Normalization",
)
_RECURRENT = ("SimpleRNN", "LSTM", "GRU")
# Keras options lamina has no argument for, accepted only with the value that does nothing
_INERT_OPTIONS = {"use_gate": False, "sliding_window": None, "renorm_clipping": None,
                  "quantization_config": None, "lora_rank": None, "lora_alpha": None}
# constructor arguments that are not Keras options, or that are read specially
_NOT_OPTIONS = frozenset({"self", "name", "trainable", "dtype", "layer", "backward_layer",
                          "cell", "train_when_frozen", "use_cudnn"})
_MISSING = object()


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


def _lamina_class(class_name):
    import lamina.layers

    return getattr(lamina.layers, class_name)


def _arguments(cls):
    """{argument: required?} of the constructor of lamina class `cls`, its bases up to (not
    including) `Layer`, and for a recurrent layer its cell class; plus activity_regularizer,
    which every layer takes."""
    from lamina.core.layer import Layer

    found = {"activity_regularizer": False}
    classes = [c for c in cls.__mro__ if c is not Layer and issubclass(c, Layer)]
    cell = getattr(cls, "cell_class", None)
    if cell is not None:
        classes += [c for c in cell.__mro__ if c is not Layer and issubclass(c, Layer)]
    for klass in classes:
        if "__init__" not in vars(klass):
            continue
        for parameter in inspect.signature(klass.__init__).parameters.values():
            if (parameter.name in _NOT_OPTIONS or parameter.kind not in (
                    parameter.POSITIONAL_OR_KEYWORD, parameter.KEYWORD_ONLY)):
                continue
            required = parameter.default is parameter.empty
            found[parameter.name] = found.get(parameter.name, False) or required
    return found


def _layer(importer, class_name, config, where):
    options = _Options(importer, where, config)
    if class_name == "InputLayer":
        return _input_layer(options)
    common = _layer_common(options)
    cls = _lamina_class(class_name)
    kwargs = {}
    if class_name == "BatchNormalization":
        axis = options.take("axis", -1)
        if isinstance(axis, list) and len(axis) == 1:
            axis = axis[0]
        if not _is_int(axis):
            options.fail(f"'axis' must be one integer (lamina normalises over one feature "
                         f"axis), received {_short(axis)}.")
        kwargs["axis"] = axis
        options.number("renorm_momentum", 0.99)  # unused: lamina refuses renorm=True
    elif class_name == "Bidirectional":
        kwargs["layer"] = _nested(importer, options, "layer", _RECURRENT)
        if options.config.get("backward_layer") is not None:
            kwargs["backward_layer"] = _nested(importer, options, "backward_layer", _RECURRENT)
    elif class_name == "TimeDistributed":
        kwargs["layer"] = _nested(importer, options, "layer", _LAYER_CLASSES[1:])
    for key, required in _arguments(cls).items():
        if key in kwargs:
            continue
        if key not in options.config:
            if required:
                options.fail(f"the config has no '{key}'.")
            continue
        if key.endswith("_initializer") and options.config[key] is None:
            options.take(key)  # no initializer given: lamina's default, as Keras's
            continue
        kwargs[key] = _option(options, key)
    for key, inert in _INERT_OPTIONS.items():
        value = options.take(key, inert)
        if value != inert or type(value) is not type(inert):
            options.fail(f"'{key}' is {_short(value)}, which lamina's {class_name} cannot "
                         f"represent (only {inert!r} imports); refused rather than silently "
                         "dropped.")
    options.done()
    try:
        return cls(**kwargs, **common)
    except SavingError:
        raise
    except LaminaError as err:
        options.fail(f"lamina refuses these arguments: {err}")
    except (TypeError, ValueError) as err:
        options.fail(f"lamina refuses these arguments ({err}).")


def _option(options, key):
    """The lamina value of Keras option `key` (which must be present when it has no default)."""
    if key in ("activation", "recurrent_activation"):
        return _activation(options, key)
    if key.endswith("_initializer"):
        return _initializer(options, key, None)
    if key.endswith("_regularizer"):
        return _regularizer(options, key)
    if key.endswith("_constraint"):
        return _constraint(options, key)
    if key == "seed":
        seed = options.take("seed")
        if seed is not None and not _is_int(seed):
            options.fail(f"'seed' must be an integer or null, received {seed!r}.")
        return seed
    return _plain(options, key, options.take(key))


def _plain(options, key, value):
    """A JSON scalar, or a list as a tuple (recursively); objects are refused."""
    if value is None or isinstance(value, (bool, str, int)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            options.fail(f"'{key}' must be finite, received {value!r}.")
        return value
    if isinstance(value, list):
        return tuple(_plain(options, key, v) for v in value)
    options.fail(f"'{key}' holds {_short(value)}, which is not a value lamina imports for "
                 "this option.")


def _nested(importer, options, key, allowed):
    """The lamina layer for the layer config a wrapper holds under `key`."""
    entry = options.take(key)
    where = f"{options.where}, '{key}'"
    class_name = importer._class_of(entry, where)
    if class_name not in allowed:
        options.fail(f"'{key}' is a {class_name}; lamina's import wraps only "
                     f"{', '.join(allowed)} here.")
    name = entry["config"].get("name") if isinstance(entry.get("config"), dict) else None
    if isinstance(name, str):
        where = f"{where}: layer '{name}' ({class_name})"
    return _layer(importer, class_name, entry.get("config"), where)


def weight_groups(layer):
    """The HDF5 groups (relative to the layer's own group) that hold a lamina layer's
    weights, in the order of `layer.weights`: Keras saves a layer's variables in `vars` and
    those of the layers it holds in a group named after the attribute holding them."""
    from lamina.layers import (
        GRU,
        LSTM,
        Bidirectional,
        MultiHeadAttention,
        SimpleRNN,
        TimeDistributed,
    )

    if isinstance(layer, (SimpleRNN, LSTM, GRU)):
        return ["cell/vars"]
    if isinstance(layer, Bidirectional):
        return ([f"forward_layer/{g}" for g in weight_groups(layer.forward_layer)]
                + [f"backward_layer/{g}" for g in weight_groups(layer.backward_layer)])
    if isinstance(layer, TimeDistributed):
        return [f"layer/{g}" for g in weight_groups(layer.layer)]
    if isinstance(layer, MultiHeadAttention):
        return [f"{part}_dense/vars" for part in ("query", "key", "value", "output")]
    return ["vars"]


def _layer_common(options):
    name = options.take("name", None)
    if name is not None and not isinstance(name, str):
        options.fail(f"'name' must be a string, received {name!r}.")
    return {"name": name, "trainable": options.bool("trainable", True),
            "dtype": _dtype(options)}


def _dtype(options):
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


def _input_layer(options):
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
        dtype = _dtype(_Options(options.importer, options.where, {"dtype": dtype}))
    try:
        valid = isinstance(dtype, str) and np.dtype(dtype).kind in "biuf"
    except TypeError:
        valid = False
    if not valid:
        options.fail(f"'dtype' must name a numeric dtype, received {_short(dtype)}.")
    for key in ("sparse", "ragged", "optional"):
        options.require(key, [False], f"lamina has no {key} inputs")
    options.done()
    return InputLayer(batch_shape=_batch_shape(options.importer, shape, options.where,
                                               "batch_shape"),
                      dtype=dtype, name=name)


def _batch_shape(importer, shape, where, key):
    if (not isinstance(shape, list) or not shape
            or not all(d is None or (_is_int(d) and d > 0) for d in shape)):
        importer.fail(where, f"'{key}' must be a list of positive integers or nulls (with "
                      f"the batch axis), received {_short(shape)}.")
    return tuple(shape)


def _activation(options, key="activation", required=False):
    value = options.take(key, _MISSING if required else None)
    if value is None:
        return "linear"
    if (isinstance(value, dict) and value.get("module") == "keras.activations"
            and value.get("class_name") == "function"):
        value = value.get("config")
    if not isinstance(value, str) or value not in _ACTIVATIONS:
        options.fail(f"'{key}': the activation {_short(value)} is not supported. lamina "
                     f"imports {', '.join(sorted(_ACTIVATIONS))}.")
    return value


def _object(options, key, value, strings, family):
    """(class name, its options) of a built-in Keras object (initializer, regularizer,
    constraint) written as a string or as `{"module", "class_name", "config", ...}`."""
    if isinstance(value, str):
        class_name, config = strings.get(value), {}
        if class_name is None:
            options.fail(f"'{key}': the {family} {value!r} is not one lamina has.")
    elif isinstance(value, dict):
        class_name, config = value.get("class_name"), value.get("config", {})
        module = value.get("module")
        if (not isinstance(class_name, str) or not isinstance(config, dict)
                or value.get("registered_name") not in (None, class_name)
                or not (module is None or module == "keras"
                        or str(module).startswith("keras."))):
            options.fail(f"'{key}': the {family} {_short(value)} is not a built-in "
                         f"Keras {family} lamina has.")
    else:
        options.fail(f"'{key}': expected a {family}, received {_short(value)}.")
    return class_name, _Options(options.importer, f"{options.where}, {key} ({class_name})",
                                config)


def _axis(sub):
    axis = sub.take("axis", 0)
    if _is_int(axis):
        return axis
    if isinstance(axis, list) and axis and all(_is_int(a) for a in axis):
        return tuple(axis)
    sub.fail(f"'axis' must be an integer or a list of integers, received {_short(axis)}.")


def _regularizer(options, key):
    from lamina import regularizers

    value = options.take(key, None)
    if value is None:
        return None
    class_name, sub = _object(options, key, value, _REGULARIZER_STRINGS, "regularizer")
    if class_name == "L1":
        made = regularizers.L1(l1=sub.number("l1", 0.01))
    elif class_name == "L2":
        made = regularizers.L2(l2=sub.number("l2", 0.01))
    elif class_name == "L1L2":
        made = regularizers.L1L2(l1=sub.number("l1", 0.0), l2=sub.number("l2", 0.0))
    elif class_name == "OrthogonalRegularizer":
        mode = sub.take("mode", "rows")
        if mode not in ("rows", "columns"):
            sub.fail(f"'mode' must be 'rows' or 'columns', received {_short(mode)}.")
        made = regularizers.OrthogonalRegularizer(factor=sub.number("factor", 0.01), mode=mode)
    else:
        sub.fail(f"the regularizer {class_name} is not one lamina has (lamina has L1, L2, "
                 "L1L2 and OrthogonalRegularizer).")
    sub.done()
    return made


def _constraint(options, key):
    from lamina import constraints

    value = options.take(key, None)
    if value is None:
        return None
    class_name, sub = _object(options, key, value, _CONSTRAINT_STRINGS, "constraint")
    if class_name == "MaxNorm":
        made = constraints.MaxNorm(max_value=sub.number("max_value", 2.0), axis=_axis(sub))
    elif class_name == "NonNeg":
        made = constraints.NonNeg()
    elif class_name == "UnitNorm":
        made = constraints.UnitNorm(axis=_axis(sub))
    elif class_name == "MinMaxNorm":
        made = constraints.MinMaxNorm(
            min_value=sub.number("min_value", 0.0), max_value=sub.number("max_value", 1.0),
            rate=sub.number("rate", 1.0), axis=_axis(sub))
    else:
        sub.fail(f"the constraint {class_name} is not one lamina has (lamina has MaxNorm, "
                 "NonNeg, UnitNorm and MinMaxNorm).")
    sub.done()
    return made


def _initializer(options, key, default):
    """A lamina initializer: its name when it has no options (`default` when absent),
    else an instance."""
    from lamina import initializers

    value = options.take(key, None)
    if value is None:
        return default
    class_name, sub = _object(options, key, value, _INITIALIZER_STRINGS, "initializer")
    if class_name == "VarianceScaling":
        spec = (sub.number("scale", 1.0), sub.take("mode", "fan_in"),
                sub.take("distribution", "truncated_normal"))
        named = _VARIANCE_SCALING.get(spec)
        if named is None:
            seed = _seed(sub)
            sub.done()
            return initializers.VarianceScaling(*spec, seed=seed)
        class_name = named
    if class_name in ("Zeros", "Ones"):
        sub.done()
        return class_name.lower()
    seed = _seed(sub) if class_name not in ("Constant", "Identity") else None
    if class_name in _SEEDED_INITIALIZERS:
        sub.unsupported("input_axes", "output_axes")
        sub.done()
        if seed is None:
            return _SEEDED_INITIALIZERS[class_name]
        return getattr(initializers, class_name)(seed=seed)
    if class_name == "RandomNormal":
        init = initializers.RandomNormal(mean=sub.number("mean", 0.0),
                                         stddev=sub.number("stddev", 0.05), seed=seed)
    elif class_name == "TruncatedNormal":
        init = initializers.TruncatedNormal(mean=sub.number("mean", 0.0),
                                            stddev=sub.number("stddev", 0.05), seed=seed)
    elif class_name == "RandomUniform":
        init = initializers.RandomUniform(minval=sub.number("minval", -0.05),
                                          maxval=sub.number("maxval", 0.05), seed=seed)
    elif class_name == "Orthogonal":
        init = initializers.Orthogonal(gain=sub.number("gain", 1.0), seed=seed)
    elif class_name == "Identity":
        init = initializers.Identity(gain=sub.number("gain", 1.0))
    elif class_name == "Constant":
        init = initializers.Constant(value=sub.number("value", 0.0))
    else:
        sub.fail(f"the initializer {class_name} is not one lamina has (lamina has Zeros, "
                 "Ones, Constant, Identity, Orthogonal, RandomNormal, RandomUniform, "
                 "TruncatedNormal, VarianceScaling and the Glorot, He and Lecun "
                 "uniform/normal initializers).")
    sub.done()
    return init


def _seed(sub):
    seed = sub.take("seed", None)
    if seed is not None and not _is_int(seed):
        sub.fail(f"'seed' must be an integer or null, received {seed!r}.")
    return seed
