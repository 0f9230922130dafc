"""Callbacks that record or react to logs: CSVLogger, TerminateOnNaN, LambdaCallback."""
import csv
import io
import math
import os
import sys

import numpy as np

from lamina.callbacks.base import Callback
from lamina.errors import ConfigurationError


class CSVLogger(Callback):
    """Write one CSV row per epoch (`epoch` then the logs, sorted) to `filename`.

    With `append=True` rows are added to an existing file (a resumed run continues the same
    file; the header is written only when the file is new or empty). The file is open only
    while a row is written, so an interrupted run keeps every finished epoch. Under
    `BackupAndRestore` the file's length at the backup is part of the backup: the resumed
    run cuts off the rows written after it, so the file ends as an uninterrupted run's.
    """

    def __init__(self, filename, separator=",", append=False):
        super().__init__()
        self.filename = os.fspath(filename)
        self.separator = separator
        self.append = bool(append)
        self.keys = None
        self._written = False  # whether this fit wrote to the file yet
        self._resume_at = None  # the file's length at a restored backup
        self._length = 0

    def on_train_begin(self, logs=None):
        exists = self.append and os.path.isfile(self.filename) and os.path.getsize(
            self.filename) > 0
        self.keys = None
        if exists:
            with open(self.filename, newline="") as f:
                header = f.readline().strip()
            self.keys = header.split(self.separator)[1:] if header else None
        self._header_needed = not exists
        self._written, self._resume_at = False, None
        self._length = os.path.getsize(self.filename) if exists else 0

    # -- state kept across a BackupAndRestore resume ----------------------------------
    def get_checkpoint_state(self):
        return {"length": self._length, "keys": self.keys,
                "header_needed": self._header_needed}

    def set_checkpoint_state(self, state):
        self._resume_at = self._length = int(state["length"])
        self.keys = None if state["keys"] is None else [str(k) for k in state["keys"]]
        self._header_needed = bool(state["header_needed"])

    def _write(self, text):
        """Write `text` at the end of the file, opened only for the write: the first write of
        a fit truncates the file (unless `append`), or cuts it back to the length at the
        restored backup."""
        mode = "a" if self._written or self.append or self._resume_at is not None else "w"
        with open(self.filename, mode, newline="") as f:
            if self._resume_at is not None:
                f.truncate(min(self._resume_at, os.fstat(f.fileno()).st_size))
            f.write(text)
            f.flush()
            self._length = os.fstat(f.fileno()).st_size
        self._written, self._resume_at = True, None

    def on_epoch_end(self, epoch, logs=None):
        logs = dict(logs or {})
        if self.keys is None:
            self.keys = sorted(logs)
        row = [epoch] + [_format(logs.get(k, "NA")) for k in self.keys]
        out = io.StringIO()
        writer = csv.writer(out, delimiter=self.separator, lineterminator="\n")
        if self._header_needed:
            writer.writerow(["epoch"] + self.keys)
            self._header_needed = False
        writer.writerow(row)
        self._write(out.getvalue())

    def on_train_end(self, logs=None):
        if not self._written:  # (a fit with no epoch still creates or truncates the file)
            self._write("")


def _format(value):
    """A scalar as repr(float); a vector metric (F1Score per class) as its list."""
    if isinstance(value, str):
        return value
    if np.ndim(value) == 0:
        return repr(float(value))
    return repr([float(v) for v in np.ravel(value)])


class TerminateOnNaN(Callback):
    """Stop training as soon as a batch's loss is NaN or infinite."""

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            sys.stdout.write(f"Batch {batch}: invalid loss, terminating training\n")
            self.model.stop_training = True


class LambdaCallback(Callback):
    """A callback from plain functions: `on_epoch_end=lambda epoch, logs: ...`, etc.

    Any Keras hook name is accepted (on_train_begin, on_epoch_end, on_train_batch_end, ...);
    an unknown name is an error listing the valid ones.
    """

    def __init__(self, **hooks):
        super().__init__()
        valid = sorted(name for name in vars(Callback) if name.startswith("on_"))
        unknown = sorted(set(hooks) - set(valid))
        if unknown:
            raise ConfigurationError(f"LambdaCallback: unknown hooks {unknown}; valid: "
                                     f"{', '.join(valid)}.")
        for name, fn in hooks.items():
            setattr(self, name, _with_logs(fn, 1 if "epoch" in name or "batch" in name else 0))


def _with_logs(fn, positional):
    """`fn` called as Keras calls LambdaCallback functions: `(epoch_or_batch, logs)` or
    `(logs)`, with logs None when the loop passes none."""

    def hook(*args, logs=None):
        return fn(*args[:positional], args[positional] if len(args) > positional else logs)

    return hook
