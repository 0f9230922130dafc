"""Name registries for configurable objects (initializers, regularizers, constraints).

Each family resolves user input once: a registered name (snake_case, as Keras's strings), a
`{"class_name": ..., "config": {...}}` dict written by `serialize`, an instance, or a plain
callable. Unknown names fail with the list of valid ones.
"""
from typing import Any

from lamina.errors import ConfigurationError


class NamedRegistry:
    def __init__(self, kind, classes, allow_none=False):
        self.kind = kind
        self.classes = dict(classes)
        self.allow_none = allow_none

    def _class(self, name):
        cls = self.classes.get(name)
        if cls is None:
            raise ConfigurationError(
                f"Unknown {self.kind} {name!r}. Valid names: {', '.join(sorted(self.classes))}."
            )
        return cls

    def get(self, identifier: Any) -> Any:
        if identifier is None and self.allow_none:
            return None
        if isinstance(identifier, dict) and set(identifier) == {"class_name", "config"}:
            return self._class(identifier["class_name"])(**identifier["config"])
        if isinstance(identifier, str):
            return self._class(identifier)()
        if callable(identifier):
            return identifier
        raise ConfigurationError(
            f"Expected a {self.kind} name, instance or callable"
            f"{' (or None)' if self.allow_none else ''}, received {identifier!r} "
            f"(of type {type(identifier).__name__})."
        )

    def serialize(self, obj):
        """A name (no arguments) or `{"class_name", "config"}` for a registered class."""
        if obj is None:
            return None
        for name, cls in self.classes.items():
            if type(obj) is cls:
                config = obj.get_config()
                return {"class_name": name, "config": config} if config else name
        return getattr(obj, "__name__", type(obj).__name__)
