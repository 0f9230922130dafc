"""RMSNormalization (Keras 3): `x * rsqrt(mean(x**2 over axis) + epsilon) * scale`."""
import jax
import jax.numpy as jnp

from lamina.core.layer import Layer
from lamina.errors import ConfigurationError, InputSpecError


class RMSNormalization(Layer):
    """Root-mean-square normalization (Zhang & Sennrich, 2019) with a learned `scale`.

    Args:
        axis: the axis (an int) or axes (a list of ints) to normalize over (default -1).
        epsilon: added to the mean square (default 1e-6, as Keras).

    Computes in at least float32 and returns the input's dtype. Weight: `scale`, of the
    normalized axes' sizes, initialised to ones.
    """

    supports_masking = True

    def __init__(self, axis=-1, epsilon=1e-6, **kwargs):
        super().__init__(**kwargs)
        valid = (isinstance(axis, int) and not isinstance(axis, bool)) or (
            isinstance(axis, (list, tuple)) and axis and all(
                isinstance(a, int) and not isinstance(a, bool) for a in axis))
        if not valid:
            raise ConfigurationError(
                f"RMSNormalization '{self.name}': expected `axis` to be an int or a non-empty "
                f"list of ints, received {axis!r}.")
        self.axis = axis if isinstance(axis, int) else list(axis)
        self.epsilon = epsilon

    def _axes(self, rank):
        axes = [self.axis] if isinstance(self.axis, int) else self.axis
        if any(not -rank <= a < rank for a in axes):
            raise InputSpecError(
                f"RMSNormalization '{self.name}': axis {self.axis} is out of range for inputs "
                f"of rank {rank}; expected axes in [{-rank}, {rank}).")
        return sorted(a % rank for a in axes)

    def build(self, input_shape):
        self._rank = len(input_shape)
        axes = self._axes(self._rank)
        self.scale = self.add_weight(tuple(input_shape[a] for a in axes), "ones", name="scale")

    def call(self, inputs):
        axes = tuple(self._axes(inputs.ndim))
        x = inputs.astype(jnp.promote_types(inputs.dtype, jnp.float32))
        rrms = jax.lax.rsqrt(jnp.mean(jnp.square(x), axis=axes, keepdims=True) + self.epsilon)
        return (x * rrms * self.scale.value.astype(x.dtype)).astype(inputs.dtype)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis, "epsilon": self.epsilon}


LAYERS = (RMSNormalization,)
