"""lamina layer configs written in Keras 3's serialization format: the inverse of `layers` and
`objects`.

Each built-in object becomes `{"module", "class_name", "config", "registered_name"}` as Keras
writes it: a layer (`keras.layers`), an initializer, regularizer or constraint
(`keras.initializers`, ...), a dtype policy (`keras`, `DTypePolicy`). Only the layers both
libraries have are written (`layers._LAYER_CLASSES`, the classes lamina's Keras import reads),
so every file written here is one lamina reads back. What Keras cannot express is refused
with a `SavingError` that names the layer, the feature and the alternative (a `.lamina`
file): a lamina-only option set to a value other than Keras's behaviour
(`train_when_frozen=True`), a per-variable `trainable` flag Keras has no place for, a
custom, subclassed or `Lambda` layer.
"""
import lamina.layers
from lamina.errors import SavingError
from lamina.saving.keras.layers import _LAYER_CLASSES

LAYERS_MODULE = "keras.layers"
_FAMILIES = {"initializer": "keras.initializers", "regularizer": "keras.regularizers",
             "constraint": "keras.constraints"}
# lamina options Keras has no argument for -> the value that behaves as Keras does
_LAMINA_ONLY = {"train_when_frozen": False}
# the variables Keras creates non-trainable (BatchNormalization's moving statistics,
# Normalization's adapted statistics); every other weight is created trainable
_NON_TRAINABLE_NAMES = frozenset({"moving_mean", "moving_variance", "mean", "variance",
                                  "count"})
# config keys Keras's constructor of a class does not take (these layers hold no weights, so
# their trainable flag changes nothing); these and InputLayer take the dtype as a string
_NOT_KERAS_KEYS = {"SpatialDropout1D": ("trainable", "data_format"),
                   "SpatialDropout2D": ("trainable",), "SpatialDropout3D": ("trainable",),
                   "Discretization": ("trainable",)}
# lamina-only config keys Keras has no use for (it knows an adapted Normalization by the
# statistics it loads)
_DROPPED_KEYS = {"Normalization": ("adapted",)}
_ALTERNATIVE = "Save it as a '.lamina' file, which keeps it, or change the model."


def refuse(what, feature, detail=""):
    raise SavingError(f"Cannot write {what} to a Keras '.keras' file: {feature}, which "
                      f"Keras 3 cannot express.{(' ' + detail) if detail else ''} "
                      f"{_ALTERNATIVE}")


def keras_object(module, class_name, config):
    return {"module": module, "class_name": class_name, "config": config,
            "registered_name": None}


def dtype_policy(name):
    return keras_object("keras", "DTypePolicy", {"name": name})


def _camel(snake):
    """lamina's registered name of a built-in object -> Keras's class name
    ("glorot_uniform" -> "GlorotUniform", "l1_l2" -> "L1L2")."""
    return "".join(part[:1].upper() + part[1:] for part in snake.split("_"))


def _family(key):
    for suffix, module in _FAMILIES.items():
        if key.endswith("_" + suffix):
            return module
    return None


def _convert_object(what, key, value, module):
    """One initializer, regularizer or constraint of a lamina config, as Keras writes it."""
    if value is None:
        return None
    if isinstance(value, str):
        return keras_object(module, _camel(value), {})
    if isinstance(value, dict) and set(value) == {"class_name", "config"}:
        class_name = value["class_name"]
        if not class_name[:1].isupper():
            class_name = _camel(class_name)
        return keras_object(module, class_name, dict(value["config"]))
    refuse(what, f"its '{key}' is {value!r}, not a built-in Keras object")


def layer_class_name(layer):
    """The Keras class name of `layer`, or a `SavingError` for a class Keras lacks."""
    name = type(layer).__name__
    what = f"layer '{layer.name}' ({name})"
    if name == "Lambda":
        refuse(what, "a Lambda layer runs a function lamina saves by its registered name",
               "Keras would need the function's code.")
    if name == "Pipeline":
        raise SavingError(
            f"Cannot write {what} to a Keras '.keras' file: lamina does not write Keras's "
            "nested Pipeline layout yet. Put the pipeline's layers in the model directly, or "
            "save it as a '.lamina' file.")
    if getattr(layer, "runs_on_host", False) and getattr(lamina.layers, name, None) is type(layer):
        raise SavingError(
            f"Cannot write {what} to a Keras '.keras' file: lamina does not write Keras's "
            "layout for its host preprocessing layers yet (vocabulary assets, idf weights). "
            "Save the model as a '.lamina' file, which keeps the vocabulary as data.")
    if name not in _LAYER_CLASSES or getattr(lamina.layers, name, None) is not type(layer):
        refuse(what, f"{name} is a custom or subclassed class, not one of the built-in "
               "layers lamina and Keras share", f"Those are: {', '.join(_LAYER_CLASSES)}.")
    return name


def is_default_trainable(variable):
    """Whether Keras creates this variable trainable (all but the statistics)."""
    return variable.name.rsplit("/", 1)[-1] not in _NON_TRAINABLE_NAMES


def check_variable_flags(layer):
    if getattr(layer, "lora_enabled", False):
        refuse(f"layer '{layer.name}'", "it has LoRA enabled (Keras stores LoRA layers with "
               "their adapters merged and no adapter weights)",
               "Call `model.merge_lora()` first, or save the adapters alone with "
               "`save_lora_weights`.")
    for variable in layer.weights:
        if variable.trainable != is_default_trainable(variable):
            refuse(f"layer '{layer.name}'", f"its variable '{variable.path}' has its own "
                   f"trainable flag set to {variable.trainable}",
                   "Keras keeps trainable flags per layer only; set the layer's flag "
                   "instead.")


def layer_entry(layer, build_shape=None):
    """`{"module", "class_name", "config", "registered_name", "build_config"}` of a layer."""
    class_name = layer_class_name(layer)
    what = f"layer '{layer.name}' ({class_name})"
    check_variable_flags(layer)
    config = {}
    for key, value in layer.get_config().items():
        if key in _NOT_KERAS_KEYS.get(class_name, ()) or key in _DROPPED_KEYS.get(class_name, ()):
            continue
        if key == "dtype" and (class_name in _NOT_KERAS_KEYS or class_name == "InputLayer"):
            config[key] = value
            continue
        if key in _LAMINA_ONLY:
            if value != _LAMINA_ONLY[key]:
                refuse(what, f"it sets the lamina-only option {key}={value!r}")
            continue
        config[key] = convert_value(what, key, value)
    entry = keras_object(LAYERS_MODULE, class_name, config)
    if class_name == "InputLayer":
        config.update({"sparse": False, "ragged": False, "optional": False})
    elif build_shape is not None:
        entry["build_config"] = build_shape
    return entry


def convert_value(what, key, value):
    if key == "dtype" and isinstance(value, str):
        return dtype_policy(value)
    module = _family(key)
    if module is not None:
        return _convert_object(what, key, value, module)
    if key in ("layer", "backward_layer") and isinstance(value, dict):
        if value.get("class_name") not in _LAYER_CLASSES:
            refuse(what, f"it wraps a {value.get('class_name')!r}")
        return nested_entry(what, value)
    if key in ("activation", "recurrent_activation") and not isinstance(value, (str,
                                                                              type(None))):
        refuse(what, f"its {key} is {value!r}, not a built-in activation")
    if isinstance(value, tuple):
        return list(value)
    return value


def nested_entry(what, value):
    """A wrapped layer's lamina config (Bidirectional, TimeDistributed) as a Keras entry."""
    class_name = value["class_name"]
    what = f"{what}, wrapped {class_name}"
    config = {}
    for key, item in value["config"].items():
        if key in _LAMINA_ONLY:
            if item != _LAMINA_ONLY[key]:
                refuse(what, f"it sets the lamina-only option {key}={item!r}")
            continue
        config[key] = convert_value(what, key, item)
    return keras_object(LAYERS_MODULE, class_name, config)
