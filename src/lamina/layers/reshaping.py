"""Flatten and Reshape."""
import math

from lamina.core.layer import Layer
from lamina.errors import InputSpecError


class Flatten(Layer):
    """Flattens every axis but the batch axis."""

    def call(self, inputs):
        return inputs.reshape(inputs.shape[0], -1)


class Reshape(Layer):
    """Reshapes to `target_shape` (without the batch axis; one entry may be -1)."""

    def __init__(self, target_shape, **kwargs):
        super().__init__(**kwargs)
        self.target_shape = tuple(target_shape)
        if sum(d == -1 for d in self.target_shape) > 1 or any(
            d == 0 or d < -1 for d in self.target_shape
        ):
            raise InputSpecError(
                f"Reshape '{self.name}': expected positive dimensions and at most one -1, "
                f"received target_shape {self.target_shape}."
            )

    def call(self, inputs):
        size = math.prod(inputs.shape[1:])
        known = math.prod(d for d in self.target_shape if d != -1)
        ok = (known > 0 and size % known == 0) if -1 in self.target_shape else known == size
        if not ok:
            raise InputSpecError(
                f"Reshape '{self.name}': cannot reshape input of shape {tuple(inputs.shape)} "
                f"({size} values per sample) to target shape {self.target_shape}."
            )
        return inputs.reshape((inputs.shape[0],) + self.target_shape)

    def get_config(self):
        return {**super().get_config(), "target_shape": self.target_shape}
