"""`Progbar`: Keras's standalone progress bar, for loops written by hand.

fit / evaluate / predict draw their progress with `lamina.callbacks.ProgbarLogger` (a rich
bar). This class keeps Keras's `Progbar` contract instead: `update(current, values)` /
`add(n, values)`, values averaged over the steps they were reported for unless named in
`stateful_metrics`, output as text. On a terminal (verbose=1) the line is redrawn in place
at most every `interval` seconds; elsewhere (a log file, CI) only the final line is
written, so logs stay one line per bar. verbose=2 writes the final line only.
"""
import math
import sys
import time

import numpy as np

from lamina.errors import ConfigurationError


def _format_time(per_unit, unit_name):
    if per_unit >= 1 or per_unit == 0:
        return f" {per_unit:.0f}s/{unit_name}"
    if per_unit >= 1e-3:
        return f" {per_unit * 1e3:.0f}ms/{unit_name}"
    return f" {per_unit * 1e6:.0f}us/{unit_name}"


def _format_eta(eta):
    if eta > 3600:
        return f"{eta // 3600:.0f}:{(eta % 3600) // 60:02.0f}:{eta % 60:02.0f}"
    if eta > 60:
        return f"{eta // 60:.0f}:{eta % 60:02.0f}"
    return f"{eta:.0f}s"


class Progbar:
    """A progress bar over `target` steps (None: unknown), Keras's `keras.utils.Progbar`.

    Args:
        target: the total number of steps, or None.
        width: the bar's width in characters.
        verbose: 0 (silent), 1 (a bar) or 2 (one line at the end).
        interval: the least time in seconds between two redraws.
        stateful_metrics: names whose reported value is shown as is (not averaged).
        stateless_metrics: the opposite selection: only these names are averaged.
        unit_name: the unit in the time per step ("step", "sample", ...).
    """

    def __init__(self, target, width=20, verbose=1, interval=0.05, stateful_metrics=None,
                 stateless_metrics=None, unit_name="step", stream=None):
        if stateful_metrics is not None and stateless_metrics is not None:
            raise ConfigurationError(
                "Progbar: pass stateful_metrics (averaged unless listed) or "
                "stateless_metrics (kept as reported unless listed), not both.")
        self.target, self.width, self.verbose = target, width, verbose
        self.interval, self.unit_name = interval, unit_name
        self.stateful_metrics = (set(stateful_metrics or ()) if stateless_metrics is None
                                 else None)
        self.stateless_metrics = None if stateless_metrics is None else set(stateless_metrics)
        self.stream = stream or sys.stdout
        self._dynamic = hasattr(self.stream, "isatty") and self.stream.isatty()
        self._seen_so_far = 0
        self._values = {}
        self._start = time.time()
        self._last_update = 0.0
        self._after_first_step = None
        self._prev_width = 0

    def _averaged(self, name):
        if self.stateful_metrics is not None:
            return name not in self.stateful_metrics
        return name in self.stateless_metrics

    def _record(self, current, values, finalize):
        for name, value in values or []:
            if not self._averaged(name) or finalize:
                self._values[name] = [value, 1]
                continue
            base = max(current - self._seen_so_far, 1)
            total, count = self._values.get(name, [0.0, 0])
            self._values[name] = [total + value * base, count + base]
        self._seen_so_far = current

    def update(self, current, values=None, finalize=None):
        """Move to step `current`; `values` is a list of `(name, value)` pairs."""
        if finalize is None:
            finalize = self.target is not None and current >= self.target
        self._record(current, values, finalize)
        now = time.time()
        per_unit = self._step_duration(current, now)
        if self.verbose == 1 and (finalize or now - self._last_update >= self.interval):
            if self._dynamic or finalize:
                self._draw(current, now, per_unit, finalize)
        elif self.verbose == 2 and finalize and self.target:
            digits = int(math.log10(self.target)) + 1
            line = f"{current:{digits}d}/{self.target} - {now - self._start:.0f}s -"
            self._write(line + _format_time(per_unit, self.unit_name) + self._metrics()
                        + "\n")
        self._last_update = now

    def add(self, n, values=None):
        """Move `n` steps forward."""
        self.update(self._seen_so_far + n, values)

    def averages(self):
        """name -> the value shown now (the average, or the last value when stateful)."""
        return {name: np.mean(total) / max(1, count)
                for name, (total, count) in self._values.items()}

    def _metrics(self):
        out = ""
        for name, avg in self.averages().items():
            out += f" - {name}: {avg:.4f}" if abs(avg) > 1e-3 else f" - {name}: {avg:.4e}"
        return out

    def _draw(self, current, now, per_unit, finalize):
        if self.target:
            digits = int(math.log10(self.target)) + 1
            filled = int(self.width * current / self.target)
            bar = f"{current:{digits}d}/{self.target} [" + "=" * filled + "." * (
                self.width - filled) + "]"
            eta = per_unit * (self.target - current)
            info = f" - {now - self._start:.0f}s" if finalize else f" - ETA: {_format_eta(eta)}"
        else:
            bar, info = f"{current:7d}/Unknown", f" - {now - self._start:.0f}s"
        text = bar + info + _format_time(per_unit, self.unit_name) + self._metrics()
        padding = " " * max(self._prev_width - len(text), 0)
        self._prev_width = len(text)
        self._write(("\r" if self._dynamic else "") + text + padding
                    + ("\n" if finalize else ""))

    def _write(self, text):
        self.stream.write(text)
        self.stream.flush()

    def _step_duration(self, current, now):
        if not current:
            return 0
        if self._after_first_step is not None and current > 1:
            per_unit = (now - self._after_first_step) / (current - 1)
        else:
            per_unit = (now - self._start) / current
        if current == 1:
            self._after_first_step = now
        return per_unit
