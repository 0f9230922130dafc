"""Mapping one Keras layer config to a lamina layer, option by option.

Every Keras option is mapped to a lamina argument explicitly; an option lamina cannot honour
(a regularizer, a constraint, an initializer lamina lacks, a mixed-precision policy, ...)
is refused rather than dropped. `importer` arguments are the `keras_import._Importer`
reading the file: only its `fail(where, message)` is used, which raises a `SavingError`.
"""
import math

import numpy as np

from lamina.errors import LaminaError, SavingError

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

_LAYER_CLASSES = ("InputLayer", "Dense", "Activation", "Dropout", "Flatten", "Reshape",
                  "Concatenate", "Add", "BatchNormalization")
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


def _layer(importer, class_name, config, where):
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

    options = _Options(importer, where, config)
    if class_name == "InputLayer":
        return _input_layer(options)
    common = _layer_common(options)
    if class_name == "Dense":
        kwargs = {
            "units": options.int("units", minimum=1),
            "activation": _activation(options),
            "use_bias": options.bool("use_bias", True),
            "kernel_initializer": _initializer(options, "kernel_initializer",
                                               "glorot_uniform"),
            "bias_initializer": _initializer(options, "bias_initializer", "zeros"),
        }
        options.unsupported("kernel_regularizer", "bias_regularizer",
                            "activity_regularizer", "kernel_constraint", "bias_constraint",
                            "quantization_config", "lora_rank", "lora_alpha")
        cls = Dense
    elif class_name == "Activation":
        kwargs, cls = {"activation": _activation(options, required=True)}, Activation
    elif class_name == "Dropout":
        rate = options.number("rate")
        if not 0 <= rate < 1:
            options.fail(f"'rate' must be in [0, 1), received {rate!r}.")
        seed = options.take("seed", None)
        if seed is not None and not _is_int(seed):
            options.fail(f"'seed' must be an integer or null, received {seed!r}.")
        kwargs = {"rate": rate, "seed": seed,
                  "noise_shape": _noise_shape(options)}
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
            if _initializer(options, key, default) != default:
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


def _noise_shape(options):
    shape = options.take("noise_shape", None)
    if shape is None:
        return None
    if not isinstance(shape, list) or not all(d is None or (_is_int(d) and d > 0)
                                              for d in shape):
        options.fail(f"'noise_shape' must be a list of positive integers or nulls, "
                     f"received {_short(shape)}.")
    return tuple(shape)


def _activation(options, required=False):
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


def _initializer(options, key, default):
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
    sub = _Options(options.importer, f"{options.where}, {key} ({class_name})", config)
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
