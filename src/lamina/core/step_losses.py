"""The losses of a model's call inside a training or test step, for `model.losses` and
`Model.compute_loss` (Keras 3: losses added in `call` are collected per call).

A step that runs the model on traced values opens a `StepLosses` for that model
(`recording`); the pure call records the `add_loss` values of that call in it, with the
values and the regularized variables whose penalties join the loss. Inside the step,
`model.losses` reads them (so they carry the gradient of the traced values); outside any
step it reads the last eager call, as before. Nothing here outlives its step.
"""
import contextlib
import dataclasses
from typing import Any


@dataclasses.dataclass
class StepLosses:
    """The losses of the model's latest call in this step."""

    model: Any
    added: list = dataclasses.field(default_factory=list)  # `add_loss` values of the call
    regularized: list = dataclasses.field(default_factory=list)  # penalised variables
    values: dict = dataclasses.field(default_factory=dict)  # uid -> value the call read
    masks: Any = None  # the output masks of the call (None: none)

    def record(self, added, regularized, values, masks=None):
        self.added, self.regularized, self.values, self.masks = (
            list(added), list(regularized), values, masks)

    def terms(self):
        """The losses of the call: its `add_loss` values, then the penalties of the
        regularized variables on the values it read."""
        return self.added + [v.regularizer(self.values[v.uid]) for v in self.regularized
                             if v.uid in self.values]


_STACK: list[StepLosses] = []


@contextlib.contextmanager
def recording(model):
    """Collect the losses of `model`'s calls in this block (one step's trace)."""
    losses = StepLosses(model)
    _STACK.append(losses)
    try:
        yield losses
    finally:
        _STACK.remove(losses)


def current(model):
    """The `StepLosses` of the innermost step of `model`, or None outside its steps."""
    return next((s for s in reversed(_STACK) if s.model is model), None)
