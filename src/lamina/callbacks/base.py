"""The callback contract: `Callback` (Keras's hook names) and `CallbackList` (calls them)."""
import warnings

import numpy as np

from lamina.errors import ArgumentTypeError, ConfigurationError, UnknownAttributeError


class Callback:
    """Base class. Override any `on_*` hook; `self.model` and `self.params` are set by fit."""

    def __init__(self):
        self.model = None
        self.params = {}

    def set_model(self, model):
        self.model = model

    def set_params(self, params):
        self.params = params

    def on_train_begin(self, logs=None): ...
    def on_train_end(self, logs=None): ...
    def on_epoch_begin(self, epoch, logs=None): ...
    def on_epoch_end(self, epoch, logs=None): ...
    def on_train_batch_begin(self, batch, logs=None): ...
    def on_train_batch_end(self, batch, logs=None): ...
    def on_test_begin(self, logs=None): ...
    def on_test_end(self, logs=None): ...
    def on_test_batch_begin(self, batch, logs=None): ...
    def on_test_batch_end(self, batch, logs=None): ...
    def on_predict_begin(self, logs=None): ...
    def on_predict_end(self, logs=None): ...
    def on_predict_batch_begin(self, batch, logs=None): ...
    def on_predict_batch_end(self, batch, logs=None): ...


class CallbackList:
    """Calls a hook on every callback that overrides it, in order.

    Every hook receives a dict as `logs`, as Keras passes one: `{}` where the loop has no
    logs (a begin hook), never None. The bound hooks are looked up once per hook name, so a
    per-batch hook that no callback overrides costs one empty loop per batch.
    """

    def __init__(self, callbacks, model, params):
        self.callbacks = list(callbacks or [])
        for callback in self.callbacks:
            if not isinstance(callback, Callback):
                raise ArgumentTypeError(
                    f"callbacks: expected lamina.callbacks.Callback instances, received "
                    f"{callback!r} (of type {type(callback).__name__}).")
            _warn_unknown_hooks(callback)
            callback.set_model(model)
            callback.set_params(params)

    def __getattr__(self, hook):
        if not hook.startswith("on_") or not hasattr(Callback, hook):
            raise UnknownAttributeError(hook)
        base = getattr(Callback, hook)
        bound = [fn for fn in (getattr(c, hook) for c in self.callbacks)
                 if getattr(fn, "__func__", None) is not base]

        indexed = hook not in _UNINDEXED  # (batch or epoch, logs) rather than (logs)

        def call(*args, logs=None):
            if len(args) > indexed:
                *args, logs = args
            logs = {} if logs is None else logs
            for fn in bound:
                fn(*args, logs)

        setattr(self, hook, call)  # later lookups find the attribute directly
        return call


_HOOKS = frozenset(name for name in vars(Callback) if name.startswith("on_"))
_UNINDEXED = frozenset(name for name in _HOOKS if name.endswith(("_begin", "_end"))
                       and "batch" not in name and "epoch" not in name)
_WARNED = set()


def _warn_unknown_hooks(callback):
    """Warn once per class about `on_*` methods that no loop calls (a misspelled hook)."""
    cls = type(callback)
    if cls in _WARNED:
        return
    _WARNED.add(cls)
    unknown = sorted(name for klass in cls.__mro__ if klass is not Callback
                     for name in vars(klass)
                     if name.startswith("on_") and name not in _HOOKS
                     and callable(getattr(callback, name)))
    if unknown:
        warnings.warn(
            f"Callback {cls.__name__} defines {', '.join(unknown)}, which no training loop "
            f"calls (a misspelled hook?). Known hooks: {', '.join(sorted(_HOOKS))}.",
            UserWarning, stacklevel=4)


def check_save_freq(owner, save_freq):
    """`save_freq` of the checkpointing callbacks: "epoch" or a positive number of batches."""
    if save_freq == "epoch" or (isinstance(save_freq, (int, np.integer))
                                and not isinstance(save_freq, bool) and save_freq > 0):
        return save_freq if save_freq == "epoch" else int(save_freq)
    raise ConfigurationError(f"{owner}: expected save_freq='epoch' or a positive number of "
                             f"batches, received {save_freq!r}.")
