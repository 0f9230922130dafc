"""The registry: the only way a class name found in a config becomes a class.

Nothing is imported from a name read from a config; built-in layers and models register
themselves, user classes register with `@lamina.saving.register_serializable()`.
"""
from lamina.errors import ConfigurationError

_CLASSES = {}


def register_serializable(name=None):
    """Decorator: make a class constructible from its `get_config()` by name (or, applied
    to a function, make the function savable by name)."""

    def decorate(cls):
        if not isinstance(cls, type):
            return register_function(cls, name)
        key = name or cls.__name__
        existing = _CLASSES.get(key)
        if existing is not None and existing is not cls:
            raise ConfigurationError(
                f"register_serializable: the name {key!r} is already taken by "
                f"{existing.__module__}.{existing.__qualname__}; pass name=... to register "
                f"{cls.__module__}.{cls.__qualname__} under another name."
            )
        _CLASSES[key] = cls
        return cls

    return decorate


_FUNCTIONS = {}


def register_function(fn, name=None):
    """Make a function (a loss, a metric, a Lambda's body) savable by name."""
    key = name or fn.__name__
    existing = _FUNCTIONS.get(key)
    if existing is not None and existing is not fn:
        raise ConfigurationError(f"register_function: the name {key!r} is already taken.")
    _FUNCTIONS[key] = fn
    return fn


def get_function(name):
    fn = _FUNCTIONS.get(name)
    if fn is None:
        raise ConfigurationError(
            f"Unknown function {name!r} in a config. Registered functions: "
            f"{', '.join(sorted(_FUNCTIONS)) or 'none'}. Register it with "
            "lamina.saving.register_function(fn)."
        )
    return fn


def function_name(fn):
    for name, candidate in _FUNCTIONS.items():
        if candidate is fn:
            return name
    return None


def get_class(name):
    cls = _CLASSES.get(name)
    if cls is None:
        raise ConfigurationError(
            f"Unknown class {name!r} in a config. Registered classes: "
            f"{', '.join(sorted(_CLASSES))}. "
            "Register your own with @lamina.saving.register_serializable()."
        )
    return cls


def serialize(obj):
    """`{"class_name": ..., "config": ...}` for a registered object."""
    name = type(obj).__name__
    if _CLASSES.get(name) is not type(obj):
        registered = [k for k, v in _CLASSES.items() if v is type(obj)]
        if not registered:
            raise ConfigurationError(
                f"Cannot serialize {type(obj).__qualname__}: the class is not registered. "
                "Decorate it with @lamina.saving.register_serializable()."
            )
        name = registered[0]
    return {"class_name": name, "config": obj.get_config()}


def deserialize(config):
    """The object described by `{"class_name": ..., "config": ...}`."""
    return get_class(config["class_name"]).from_config(config["config"])
