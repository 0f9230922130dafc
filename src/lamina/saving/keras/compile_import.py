"""The `compile_config` of a Keras 3 `.keras` file, applied to the imported lamina model.

Keras's `load_model` returns a compiled model when the file holds a compile config, and so
does lamina's: the optimizer (the Keras optimizers lamina has, with their options by name;
a Keras option lamina lacks is accepted only with its inert default), the loss, metrics and
loss weights (strings as they are; built-in loss and metric objects by class name, from a
fixed table). Anything else is refused with a `SavingError` naming the file and the setting
(import with `compile=False`-like care: rebuild it and compile by hand). The optimizer's
state (moments) is not imported: training resumes from a fresh optimizer state.
"""
import inspect
import json
import os
import zipfile

from lamina import losses, metrics, optimizers
from lamina.errors import LaminaError, SavingError
from lamina.saving.keras.exporter import OPTIMIZERS
from lamina.saving.keras.files import CONFIG, MAX_CONFIG_BYTES, _read_member

# Keras optimizer options lamina has no argument for -> the value that does nothing
_INERT = {"use_ema": False, "ema_overwrite_frequency": None, "loss_scale_factor": None,
          "gradient_accumulation_steps": None}
_IGNORED = ("name", "ema_momentum")  # meaningless without the options above
_PLAIN_LOSS_OPTIONS = {"reduction": "sum_over_batch_size", "dtype": None}


def compile_config_of(path):
    """The `compile_config` entry of the `.keras` file at `path` (None when absent)."""
    path = os.fspath(path)
    try:
        with zipfile.ZipFile(path) as zf:
            data = _read_member(path, zf, zf.getinfo(CONFIG), MAX_CONFIG_BYTES,
                                os.path.getsize(path))
        config = json.loads(data)
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as err:
        raise SavingError(f"'{path}': member '{CONFIG}' cannot be read again for its "
                          f"compile config ({err}).") from err
    return config.get("compile_config") if isinstance(config, dict) else None


def compile_imported(model, path):
    """Compile `model` as the Keras file at `path` says; returns the model."""
    config = compile_config_of(path)
    if not config or (isinstance(config, dict) and config.get("optimizer") is None):
        return model  # Keras writes `{}` for a model that was never compiled
    where = f"'{path}': member '{CONFIG}': compile_config"
    if not isinstance(config, dict):
        raise SavingError(f"{where}: expected a JSON object, received {config!r}.")
    try:
        model.compile(optimizer=_optimizer(config.get("optimizer"), where),
                      loss=_objects(config.get("loss"), losses, "loss", where),
                      metrics=_objects(config.get("metrics"), metrics, "metric", where),
                      loss_weights=config.get("loss_weights"))
    except SavingError:
        raise
    except (LaminaError, TypeError, ValueError) as err:
        raise SavingError(f"{where}: lamina cannot compile with these settings: {err}") from err
    return model


def _accepted(cls):
    names = set()
    for klass in cls.__mro__:
        if "__init__" in vars(klass):
            names |= set(inspect.signature(klass.__init__).parameters) - {"self", "kwargs"}
    return names


def _optimizer(entry, where):
    if isinstance(entry, str):
        return entry
    if (not isinstance(entry, dict) or entry.get("class_name") not in OPTIMIZERS
            or entry.get("module") not in ("keras.optimizers", "keras")
            or not isinstance(entry.get("config"), dict)):
        raise SavingError(f"{where}: the optimizer {str(entry)[:200]} is not one lamina "
                          f"imports (built-in Keras {', '.join(OPTIMIZERS)}).")
    cls = getattr(optimizers, entry["class_name"])
    accepted, kwargs = _accepted(cls), {}
    for key, value in entry["config"].items():
        if key in accepted:
            kwargs[key] = value
        elif key in _INERT and value != _INERT[key]:
            raise SavingError(f"{where}: optimizer option {key}={value!r}, which lamina's "
                              f"{cls.__name__} does not have (only {_INERT[key]!r} imports).")
        elif key not in _INERT and key not in _IGNORED:
            raise SavingError(f"{where}: optimizer option {key!r} is not one lamina's "
                              f"{cls.__name__} has.")
    if isinstance(kwargs.get("learning_rate"), dict):
        raise SavingError(f"{where}: the learning-rate schedule is not imported; compile "
                          "the model again with a lamina schedule.")
    return cls(**kwargs)


def _objects(value, module, family, where):
    """A loss or metrics argument: strings as they are, built-in objects by class name."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, list):
        return [_objects(v, module, family, where) for v in value]
    if isinstance(value, dict) and "class_name" not in value:
        return {k: _objects(v, module, family, where) for k, v in value.items()}
    cls = getattr(module, str(value.get("class_name")), None) if isinstance(value, dict) else None
    if cls is None or cls not in module.CLASSES or not isinstance(value.get("config"), dict):
        raise SavingError(f"{where}: the {family} {str(value)[:200]} is not a built-in "
                          f"{family} lamina has.")
    config = dict(value["config"])
    config.pop("name", None)
    for key, plain in _PLAIN_LOSS_OPTIONS.items():
        if config.pop(key, plain) != plain:
            raise SavingError(f"{where}: {family} {cls.__name__} has {key}="
                              f"{value['config'][key]!r}; lamina imports only {plain!r}.")
    return cls(**config)
