"""Progress output: a rich progress bar on a terminal, tidy lines otherwise.

verbose: "auto" and 1 show a bar on a terminal and one line per epoch elsewhere (a log file,
CI), 2 prints one line per epoch, 0 prints nothing. Logs may be device values: they are read
(and so waited for) at most every `refresh_s` seconds, so progress output does not stall the
training loop. `lamina.callbacks.ProgbarLogger` drives this for fit / evaluate / predict.
"""
import sys
import time

import numpy as np

from lamina.errors import ConfigurationError


def resolve_verbose(verbose):
    if verbose == "auto":
        return 1
    if verbose not in (0, 1, 2):
        raise ConfigurationError(
            f"verbose: expected 'auto', 0, 1 or 2, received {verbose!r}."
        )
    return verbose


def _format(logs):
    return " - ".join(f"{k}: {_value(v)}" for k, v in logs.items())


def _value(v):
    """A scalar as Keras prints it; a vector metric (F1Score per class) as a short list."""
    if np.ndim(v) == 0:
        return f"{float(v):.4f}"
    return "[" + ", ".join(f"{float(x):.4f}" for x in np.ravel(v)) + "]"


class Progress:
    """One epoch's (or evaluation's, prediction's) progress.

    `update(step, logs)` redraws the bar at most every `refresh_s` seconds (and at the last
    step); only then are the logs read. `finish(logs)` ends the bar, or writes the one line
    (label, time, time per step, logs) where there is no bar.
    """

    refresh_s = 0.2

    def __init__(self, verbose, total, label, stream=None):
        self.stream = stream or sys.stdout
        self.verbose = resolve_verbose(verbose)
        self.total = total
        self.label = label
        self.bar = None
        self._step = 0
        self._last = 0.0
        self._start = time.perf_counter()
        if self.verbose == 1 and self.stream.isatty():
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )
            from rich.progress import Progress as RichProgress

            self.bar = RichProgress(
                TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(),
                TextColumn("{task.fields[logs]}"),
                console=Console(file=self.stream), transient=False,
            )
            self.task = self.bar.add_task(label, total=total, logs="")
            self.bar.start()

    def update(self, step, logs):
        self._step = step
        if self.bar is None:
            return
        now = time.perf_counter()
        if now - self._last >= self.refresh_s or step == self.total:
            self._last = now
            self.bar.update(self.task, completed=step, logs=self._text(now, logs))

    def _text(self, now, logs):
        """Time per step, then the logs."""
        per_step = f"{(now - self._start) / max(self._step, 1) * 1e3:.0f}ms/step"
        return f"{per_step} - {_format(logs)}" if logs else per_step

    def close(self):
        """Stop the bar without a final line (an epoch that ended before its first batch)."""
        if self.bar is not None:
            self.bar.stop()

    def finish(self, logs):
        now = time.perf_counter()
        if self.bar is not None:
            done = self.total if self.total is not None else self._step
            self.bar.update(self.task, total=done, completed=done, logs=self._text(now, logs))
            self.bar.stop()
        elif self.verbose in (1, 2):
            line = f"{self.label} - {now - self._start:.1f}s - {self._text(now, logs)}\n"
            self.stream.write(line)
            self.stream.flush()
