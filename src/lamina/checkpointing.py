"""Checkpointing callbacks: `BackupAndRestore` (resume an interrupted fit exactly) and
`ModelCheckpoint` (save the model, or its best version, as training goes).

Both write atomically (a temporary file beside the target, fsynced, then renamed), so an
interruption at any moment leaves the previous file intact.
"""
import os
import sys
import warnings

import numpy as np

from lamina.callbacks.base import Callback
from lamina.callbacks.history import History
from lamina.callbacks.monitor import resolve_mode
from lamina.errors import ConfigurationError


def _check_save_freq(owner, save_freq):
    if save_freq == "epoch" or (isinstance(save_freq, (int, np.integer))
                                and not isinstance(save_freq, bool) and save_freq > 0):
        return save_freq if save_freq == "epoch" else int(save_freq)
    raise ConfigurationError(f"{owner}: expected save_freq='epoch' or a positive number of "
                             f"batches, received {save_freq!r}.")


class BackupAndRestore(Callback):
    """Back up training regularly; after an interruption, `fit` resumes where it stopped.

    At the start of `fit`, if `backup_dir` holds a backup, the model's weights (dropout
    seed states included), flags, scoped freezes, optimizer and metric state, learning
    rate, iteration count, `History`, the states of callbacks that keep one, and the
    position (epoch, batch and the shuffling order of that epoch) are restored, and
    training continues from there. On CPU the result is bit for bit the result of an
    uninterrupted run. When `fit` completes, the backup is deleted (`delete_checkpoint`).

    Run the same script again after a crash: same model, data, batch size and callbacks.

    Args:
        backup_dir: a directory used only for this backup.
        save_freq: "epoch" (back up after every epoch) or an integer N (back up every N
            training steps, counted by the model's iteration counter).
        double_checkpoint: keep the previous backup too, used if the newest is damaged.
        delete_checkpoint: delete the backup once training completes.
    """

    def __init__(self, backup_dir, save_freq="epoch", double_checkpoint=False,
                 delete_checkpoint=True):
        super().__init__()
        if not backup_dir:
            raise ConfigurationError("BackupAndRestore: expected a backup_dir, received "
                                     f"{backup_dir!r}.")
        self.backup_dir = os.fspath(backup_dir)
        self.save_freq = _check_save_freq("BackupAndRestore", save_freq)
        self.double_checkpoint = bool(double_checkpoint)
        self.delete_checkpoint = bool(delete_checkpoint)
        self._manager = None
        self._position = None

    @property
    def manager(self):
        from lamina.saving import checkpoint as checkpoint_lib

        if self._manager is None:
            self._manager = checkpoint_lib.CheckpointManager(
                self.backup_dir, max_to_keep=2 if self.double_checkpoint else 1)
        return self._manager

    def on_train_begin(self, logs=None):
        self._position = getattr(self.model._trainer, "fit_position", None)
        if self._position is None:
            raise RuntimeError("BackupAndRestore works inside model.fit(callbacks=[...]).")
        self._position.add_listener(self._at_safe_point)

    def on_train_end(self, logs=None):
        if self.delete_checkpoint:
            self.manager.delete_all()

    # -- at safe points: every callback has handled the same step ---------------------
    def _at_safe_point(self, event):
        position, trainer = self._position, self.model._trainer
        if event == "train_begin":
            self._restore()
        elif (event == "batch_end" and self.save_freq != "epoch"
              and trainer.iterations % self.save_freq == 0):
            self._save(position.epoch, position.batch, position.epoch_rng_state,
                       position.logs)
        elif event == "epoch_end" and self.save_freq == "epoch":
            # the next epoch starts from the generator as it is now
            self._save(position.epoch + 1, 0, position.rng.bit_generator.state, None)

    def _history(self):
        found = [c for c in self._position.callbacks if isinstance(c, History)]
        return found[-1] if found else None

    def _save(self, epoch, batch, epoch_rng_state, logs):
        from lamina.saving import checkpoint as checkpoint_lib

        training = checkpoint_lib.training_state(
            self.model, epoch=epoch, batch=batch, epoch_rng_state=epoch_rng_state, logs=logs,
            history=self._history(), callbacks=self._position.callbacks)
        training["fit"] = {"steps": self.params.get("steps"),
                           "batch_size": self.params.get("batch_size")}
        self.manager.save(self.model, training)

    def _restore(self):
        from lamina.saving import checkpoint as checkpoint_lib

        if not os.path.isdir(self.backup_dir):
            return
        found = self.manager.latest()
        if found is None:
            return
        path, training, members = found
        saved = training.get("fit") or {}
        now = {"steps": self.params.get("steps"), "batch_size": self.params.get("batch_size")}
        if training["batch"] and saved != now:
            raise ConfigurationError(
                f"BackupAndRestore: the backup '{path}' stopped inside an epoch of "
                f"{saved.get('steps')} batches of {saved.get('batch_size')} samples; this fit "
                f"has {now['steps']} batches of {now['batch_size']}. Resume with the same data "
                f"and batch size, or delete '{self.backup_dir}' to start over.")
        checkpoint_lib.apply_checkpoint(self.model, path, training, members)
        checkpoint_lib.restore_callback_states(self._position.callbacks,
                                               training.get("callbacks") or {})
        history, saved_history = self._history(), training.get("history")
        if history is not None and saved_history is not None:
            history.epoch = list(saved_history["epoch"])
            history.history = {k: list(v) for k, v in saved_history["history"].items()}
        self._position.resume(training["epoch"], training["batch"],
                              training["epoch_rng_state"], training.get("logs"))


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
        self.monitor = monitor
        self.verbose = verbose
        self.save_best_only = bool(save_best_only)
        self.save_weights_only = bool(save_weights_only)
        self.save_freq = _check_save_freq("ModelCheckpoint", save_freq)
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
        os.makedirs(directory, exist_ok=True)
        if self.save_weights_only:
            self.model.save_weights(path)
        else:
            self.model.save(path)

    def _say(self, text):
        if self.verbose:
            sys.stdout.write(text + "\n")
            sys.stdout.flush()
