"""Callbacks: hooks the fit / evaluate / predict loops call, with Keras's names."""


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

    The bound hooks are looked up once per hook name, so a per-batch hook that no callback
    overrides costs one empty loop per batch.
    """

    def __init__(self, callbacks, model, params):
        self.callbacks = list(callbacks or [])
        for callback in self.callbacks:
            callback.set_model(model)
            callback.set_params(params)

    def __getattr__(self, hook):
        if not hook.startswith("on_") or not hasattr(Callback, hook):
            raise AttributeError(hook)
        base = getattr(Callback, hook)
        bound = [fn for fn in (getattr(c, hook) for c in self.callbacks)
                 if getattr(fn, "__func__", None) is not base]

        def call(*args, **kwargs):
            for fn in bound:
                fn(*args, **kwargs)

        setattr(self, hook, call)  # later lookups find the attribute directly
        return call


class History(Callback):
    """Records the epoch logs; `fit` returns it. `history.history["loss"]` is a list."""

    def __init__(self):
        super().__init__()
        self.history = {}
        self.epoch = []

    def on_train_begin(self, logs=None):
        self.history, self.epoch = {}, []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for name, value in (logs or {}).items():
            self.history.setdefault(name, []).append(value)


from lamina.checkpointing import BackupAndRestore as BackupAndRestore  # noqa: E402
from lamina.checkpointing import ModelCheckpoint as ModelCheckpoint  # noqa: E402
