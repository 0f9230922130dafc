"""Variables: a named value with its own `trainable` flag, readable inside pure calls.

A `Variable` holds the current value of one weight. Inside a pure call (see
`core/scope.py`) reading `.value` returns the value the scope substitutes for it, and
`assign` records an update in the scope instead of mutating the object, so a whole model
runs as a pure function of its variable values under `jax.jit` and `jax.grad`.
"""
from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import jax
import numpy as np
from jax.core import Tracer
from numpy.typing import ArrayLike, DTypeLike

from lamina.core import scope as scope_lib
from lamina.core import trainability_version
from lamina.core.arrays import to_array
from lamina.errors import MSG_TRACED_ASSIGN, InputSpecError, LaminaError

if TYPE_CHECKING:
    from lamina.core.layer import Layer

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

    def __init__(self, value: ArrayLike, name: str, trainable: bool = True, kind: str = "weight",
                 owner: Layer | None = None) -> None:
        self.uid: int = next(_UIDS)
        self.name = name
        self.kind = kind
        self.owner = owner
        self._trainable = bool(trainable)
        self._value: jax.Array = to_array(value)
        self.autocast = False  # read in the layer's compute dtype under a mixed policy
        # x -> scalar penalty, set by Layer.add_weight
        self.regularizer: Callable[[jax.Array], Any] | None = None
        # w -> w applied after each optimizer update
        self.constraint: Callable[[jax.Array], jax.Array] | None = None

    @property
    def path(self) -> str:
        return f"{self.owner.name}/{self.name}" if self.owner is not None else self.name

    @property
    def trainable(self) -> bool:
        return self._trainable

    @trainable.setter
    def trainable(self, flag: bool) -> None:
        self._trainable = bool(flag)
        trainability_version.bump()

    @property
    def value(self) -> jax.Array:
        """The current value: the stored one, or the value the active pure call gives."""
        scope = scope_lib.current()
        if scope is None:
            return self._value
        return scope.read(self)

    def assign(self, new_value: ArrayLike) -> None:
        """Set a new value (recorded in the active pure call, or stored directly)."""
        array = to_array(new_value, self._value.dtype)
        if array.shape != self._value.shape:
            raise InputSpecError(
                f"Variable '{self.path}': expected a value of shape {self._value.shape}, "
                f"received shape {array.shape}."
            )
        scope = scope_lib.current()
        if scope is None or not scope.write(self, array):
            if isinstance(array, Tracer):
                raise LaminaError(MSG_TRACED_ASSIGN.format(path=self.path))
            self._value = array

    def set_stored(self, array: jax.Array) -> None:
        """Replace the stored value (used by the training loop to write step results back)."""
        self._value = array

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self._value.shape)

    @property
    def dtype(self) -> np.dtype:
        return self._value.dtype

    def numpy(self) -> np.ndarray:
        return np.array(self._value)

    def __array__(self, dtype: DTypeLike | None = None, copy: bool | None = None) -> np.ndarray:
        return np.asarray(self._value, dtype=dtype)

    def __repr__(self) -> str:
        flag = "" if self._trainable else ", trainable=False"
        return f"<Variable '{self.path}' shape={self.shape} dtype={self.dtype}{flag}>"

