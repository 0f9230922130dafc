"""Add and Concatenate."""
import jax.numpy as jnp

from lamina.core.layer import Layer
from lamina.errors import InputSpecError


def _as_list(layer, inputs):
    if not isinstance(inputs, (list, tuple)) or len(inputs) < 2:
        raise InputSpecError(
            f"{type(layer).__name__} '{layer.name}': expected a list of at least 2 tensors, "
            f"received {type(inputs).__name__}."
        )
    return list(inputs)


class Add(Layer):
    """Element-wise sum of a list of tensors of the same shape."""

    def call(self, inputs):
        inputs = _as_list(self, inputs)
        shapes = {tuple(x.shape[1:]) for x in inputs}
        if len(shapes) != 1:
            raise InputSpecError(
                f"Add '{self.name}': expected inputs of one shape, received shapes "
                f"{[tuple(x.shape) for x in inputs]}."
            )
        out = inputs[0]
        for x in inputs[1:]:
            out = out + x
        return out


class Concatenate(Layer):
    """Concatenates a list of tensors along `axis` (default the last)."""

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = axis

    def call(self, inputs):
        inputs = _as_list(self, inputs)
        ranks = {x.ndim for x in inputs}
        axis = self.axis % inputs[0].ndim
        others = {tuple(d for i, d in enumerate(x.shape) if i not in (0, axis)) for x in inputs}
        if len(ranks) != 1 or len(others) != 1:
            raise InputSpecError(
                f"Concatenate '{self.name}': expected shapes equal except on axis {self.axis}, "
                f"received {[tuple(x.shape) for x in inputs]}."
            )
        return jnp.concatenate(inputs, axis=self.axis)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}
