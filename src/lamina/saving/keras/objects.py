"""The built-in Keras objects a layer config may hold, as lamina's: activations by name
(`lamina.activations.names()`, less those whose Keras function differs), and initializers,
regularizers and constraints from the built-in Keras classes lamina has, written as a string
or as `{"module", "class_name", "config", ...}`. Each object's options are read with
`_Options`, so an option lamina does not have is refused; so is any other object.
"""
from lamina import activations as _activations
from lamina import constraints, initializers, regularizers
from lamina.saving.keras.options import _MISSING, _is_int, _Options, _short

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
