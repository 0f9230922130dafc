"""EarlyStopping: stop training when a monitored log stops improving."""
import sys

import numpy as np

from lamina.callbacks.base import Callback
from lamina.callbacks.monitor import Monitor


class EarlyStopping(Callback):
    """Stop `fit` after `patience` epochs without improvement of `monitor`.

    Args:
        monitor: the log to watch ("val_loss" by default).
        min_delta: an improvement must exceed this (absolute) amount.
        patience: epochs without improvement before stopping.
        verbose: 1 prints a line when training stops and when weights are restored.
        mode: "min", "max" or "auto" (max for accuracies and AUC, min otherwise).
        baseline: training stops if `monitor` does not beat this value within `patience`
            epochs.
        restore_best_weights: when training ends, for whatever reason (this callback,
            another one setting `model.stop_training`, or the last epoch), the weights of the
            best epoch are put back.
        start_from_epoch: epochs to wait before counting (warm-up); they are never "best".

    Its state (`wait`, `best`, `best_epoch`, `stopped_epoch` and the best weights) is part
    of a `BackupAndRestore` backup, so a resumed run stops at the same epoch and restores
    the same weights.
    """

    def __init__(self, monitor="val_loss", min_delta=0.0, patience=0, verbose=0, mode="auto",
                 baseline=None, restore_best_weights=False, start_from_epoch=0):
        super().__init__()
        self._monitor = Monitor("EarlyStopping", monitor, mode, min_delta, baseline)
        self.monitor = monitor
        self.patience = int(patience)
        self.verbose = verbose
        self.restore_best_weights = bool(restore_best_weights)
        self.start_from_epoch = int(start_from_epoch)

    @property
    def best(self):
        return self._monitor.best

    def on_train_begin(self, logs=None):
        self._monitor.reset()
        self.wait = 0
        self.stopped_epoch = 0
        self.best_epoch = None
        self.best_weights = None

    # -- state kept across a BackupAndRestore resume ----------------------------------
    def get_checkpoint_state(self):
        return {"wait": self.wait, "best": float(self.best), "best_epoch": self.best_epoch,
                "stopped_epoch": self.stopped_epoch}

    def set_checkpoint_state(self, state):
        self.wait, self.stopped_epoch = int(state["wait"]), int(state["stopped_epoch"])
        self._monitor.best = float(state["best"])
        self.best_epoch = None if state["best_epoch"] is None else int(state["best_epoch"])

    def get_checkpoint_arrays(self):
        return {str(i): w for i, w in enumerate(self.best_weights or [])}

    def set_checkpoint_arrays(self, arrays):
        self.best_weights = ([np.asarray(arrays[str(i)]) for i in range(len(arrays))]
                             if arrays else None)

    # -- hooks --------------------------------------------------------------------------
    def on_epoch_end(self, epoch, logs=None):
        if epoch < self.start_from_epoch:
            return
        value = self._monitor.value(logs)
        if value is None:
            return
        self.wait += 1
        if self._monitor.improved(value):
            self._monitor.best = value
            self.best_epoch = epoch
            self.wait = 0
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_epoch and self.verbose:
            sys.stdout.write(f"Epoch {self.stopped_epoch + 1}: early stopping\n")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose:
                sys.stdout.write(f"Restoring model weights from the end of the best epoch: "
                                 f"{self.best_epoch + 1}.\n")
            self.model.set_weights(self.best_weights)
