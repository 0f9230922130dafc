"""Freeze schedules inside one `fit`: freeze or unfreeze parts of the model at given epochs.

The changes are scoped freezes of the model being trained (or flags, when asked), so they
follow docs/design.md section 2: they take effect at the next step with no recompile from the user,
the optimizer state of weights that already trained is kept, and each change is printed
before the epoch it applies to (with the trainable parameter count before and after).

Under `BackupAndRestore` the backup holds the model's flags and scoped freezes; a run
resumed inside an epoch does not apply that epoch's change a second time (each callback
keeps the last epoch it handled as its checkpoint state).
"""
import sys

import numpy as np

from lamina.callbacks.base import Callback
from lamina.errors import ConfigurationError


def _trained_params(model):
    return int(sum(np.prod(v.shape, dtype=np.int64) for v in model.trainable_weights))


class _EpochOnce(Callback):
    """Handles each epoch's beginning once, also across a resume inside the epoch."""

    _handled_epoch = None

    def get_checkpoint_state(self):
        return {"handled_epoch": self._handled_epoch}

    def set_checkpoint_state(self, state):
        self._handled_epoch = state["handled_epoch"]

    def _first_time(self, epoch):
        first = epoch != self._handled_epoch
        self._handled_epoch = epoch
        return first


class FreezeSchedule(_EpochOnce):
    """Apply planned changes at the start of given epochs.

    Args:
        schedule: {epoch: change}. A change is a dict with any of `freeze`, `unfreeze` (lists
            of layers or names, scoped to the model being trained), `freeze_up_to` (a layer,
            name or index, see `Model.freeze_up_to`), or a callable `change(model)` for
            anything else (e.g. setting a flag).
        verbose: 1 prints one line per change (default), 0 stays silent.
    """

    def __init__(self, schedule, verbose=1):
        super().__init__()
        for epoch, change in schedule.items():
            if not isinstance(epoch, int) or epoch < 0:
                raise ConfigurationError(f"FreezeSchedule: epochs must be non-negative "
                                         f"integers, received {epoch!r}.")
            if not callable(change):
                unknown = set(change) - {"freeze", "unfreeze", "freeze_up_to"}
                if unknown:
                    raise ConfigurationError(
                        f"FreezeSchedule: epoch {epoch} has unknown keys {sorted(unknown)}; "
                        "expected freeze, unfreeze, freeze_up_to or a callable(model).")
        self.schedule = dict(schedule)
        self.verbose = verbose

    def on_train_begin(self, logs=None):
        self._handled_epoch = None

    def on_epoch_begin(self, epoch, logs=None):
        change = self.schedule.get(epoch)
        if not self._first_time(epoch) or change is None:
            return
        model = self.model
        before = _trained_params(model)
        if callable(change):
            change(model)
            what = getattr(change, "__name__", "a change")
        else:
            what = []
            if "freeze_up_to" in change:
                frozen = model.freeze_up_to(change["freeze_up_to"])
                what.append(f"froze up to {[layer.name for layer in frozen][-1:] or 'nothing'}")
            if change.get("unfreeze"):
                model.unfreeze(*change["unfreeze"])
                what.append(f"unfroze {_names(change['unfreeze'])}")
            if change.get("freeze"):
                model.freeze(*change["freeze"])
                what.append(f"froze {_names(change['freeze'])}")
            what = ", ".join(what)
        if self.verbose:
            sys.stdout.write(f"Epoch {epoch + 1}: {what} (trainable params {before:,} -> "
                             f"{_trained_params(model):,})\n")
            sys.stdout.flush()


class GradualUnfreezing(_EpochOnce):
    """fastai-style gradual unfreezing: `groups` (lists of layers, deepest last) start frozen
    in the model's scope; every `every` epochs from `start_epoch` on, the last still-frozen
    group is unfrozen, until all train. Optimizer state of the head carries through."""

    def __init__(self, groups, start_epoch=1, every=1, verbose=1):
        super().__init__()
        if not groups:
            raise ConfigurationError("GradualUnfreezing: expected at least one group of layers.")
        if every < 1 or start_epoch < 0:
            raise ConfigurationError(f"GradualUnfreezing: expected every >= 1 and "
                                     f"start_epoch >= 0, received every={every!r}, "
                                     f"start_epoch={start_epoch!r}.")
        self.groups = [list(g) if isinstance(g, (list, tuple)) else [g] for g in groups]
        self.start_epoch, self.every, self.verbose = start_epoch, every, verbose

    def on_train_begin(self, logs=None):
        self._handled_epoch = None
        for group in self.groups:  # (a resume then restores the backup's freezes)
            self.model.freeze(*group)

    def on_epoch_begin(self, epoch, logs=None):
        if (not self._first_time(epoch) or epoch < self.start_epoch
                or (epoch - self.start_epoch) % self.every):
            return
        count = (epoch - self.start_epoch) // self.every + 1
        if count > len(self.groups):
            return
        group = self.groups[-count]
        before = _trained_params(self.model)
        self.model.unfreeze(*group)
        if self.verbose:
            sys.stdout.write(f"Epoch {epoch + 1}: unfroze {_names(group)} (trainable params "
                             f"{before:,} -> {_trained_params(self.model):,})\n")
            sys.stdout.flush()


def _names(layers):
    return ", ".join(layer if isinstance(layer, str) else layer.name for layer in layers)
