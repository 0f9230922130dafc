"""Monitoring one log value for improvement (shared by EarlyStopping, ReduceLROnPlateau and
ModelCheckpoint): the mode, the comparison with `min_delta`, and the best value so far."""
import warnings

import numpy as np

from lamina.errors import ConfigurationError


def resolve_mode(owner, mode, monitor):
    if mode not in ("auto", "min", "max"):
        raise ConfigurationError(f"{owner}: expected mode 'auto', 'min' or 'max', received "
                                 f"{mode!r}.")
    if mode == "auto":
        return "max" if ("acc" in monitor or monitor.startswith("fmeasure")
                         or "auc" in monitor) else "min"
    return mode


class Monitor:
    """Tracks the best value of `monitor`; `improved(value)` says whether `value` beats it
    by more than `min_delta` (absolute, in the direction of `mode`)."""

    def __init__(self, owner, monitor, mode="auto", min_delta=0.0, baseline=None):
        self.owner = owner
        self.monitor = monitor
        self.mode = resolve_mode(owner, mode, monitor)
        if min_delta < 0:
            raise ConfigurationError(f"{owner}: expected min_delta >= 0, received {min_delta!r}.")
        self.min_delta = float(min_delta)
        self.baseline = baseline
        self.reset()

    def reset(self):
        worst = np.inf if self.mode == "min" else -np.inf
        self.best = float(self.baseline) if self.baseline is not None else worst

    def improved(self, value):
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def value(self, logs):
        """The monitored value in `logs`, or None (with a warning naming the logs present)."""
        value = (logs or {}).get(self.monitor)
        if value is None:
            warnings.warn(
                f"{self.owner}: the monitored log '{self.monitor}' is not available; the logs "
                f"are {sorted(logs or {})}. Pass monitor= one of them.", RuntimeWarning,
                stacklevel=3)
            return None
        return float(value)
