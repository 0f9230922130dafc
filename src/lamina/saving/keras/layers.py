"""Mapping one Keras layer config to a lamina layer, option by option.

lamina's layers take Keras 3's constructor arguments under Keras's names, so a layer's
options are the arguments its lamina class (and, for SimpleRNN/LSTM/GRU, its cell class)
accepts. Each option is parsed by what it holds: activations, initializers, regularizers and
constraints by `keras_objects`, seeds as integers, dtypes as plain float policies, everything
else as a JSON number, string, boolean or (nested) list handed to the lamina constructor,
which checks it. An option lamina does not have (`use_gate`, `quantization_config`, ...) is
refused unless it holds Keras's inert default; nothing is silently dropped. Wrappers
(Bidirectional, TimeDistributed) hold the config of the layer they wrap, built the same way.

`importer` arguments are the `keras_import._Importer` reading the file: its
`fail(where, message)` raises a `SavingError`, its `_class_of(entry, where)` checks a nested
entry's class.
"""
import inspect
import math

import numpy as np

import lamina.layers
from lamina.core.input_layer import InputLayer
from lamina.core.layer import Layer
from lamina.errors import LaminaError, SavingError
from lamina.layers import (
    GRU,
    LSTM,
    Bidirectional,
    ConvLSTM1D,
    ConvLSTM2D,
    ConvLSTM3D,
    GroupQueryAttention,
    MultiHeadAttention,
    SimpleRNN,
    TimeDistributed,
)
from lamina.saving.keras.objects import _activation, _constraint, _initializer, _regularizer
from lamina.saving.keras.options import _is_int, _Options, _short

_FLOAT_DTYPES = ("float16", "bfloat16", "float32", "float64")


# the Keras layer classes lamina imports: each is the lamina class of the same name
_LAYER_CLASSES = (
    "InputLayer", "Dense", "Activation", "Dropout", "Flatten", "Reshape", "Identity",
    "Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate", "Dot",
    "BatchNormalization", "LayerNormalization", "GroupNormalization", "UnitNormalization",
    "RMSNormalization", "EinsumDense",
    "Conv1D", "Conv2D", "Conv3D", "Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose",
    "DepthwiseConv1D", "DepthwiseConv2D", "SeparableConv1D", "SeparableConv2D",
    "MaxPooling1D", "MaxPooling2D", "MaxPooling3D",
    "AveragePooling1D", "AveragePooling2D", "AveragePooling3D",
    "GlobalMaxPooling1D", "GlobalMaxPooling2D", "GlobalMaxPooling3D",
    "GlobalAveragePooling1D", "GlobalAveragePooling2D", "GlobalAveragePooling3D",
    "Embedding", "Masking", "SimpleRNN", "LSTM", "GRU", "Bidirectional", "TimeDistributed",
    "ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D",
    "MultiHeadAttention", "GroupQueryAttention", "Attention", "AdditiveAttention",
    "Permute", "RepeatVector", "UpSampling1D", "UpSampling2D", "ZeroPadding1D",
    "ZeroPadding2D", "Cropping1D", "Cropping2D",
    "ReLU", "LeakyReLU", "PReLU", "ELU", "Softmax", "Pipeline",
    "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D", "GaussianNoise",
    "GaussianDropout", "AlphaDropout", "ActivityRegularization", "Rescaling", "Normalization",
    "Resizing", "CenterCrop", "RandomCrop", "RandomFlip", "RandomRotation", "RandomZoom",
    "RandomTranslation", "RandomShear", "RandomContrast", "RandomBrightness", "AutoContrast",
    "RandomInvert", "RandomGrayscale", "Solarization", "RandomPosterization", "RandomSharpness",
    "MixUp", "CutMix", "RandomErasing", "RandomGaussianBlur", "RandomHue", "RandomSaturation",
    "RandomColorJitter", "RandomPerspective", "Equalization", "RandomColorDegeneration",
    "RandAugment", "RandomElasticTransform", "CategoryEncoding", "Discretization",
)
_RECURRENT = ("SimpleRNN", "LSTM", "GRU")
# Keras options lamina has no argument for, accepted only with the value that does nothing
_INERT_OPTIONS = {"use_gate": False, "sliding_window": None, "renorm_clipping": None,
                  "quantization_config": None, "lora_rank": None, "lora_alpha": None}
# constructor arguments that are not Keras options, or that are read specially
_NOT_OPTIONS = frozenset({"self", "name", "trainable", "dtype", "layer", "backward_layer",
                          "cell", "train_when_frozen", "use_cudnn", "lora_rank", "lora_alpha"})


def _lamina_class(class_name):
    return getattr(lamina.layers, class_name)


def _arguments(cls):
    """{argument: required?} of the constructor of lamina class `cls`, its bases up to (not
    including) `Layer`, and for a recurrent layer its cell class; plus activity_regularizer,
    which every layer takes."""
    found = {"activity_regularizer": False}
    classes = [c for c in cls.__mro__ if c is not Layer and issubclass(c, Layer)]
    if getattr(cls, "_own_arguments_only", False):  # its base's arguments are not its options
        classes = classes[:1]
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
        if class_name == "Discretization":  # an adapted one holds num_bins and its boundaries
            return cls.from_config({**kwargs, **common})
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
    if isinstance(layer, (SimpleRNN, LSTM, GRU, ConvLSTM1D, ConvLSTM2D, ConvLSTM3D)):
        return ["cell/vars"]
    if isinstance(layer, Bidirectional):
        return ([f"forward_layer/{g}" for g in weight_groups(layer.forward_layer)]
                + [f"backward_layer/{g}" for g in weight_groups(layer.backward_layer)])
    if isinstance(layer, TimeDistributed):
        return [f"layer/{g}" for g in weight_groups(layer.layer)]
    if isinstance(layer, GroupQueryAttention):  # Keras keeps its projections in `_*_dense`
        return [f"_{part}_dense/vars" for part in ("query", "key", "value", "output")]
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
