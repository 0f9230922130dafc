"""`ProgbarLogger`: the progress output of fit / evaluate / predict, as a callback (Keras 3).

fit, evaluate and predict add one when `verbose != 0` and their callbacks hold none; a
ProgbarLogger passed in `callbacks` is used instead, so there is never a second bar. As in
Keras 3 it takes its `verbose`, `epochs` and `steps` from `params`: `verbose=0` silences a
ProgbarLogger passed by the user too.

Inside fit, validation draws nothing: its logs (`val_loss`, ...) end the epoch's bar or
line, after the training steps. With `steps_per_execution > 1` the bar moves once per
compiled call: the loop hands this callback the call's last logs as device values, read
only when the bar is redrawn (`lamina.callbacks.progress.Progress`).
"""
from lamina.callbacks.base import Callback
from lamina.callbacks.progress import Progress, resolve_verbose


class ProgbarLogger(Callback):
    """Prints progress to stdout: a rich bar on a terminal (ETA, ms/step, running metrics),
    one line per epoch otherwise (`verbose=2`, or output to a file or CI log)."""

    def __init__(self):
        super().__init__()
        self.verbose = 1
        self.epochs = 1
        self.target = None
        self.progress = None
        self._called_in_fit = False

    def set_params(self, params):
        super().set_params(params)
        self.verbose = resolve_verbose(params["verbose"])
        self.epochs = params["epochs"]
        self.target = params["steps"]

    # -- fit -------------------------------------------------------------------------
    def on_train_begin(self, logs=None):
        self._called_in_fit = True  # validation inside fit is silent

    def on_train_end(self, logs=None):
        # a bar left open: a generator ran out before the epoch's first batch.
        # (Keras 3 leaves `_called_in_fit` set, which silences a later evaluate given this
        # callback)
        self.abort()

    def on_epoch_begin(self, epoch, logs=None):
        self._begin(f"Epoch {epoch + 1}/{self.epochs}")

    def on_train_batch_end(self, batch, logs=None):
        self._update(batch, logs)

    def on_epoch_end(self, epoch, logs=None):
        self._finish(logs)

    # -- evaluate --------------------------------------------------------------------
    def on_test_begin(self, logs=None):
        if not self._called_in_fit:
            self._begin("Evaluate")

    def on_test_batch_end(self, batch, logs=None):
        if not self._called_in_fit:
            self._update(batch, logs)

    def on_test_end(self, logs=None):
        if not self._called_in_fit:
            self._finish(logs)

    # -- predict ---------------------------------------------------------------------
    def on_predict_begin(self, logs=None):
        self._begin("Predict")

    def on_predict_batch_end(self, batch, logs=None):
        self._update(batch, {})  # the logs hold the batch's outputs, not metrics

    def on_predict_end(self, logs=None):
        self._finish({})

    def abort(self):
        """Stop a bar left drawing by an exception, without a final line (the loops call
        this when fit, evaluate or predict raise)."""
        if self.progress is not None:
            self.progress.close()
            self.progress = None
        self._called_in_fit = False

    # -- drawing ---------------------------------------------------------------------
    def _begin(self, label):
        self.progress = Progress(self.verbose, self.target, label) if self.verbose else None

    def _update(self, batch, logs):
        """`logs` empty: a batch inside a compiled call of several steps; the call's last
        batch brings the logs."""
        if self.progress is not None and logs:
            self.progress.update(batch + 1, logs)

    def _finish(self, logs):
        if self.progress is not None:
            self.progress.finish(logs or {})
            self.progress = None
