"""Variables: a named value with its own `trainable` flag, readable inside pure calls.

A `Variable` holds the current value of one weight. Inside a pure call (see
`core/scope.py`) reading `.value` returns the value the scope substitutes for it, and
`assign` records an update in the scope instead of mutating the object, so a whole model
runs as a pure function of its variable values under `jax.jit` and `jax.grad`.

A variable also behaves as its value, as a Keras 3 variable does: operators, indexing,
`len`, `jnp` functions (through `__jax_array__` and a pytree registration whose one leaf is
the value) and numpy (`__array__`). Every one of them reads `.value`, so inside a step they
see the step's value, with `stop_gradient` on a closed use path (docs/design.md rule 4).
"""
from __future__ import annotations

import itertools
import numbers
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.core import Tracer
from numpy.typing import ArrayLike, DTypeLike

from lamina.core import scope as scope_lib
from lamina.core import trainability_version
from lamina.core.arrays import to_array
from lamina.errors import (
    MSG_TRACED_ASSIGN,
    MSG_TRACED_CONCRETE,
    MSG_TRAINABLE_ASSIGN,
    ArgumentTypeError,
    InputSpecError,
    LaminaError,
    UsageError,
)

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

    def assign(self, value: ArrayLike) -> Any:
        """Set a new value and return it (as Keras does). Inside a pure call (a step) the
        value is recorded in the scope; a variable that trains by its own flag cannot take
        one there (the step owns its value), so that raises `UsageError`."""
        array = to_array(value, self._value.dtype)
        if array.shape != self._value.shape:
            raise InputSpecError(
                f"Variable '{self.path}': expected a value of shape {self._value.shape}, "
                f"received shape {array.shape}."
            )
        scope = scope_lib.current()
        if scope is not None and scope.values is not None and self._trainable:
            raise UsageError(MSG_TRAINABLE_ASSIGN.format(path=self.path))
        if scope is None or not scope.write(self, array):
            if isinstance(array, Tracer):
                raise LaminaError(MSG_TRACED_ASSIGN.format(path=self.path))
            self._value = array
        return array

    def assign_add(self, delta: ArrayLike) -> Any:
        """`assign(self + delta)`; returns the new value."""
        return self.assign(self.value + to_array(delta))

    def assign_sub(self, delta: ArrayLike) -> Any:
        """`assign(self - delta)`; returns the new value."""
        return self.assign(self.value - to_array(delta))

    def stored(self) -> jax.Array:
        """The stored value, whatever call scope is active (`set_stored`'s counterpart)."""
        return self._value

    def set_stored(self, array: jax.Array) -> None:
        """Replace the stored value (used by the training loop to write step results back)."""
        self._value = array

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self._value.shape)

    @property
    def dtype(self) -> np.dtype:
        return self._value.dtype

    @property
    def ndim(self) -> int:
        return self._value.ndim

    @property
    def size(self) -> int:
        return self._value.size

    def numpy(self) -> np.ndarray:
        return np.array(self._concrete("numpy()"))

    # -- the variable as an array: every use reads `self.value` ------------------------
    __array_priority__ = 100  # numpy defers `ndarray + variable` to the variable, as jax's
    __hash__ = object.__hash__  # by identity; `==` is elementwise, as Keras's

    def __jax_array__(self) -> jax.Array:
        return self.value

    def __array__(self, dtype: DTypeLike | None = None, copy: bool | None = None) -> np.ndarray:
        return np.asarray(self._concrete("numpy conversion"), dtype=dtype)

    def __getitem__(self, index: Any) -> jax.Array:
        return self.value[index]

    def __len__(self) -> int:
        if not self.shape:
            raise ArgumentTypeError(f"Variable '{self.path}': len() of a scalar variable "
                                    "(shape ()); it has no length.")
        return self.shape[0]

    def __iter__(self) -> Iterator[jax.Array]:
        return iter(self.value)

    def __bool__(self) -> bool:
        return bool(self._scalar("bool"))

    def __float__(self) -> float:
        return float(self._scalar("float"))

    def __int__(self) -> int:
        return int(self._scalar("int"))

    def __round__(self, ndigits: int | None = None) -> jax.Array:
        return jnp.round(self.value, ndigits or 0)

    def _concrete(self, what: str) -> jax.Array:
        value = self.value
        if isinstance(value, Tracer):
            raise UsageError(MSG_TRACED_CONCRETE.format(path=self.path, what=what))
        return value

    def _scalar(self, what: str) -> jax.Array:
        if self.shape:
            raise ArgumentTypeError(
                f"Variable '{self.path}': {what}() needs a scalar variable, received shape "
                f"{self.shape}. Reduce it first (jnp.all, jnp.sum) or index one element.")
        return self._concrete(f"{what}()")

    def __repr__(self) -> str:
        flag = "" if self._trainable else ", trainable=False"
        return f"<Variable '{self.path}' shape={self.shape} dtype={self.dtype}{flag}>"



def _unary(op: Callable[[Any], Any]) -> Callable[[Variable], Any]:
    return lambda self: op(self.value)


def _arraylike(x: Any) -> bool:
    return isinstance(x, (numbers.Number, np.ndarray, np.generic, jax.Array, Variable)) or (
        hasattr(x, "__jax_array__") or hasattr(x, "__array__"))


def _binary(op: Callable[[Any, Any], Any], reflected: bool = False) -> Callable[..., Any]:
    """The operator method; `NotImplemented` for an operand that is no array (a string,
    None), so Python falls back as for any object (`v == "kernel"` is False)."""
    def method(self: Variable, other: Any) -> Any:
        if not _arraylike(other):
            return NotImplemented
        return op(other, self.value) if reflected else op(self.value, other)
    return method


# Keras 3's operator table (`keras.src.backend.common.variables.Variable`): `&`, `|`, `^`
# are logical, as there
_UNARY = {"__neg__": jnp.negative, "__pos__": jnp.positive, "__abs__": jnp.abs,
          "__invert__": jnp.invert}
_BINARY = {"add": jnp.add, "sub": jnp.subtract, "mul": jnp.multiply,
           "truediv": jnp.true_divide, "floordiv": jnp.floor_divide, "mod": jnp.mod,
           "pow": jnp.power, "matmul": jnp.matmul, "and": jnp.logical_and,
           "or": jnp.logical_or, "xor": jnp.logical_xor}
_COMPARISONS = {"__eq__": jnp.equal, "__ne__": jnp.not_equal, "__lt__": jnp.less,
                "__le__": jnp.less_equal, "__gt__": jnp.greater, "__ge__": jnp.greater_equal}
for _name, _op in _UNARY.items():
    setattr(Variable, _name, _unary(_op))
for _name, _op in _BINARY.items():
    setattr(Variable, f"__{_name}__", _binary(_op))
    setattr(Variable, f"__r{_name}__", _binary(_op, reflected=True))
for _name, _op in _COMPARISONS.items():
    setattr(Variable, _name, _binary(_op))

# a pytree of one leaf, its value: `jnp` functions (jitted in jax >= 0.10, where
# `__jax_array__` alone no longer reaches them), `jax.jit` and `jax.grad` take a variable as
# the array it holds (unflattening gives that array back, not a variable)
def _flatten(variable: Variable) -> tuple[tuple[jax.Array], None]:
    return (variable.value,), None


def _unflatten(_: None, children: tuple[jax.Array]) -> Any:
    return children[0]


jax.tree_util.register_pytree_node(Variable, _flatten, _unflatten)
