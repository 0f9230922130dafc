"""Variables: a named value with its own `trainable` flag, readable inside pure calls.

A `Variable` holds the current value of one weight. Inside a pure call (see
`core/scope.py`) reading `.value` returns the value the scope substitutes for it, and
`assign` records an update in the scope instead of mutating the object, so a whole model
runs as a pure function of its variable values under `jax.jit` and `jax.grad`.
"""
import itertools

import jax
import numpy as np

from lamina.core import scope as scope_lib
from lamina.core import trainability_version
from lamina.core.arrays import to_array
from lamina.errors import MSG_TRACED_ASSIGN, InputSpecError, LaminaError

_UIDS = itertools.count()


class Variable:
    """One weight or state tensor of a layer.

    Args:
        value: initial value (array-like).
        name: short name within the layer ("kernel", "bias", "moving_mean").
        trainable: the variable's own flag. Some variables (moving statistics, seeds) are
            created non-trainable and never receive gradients.
        kind: "weight" for weights counted by `count_params`, "seed" for RNG state.
    """

    def __init__(self, value, name, trainable=True, kind="weight", owner=None):
        self.uid = next(_UIDS)
        self.name = name
        self.kind = kind
        self.owner = owner
        self._trainable = bool(trainable)
        self._value = to_array(value)
        self.autocast = False  # read in the layer's compute dtype under a mixed policy
        self.regularizer = None  # x -> scalar penalty, set by Layer.add_weight
        self.constraint = None  # w -> w applied after each optimizer update

    @property
    def path(self):
        return f"{self.owner.name}/{self.name}" if self.owner is not None else self.name

    @property
    def trainable(self):
        return self._trainable

    @trainable.setter
    def trainable(self, flag):
        self._trainable = bool(flag)
        trainability_version.bump()

    @property
    def value(self):
        scope = scope_lib.current()
        if scope is None:
            return self._value
        return scope.read(self)

    def assign(self, new_value):
        """Set a new value (recorded in the active pure call, or stored directly)."""
        new_value = to_array(new_value, self._value.dtype)
        if new_value.shape != self._value.shape:
            raise InputSpecError(
                f"Variable '{self.path}': expected a value of shape {self._value.shape}, "
                f"received shape {new_value.shape}."
            )
        scope = scope_lib.current()
        if scope is None or not scope.write(self, new_value):
            if isinstance(new_value, jax.core.Tracer):
                raise LaminaError(MSG_TRACED_ASSIGN.format(path=self.path))
            self._value = new_value

    def set_stored(self, array):
        """Replace the stored value (used by the training loop to write step results back)."""
        self._value = array

    @property
    def shape(self):
        return tuple(self._value.shape)

    @property
    def dtype(self):
        return self._value.dtype

    def numpy(self):
        return np.array(self._value)

    def __array__(self, dtype=None, copy=None):
        return np.asarray(self._value, dtype=dtype)

    def __repr__(self):
        flag = "" if self._trainable else ", trainable=False"
        return f"<Variable '{self.path}' shape={self.shape} dtype={self.dtype}{flag}>"

