"""Callbacks that change the optimizer's learning rate during `fit` (live, no recompile)."""
import sys

import numpy as np

from lamina.callbacks.base import Callback
from lamina.callbacks.monitor import Monitor
from lamina.errors import ConfigurationError


def _optimizer(callback):
    optimizer = getattr(callback.model, "optimizer", None)
    if optimizer is None or not hasattr(optimizer, "learning_rate"):
        raise ConfigurationError(
            f"{type(callback).__name__}: the model has no optimizer with a `learning_rate`; "
            "compile it with a lamina optimizer first.")
    return optimizer


class LearningRateScheduler(Callback):
    """Set the rate at the start of each epoch to `schedule(epoch, current_rate)`.

    A run resumed inside an epoch by `BackupAndRestore` restores the rate this callback set
    for that epoch and does not apply the schedule to it a second time.
    """

    def __init__(self, schedule, verbose=0):
        super().__init__()
        if not callable(schedule):
            raise ConfigurationError(f"LearningRateScheduler: expected a callable schedule "
                                     f"(epoch, lr) -> lr, received {schedule!r}.")
        self.schedule = schedule
        self.verbose = verbose
        self._applied_epoch = None  # the epoch whose rate was set last

    def get_checkpoint_state(self):
        return {"applied_epoch": self._applied_epoch}

    def set_checkpoint_state(self, state):
        self._applied_epoch = state["applied_epoch"]

    def on_train_begin(self, logs=None):
        self._applied_epoch = None

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self._applied_epoch:
            return  # resumed inside this epoch: its rate was restored
        self._applied_epoch = epoch
        optimizer = _optimizer(self)
        rate = self.schedule(epoch, float(optimizer.learning_rate))
        if not isinstance(rate, (float, int, np.floating, np.integer)) or not np.isfinite(rate):
            raise ConfigurationError(
                f"LearningRateScheduler: the schedule must return a finite number, returned "
                f"{rate!r} for epoch {epoch}.")
        optimizer.learning_rate = float(rate)
        if self.verbose:
            sys.stdout.write(f"Epoch {epoch + 1}: LearningRateScheduler setting learning rate "
                             f"to {float(rate)}.\n")

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = float(_optimizer(self).learning_rate)


class ReduceLROnPlateau(Callback):
    """Multiply the rate by `factor` after `patience` epochs without improvement of
    `monitor`, then wait `cooldown` epochs; never below `min_lr`. Its state (`wait`,
    `cooldown_counter`, `best`) is part of a `BackupAndRestore` backup."""

    def __init__(self, monitor="val_loss", factor=0.1, patience=10, verbose=0, mode="auto",
                 min_delta=1e-4, cooldown=0, min_lr=0.0):
        super().__init__()
        if not 0 < factor < 1:
            raise ConfigurationError(f"ReduceLROnPlateau: expected 0 < factor < 1, received "
                                     f"{factor!r}.")
        self._monitor = Monitor("ReduceLROnPlateau", monitor, mode, min_delta)
        self.monitor = monitor
        self.factor = float(factor)
        self.patience = int(patience)
        self.verbose = verbose
        self.cooldown = int(cooldown)
        self.min_lr = float(min_lr)

    def on_train_begin(self, logs=None):
        self._monitor.reset()
        self.wait = 0
        self.cooldown_counter = 0

    def get_checkpoint_state(self):
        return {"wait": self.wait, "cooldown_counter": self.cooldown_counter,
                "best": float(self._monitor.best)}

    def set_checkpoint_state(self, state):
        self.wait, self.cooldown_counter = int(state["wait"]), int(state["cooldown_counter"])
        self._monitor.best = float(state["best"])

    def on_epoch_end(self, epoch, logs=None):
        optimizer = _optimizer(self)
        if logs is not None:
            logs["learning_rate"] = float(optimizer.learning_rate)
        value = self._monitor.value(logs)
        if value is None:
            return
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        if self._monitor.improved(value):
            self._monitor.best = value
            self.wait = 0
        elif self.cooldown_counter <= 0:
            self.wait += 1
            if self.wait >= self.patience:
                old = float(optimizer.learning_rate)
                if old > self.min_lr:
                    new = max(old * self.factor, self.min_lr)
                    optimizer.learning_rate = new
                    if self.verbose:
                        sys.stdout.write(f"Epoch {epoch + 1}: ReduceLROnPlateau reducing "
                                         f"learning rate to {new}.\n")
                    self.cooldown_counter = self.cooldown
                    self.wait = 0
