"""Progress output for fit / evaluate: a rich progress bar on a terminal, tidy lines otherwise.

verbose: "auto" and 1 show a bar on a terminal and one line per epoch elsewhere (a log file,
CI), 2 prints one line per epoch, 0 prints nothing. Logs are read from the device at most
every `refresh_s` seconds, so progress output does not stall the training loop.
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
    """One epoch's progress. `update(step, read_logs)` may skip reading logs to stay fast."""

    refresh_s = 0.2

    def __init__(self, verbose, total, label, stream=None):
        self.stream = stream or sys.stdout
        self.verbose = resolve_verbose(verbose)
        self.total = total
        self.label = label
        self.bar = None
        self._last = 0.0
        self._start = time.perf_counter()
        if self.verbose == 1 and self.stream.isatty():
            from rich.console import Console
            from rich.progress import (BarColumn, MofNCompleteColumn, Progress as RichProgress,
                                       TextColumn, TimeElapsedColumn, TimeRemainingColumn)

            self.bar = RichProgress(
                TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(),
                TextColumn("{task.fields[logs]}"),
                console=Console(file=self.stream), transient=False,
            )
            self.task = self.bar.add_task(label, total=total, logs="")
            self.bar.start()

    def update(self, step, read_logs):
        if self.bar is None:
            return
        now = time.perf_counter()
        if now - self._last >= self.refresh_s or step == self.total:
            self._last = now
            per_step = (now - self._start) / max(step, 1)
            text = f"{per_step * 1e3:.0f}ms/step - {_format(read_logs())}"
            self.bar.update(self.task, completed=step, logs=text)

    def finish(self, logs):
        elapsed = time.perf_counter() - self._start
        if self.bar is not None:
            self.bar.update(self.task, completed=self.total, logs=_format(logs))
            self.bar.stop()
        elif self.verbose in (1, 2):
            parts = [self.label, f"{elapsed:.1f}s"] + ([_format(logs)] if logs else [])
            self.stream.write(" - ".join(parts) + "\n")
            self.stream.flush()
