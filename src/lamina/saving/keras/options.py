"""`_Options`: one config object of a Keras file, consumed key by key with typed reads; the
keys left over are checked, so nothing is silently dropped. Plus the small value checks the
Keras import shares (`_is_int`, `_is_number`) and `_short`, a value's repr cut for messages.

`importer` arguments are the `keras_import._Importer` reading the file: its
`fail(where, message)` raises a `SavingError`.
"""
import math

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
