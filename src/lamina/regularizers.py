"""Weight and activity regularizers: `regularizer(x) -> scalar penalty` added to the loss.

A layer's `kernel_regularizer=` (etc.) attaches one to a weight; the train and test steps add
its penalty on the weights that train in that configuration to the loss they report. A
layer's `activity_regularizer=` adds the penalty of its outputs through `Layer.add_loss`.
"""
import jax.numpy as jnp

from lamina.errors import AbstractMethodError, ConfigurationError, InputSpecError
from lamina.named import NamedRegistry


class Regularizer:
    def __call__(self, x):
        raise AbstractMethodError(
            f"{type(self).__name__} does not define `__call__(self, x)`: "
            "expected every subclass of Regularizer to define it.")

    def get_config(self):
        return {}


class L1L2(Regularizer):
    """`l1 * sum(|x|) + l2 * sum(x ** 2)`."""

    def __init__(self, l1=0.0, l2=0.0):
        self.l1, self.l2 = _check_factor("L1L2", "l1", l1), _check_factor("L1L2", "l2", l2)

    def __call__(self, x):
        penalty = jnp.zeros((), x.dtype)
        if self.l1:
            penalty = penalty + self.l1 * jnp.sum(jnp.abs(x))
        if self.l2:
            penalty = penalty + self.l2 * jnp.sum(jnp.square(x))
        return penalty

    def get_config(self):
        return {"l1": self.l1, "l2": self.l2}


class L1(L1L2):
    def __init__(self, l1=0.01):
        super().__init__(l1=l1)

    def get_config(self):
        return {"l1": self.l1}


class L2(L1L2):
    def __init__(self, l2=0.01):
        super().__init__(l2=l2)

    def get_config(self):
        return {"l2": self.l2}


class OrthogonalRegularizer(Regularizer):
    """Pushes the rows (or columns) of a 2-D weight towards orthonormality: `factor` times the
    mean absolute cosine similarity between distinct rows (columns), as Keras computes it."""

    def __init__(self, factor=0.01, mode="rows"):
        if mode not in ("rows", "columns"):
            raise ConfigurationError(
                f"OrthogonalRegularizer: expected mode 'rows' or 'columns', "
                f"received {mode!r}.")
        self.factor, self.mode = _check_factor("OrthogonalRegularizer", "factor", factor), mode

    def __call__(self, x):
        if x.ndim != 2:
            raise InputSpecError(
                f"OrthogonalRegularizer: expected a 2-D weight, received shape "
                f"{tuple(x.shape)}.")
        axis = 1 if self.mode == "rows" else 0
        unit = x / jnp.maximum(jnp.linalg.norm(x, axis=axis, keepdims=True), 1e-12)
        product = unit @ unit.T if self.mode == "rows" else unit.T @ unit
        size = product.shape[0]
        off_diagonal = product * (1.0 - jnp.eye(size, dtype=x.dtype))
        pairs = size * (size - 1.0) / 2.0
        return self.factor * 0.5 * jnp.sum(jnp.abs(off_diagonal)) / pairs

    def get_config(self):
        return {"factor": self.factor, "mode": self.mode}


def _check_factor(cls, name, value):
    if not isinstance(value, (int, float)) or value < 0:
        raise ConfigurationError(
            f"{cls}: expected a non-negative number for `{name}`, received "
            f"{value!r}.")
    return float(value)


l1, l2, l1_l2, orthogonal_regularizer = L1, L2, L1L2, OrthogonalRegularizer

_NAMES = NamedRegistry("regularizer", {
    "l1": L1, "l2": L2, "l1_l2": L1L2, "orthogonal_regularizer": OrthogonalRegularizer,
}, allow_none=True)


def get(identifier):
    """A regularizer from None, a name ("l1", "l2", "l1_l2", "orthogonal_regularizer"), a dict
    written by `serialize`, an instance or a callable `x -> scalar`."""
    return _NAMES.get(identifier)


def serialize(regularizer):
    return _NAMES.serialize(regularizer)
