"""`ModelCheckpoint`: save the model, or its best version, as training goes.

Writes are atomic (a temporary file beside the target, fsynced, then renamed), so an
interruption at any moment leaves the previous file intact.
"""
import os
import sys
import warnings

import numpy as np

from lamina.callbacks.base import Callback, check_save_freq
from lamina.callbacks.monitor import resolve_mode
from lamina.core.files import make_directory
from lamina.errors import ConfigurationError


class ModelCheckpoint(Callback):
    """Save the model (or only its weights) during training, Keras's way.

    Args:
        filepath: where to save; may contain `{epoch:02d}`, `{batch}` and log keys
            (`"ckpt-{epoch:02d}-{val_loss:.3f}.lamina"`). Missing directories are created.
        monitor: the log compared for `save_best_only`.
        verbose: 1 prints a line when a file is saved or an improvement is skipped.
        save_best_only: save only when `monitor` improved on the best value so far.
        save_weights_only: `model.save_weights` (read with `load_weights`) instead of
            `model.save` (read with `lamina.models.load_model`).

    The file name picks the format, as for `model.save` / `save_weights`: `.keras` a Keras 3
    model file, `.h5` Keras's legacy HDF5 model file, `.weights.h5` (weights only) Keras 3's
    weights file, any other name lamina's own (`.lamina` by convention). As in Keras 3,
    `.keras` and `.h5` names other than `.weights.h5` are refused for weights only, and
    `.weights.h5` for whole models, here, before training starts.
        mode: "min", "max" or "auto" (max for accuracies, min otherwise).
        save_freq: "epoch", or an integer N to save every N batches (with the running logs
            of the epoch so far).
        initial_value_threshold: the best value to beat at first.
    """

    def __init__(self, filepath, monitor="val_loss", verbose=0, save_best_only=False,
                 save_weights_only=False, mode="auto", save_freq="epoch",
                 initial_value_threshold=None):
        super().__init__()
        self.filepath = os.fspath(filepath)
        _check_name(self.filepath, bool(save_weights_only))
        self.monitor = monitor
        self.verbose = verbose
        self.save_best_only = bool(save_best_only)
        self.save_weights_only = bool(save_weights_only)
        self.save_freq = check_save_freq("ModelCheckpoint", save_freq)
        self.mode = resolve_mode("ModelCheckpoint", mode, monitor)
        self._improved = np.less if self.mode == "min" else np.greater
        self.best = (float(initial_value_threshold) if initial_value_threshold is not None
                     else np.inf if self.mode == "min" else -np.inf)
        self._epoch = 0
        self._batches_since_save = 0
        self._last_batch_seen = -1

    # -- state kept across a BackupAndRestore resume ----------------------------------
    def get_checkpoint_state(self):
        return {"best": float(self.best), "batches_since_save": self._batches_since_save,
                "last_batch_seen": self._last_batch_seen}

    def set_checkpoint_state(self, state):
        self.best = float(state["best"])
        self._batches_since_save = int(state["batches_since_save"])
        self._last_batch_seen = int(state["last_batch_seen"])

    # -- hooks --------------------------------------------------------------------------
    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.save_freq == "epoch":
            return
        # batches seen since the last save, across epochs (a new epoch restarts at 0)
        self._batches_since_save += (batch + 1 if batch <= self._last_batch_seen
                                     else batch - self._last_batch_seen)
        self._last_batch_seen = batch
        if self._batches_since_save >= self.save_freq:
            self._batches_since_save = 0
            self._save(self._epoch, batch, logs)

    def on_epoch_end(self, epoch, logs=None):
        if self.save_freq == "epoch":
            self._save(epoch, None, logs)

    # -- saving ---------------------------------------------------------------------------
    def _file_path(self, epoch, batch, logs):
        fields = {**logs, "epoch": epoch + 1}
        if batch is not None and "batch" not in logs:
            fields["batch"] = batch + 1
        try:
            return self.filepath.format(**fields)
        except (KeyError, IndexError, ValueError) as err:
            raise ConfigurationError(
                f"ModelCheckpoint: cannot format the filepath {self.filepath!r} with epoch, "
                f"batch and the logs {sorted(logs)}: {type(err).__name__}: {err}.") from err

    def _save(self, epoch, batch, logs):
        logs = {k: float(v) for k, v in (logs or {}).items()}
        path = self._file_path(epoch, batch, logs)
        if self.save_best_only:
            current = logs.get(self.monitor)
            if current is None:
                warnings.warn(f"ModelCheckpoint: can save the best model only with "
                              f"'{self.monitor}' in the logs (available: {sorted(logs)}); "
                              "skipping.", RuntimeWarning, stacklevel=2)
                return
            if not self._improved(current, self.best):
                self._say(f"Epoch {epoch + 1}: {self.monitor} did not improve from "
                          f"{self.best:.5f}")
                return
            self._say(f"Epoch {epoch + 1}: {self.monitor} improved from {self.best:.5f} to "
                      f"{current:.5f}, saving the model to {path}")
            self.best = current
        else:
            self._say(f"Epoch {epoch + 1}: saving the model to {path}")
        directory = os.path.dirname(os.path.abspath(path))
        make_directory(directory, f"ModelCheckpoint('{self.filepath}')")
        if self.save_weights_only:
            self.model.save_weights(path)
        else:
            self.model.save(path)

    def _say(self, text):
        if self.verbose:
            sys.stdout.write(text + "\n")
            sys.stdout.flush()


def _check_name(filepath, weights_only):
    name = filepath.lower()
    if weights_only and name.endswith(".keras"):
        expected = "a '.weights.h5' name (Keras 3's weights file) or a lamina weights name"
    elif weights_only and name.endswith((".h5", ".hdf5")) and not name.endswith(".weights.h5"):
        expected = "a '.weights.h5' name: Keras 3 names its weights files so"
    elif not weights_only and name.endswith(".weights.h5"):
        expected = ("a model file name: '.keras' (Keras 3), '.h5' (Keras's legacy HDF5) or "
                    "'.lamina'; '.weights.h5' is for save_weights_only=True")
    else:
        return
    raise ConfigurationError(
        f"ModelCheckpoint: save_weights_only={weights_only} with the filepath {filepath!r}; "
        f"expected {expected}.")
