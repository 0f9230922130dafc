"""Activation layers with Keras 3 names, arguments, defaults and weights: ReLU, LeakyReLU,
PReLU, ELU and Softmax. (`Activation`, which takes any activation name, is in `core.py`.)

All of them support masking: the mask of the input passes on unchanged. Softmax also uses it,
excluding masked positions as Keras does.
"""
import warnings

import jax
import jax.numpy as jnp

from lamina import activations, constraints, initializers, regularizers
from lamina.core.layer import Layer
from lamina.errors import ConfigurationError, InputSpecError
from lamina.losses import softmax_logits


def _label(layer):
    return f"{type(layer).__name__} '{layer.name}'"


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _non_negative(layer, value, what, allow_none=False):
    if value is None and allow_none:
        return None
    if not _is_number(value) or value < 0:
        raise ConfigurationError(
            f"{_label(layer)}: expected `{what}` to be a non-negative number"
            f"{' or None' if allow_none else ''}, received {value!r}.")
    return float(value)


class ReLU(Layer):
    """Rectified linear unit with Keras's options.

    `f(x) = min(x, max_value)` for `x > threshold` (and `x >= 0`),
    `f(x) = negative_slope * (x - threshold)` for `x < threshold`.

    Args:
        max_value: cap of the output (None: no cap), >= 0.
        negative_slope: slope below the threshold, >= 0.
        threshold: values at or below it are damped, >= 0.
    """

    supports_masking = True

    def __init__(self, max_value=None, negative_slope=0.0, threshold=0.0, **kwargs):
        super().__init__(**kwargs)
        self.max_value = _non_negative(self, max_value, "max_value", allow_none=True)
        self.negative_slope = _non_negative(self, negative_slope, "negative_slope")
        self.threshold = _non_negative(self, threshold, "threshold")

    def call(self, inputs):
        return activations.relu(inputs, negative_slope=self.negative_slope,
                                max_value=self.max_value, threshold=self.threshold)

    def get_config(self):
        return {**super().get_config(), "max_value": self.max_value,
                "negative_slope": self.negative_slope, "threshold": self.threshold}


class LeakyReLU(Layer):
    """`x` for `x >= 0`, `negative_slope * x` below. The default slope is 0.3, as Keras's
    layer (the `leaky_relu` function defaults to 0.2). `alpha=` is accepted, with a
    deprecation warning as in Keras 3, for code written for Keras 2."""

    supports_masking = True

    def __init__(self, negative_slope=0.3, **kwargs):
        if "alpha" in kwargs:
            negative_slope = kwargs.pop("alpha")
            warnings.warn("LeakyReLU: argument `alpha` is deprecated, use `negative_slope`.",
                          DeprecationWarning, stacklevel=2)
        super().__init__(**kwargs)
        self.negative_slope = _non_negative(self, negative_slope, "negative_slope")

    def call(self, inputs):
        return activations.leaky_relu(inputs, negative_slope=self.negative_slope)

    def get_config(self):
        return {**super().get_config(), "negative_slope": self.negative_slope}


class PReLU(Layer):
    """Leaky ReLU with a learned slope: `f(x) = x` for `x >= 0`, `alpha * x` below.

    The weight `alpha` has the input's shape without the batch axis; the axes in
    `shared_axes` (counted with the batch axis as 0, as Keras) get size 1 and share one slope,
    e.g. `shared_axes=[1, 2]` for one slope per channel of `(batch, rows, cols, channels)`.

    Args:
        alpha_initializer: initializer of `alpha` (default zeros: starts as ReLU).
        alpha_regularizer, alpha_constraint: as for Dense's kernel.
        shared_axes: an int or a list of ints in `1 .. rank - 1`.
    """

    supports_masking = True

    def __init__(self, alpha_initializer="zeros", alpha_regularizer=None, alpha_constraint=None,
                 shared_axes=None, **kwargs):
        super().__init__(**kwargs)
        self.alpha_initializer = initializers.get(alpha_initializer)
        self.alpha_regularizer = regularizers.get(alpha_regularizer)
        self.alpha_constraint = constraints.get(alpha_constraint)
        if shared_axes is not None and not isinstance(shared_axes, (list, tuple)):
            shared_axes = [shared_axes]
        if shared_axes is not None and not all(
                isinstance(a, int) and not isinstance(a, bool) and a >= 1 for a in shared_axes):
            raise ConfigurationError(
                f"{_label(self)}: expected `shared_axes` to be None, an int or a "
                f"list of ints >= 1 (axis 0 is the batch), received {shared_axes!r}.")
        self.shared_axes = list(shared_axes) if shared_axes is not None else None

    def build(self, input_shape):
        ndim = len(input_shape)
        shared = set(self.shared_axes or ())
        if any(a >= ndim for a in shared):
            raise InputSpecError(f"{_label(self)}: shared_axes {self.shared_axes} are out of "
                                 f"range for inputs of shape {tuple(input_shape)}; expected "
                                 f"axes in 1..{ndim - 1}.")
        shape = [1 if axis in shared else input_shape[axis] for axis in range(1, ndim)]
        if None in shape:
            raise InputSpecError(
                f"{_label(self)}: expected known sizes on the axes that are not shared, "
                f"received inputs of shape {tuple(input_shape)} with shared_axes "
                f"{self.shared_axes}. Share the unknown axes (shared_axes=...).")
        self.alpha = self.add_weight(tuple(shape), self.alpha_initializer, name="alpha",
                                     regularizer=self.alpha_regularizer,
                                     constraint=self.alpha_constraint)

    def check_input(self, inputs):
        alpha_shape = self.alpha.shape
        if inputs.ndim != len(alpha_shape) + 1 or any(
                a != 1 and a != d
                for a, d in zip(alpha_shape, inputs.shape[1:], strict=True)):
            raise InputSpecError(
                f"{_label(self)}: expected inputs of shape (batch, "
                f"{', '.join('*' if a == 1 else str(a) for a in alpha_shape)}) (alpha has "
                f"shape {alpha_shape}), received shape {tuple(inputs.shape)}.")

    def call(self, inputs):
        return jax.nn.relu(inputs) - self.alpha.value * jax.nn.relu(-inputs)

    def get_config(self):
        return {
            **super().get_config(),
            "alpha_initializer": initializers.serialize(self.alpha_initializer),
            "alpha_regularizer": regularizers.serialize(self.alpha_regularizer),
            "alpha_constraint": constraints.serialize(self.alpha_constraint),
            "shared_axes": self.shared_axes,
        }


class ELU(Layer):
    """Exponential linear unit: `x` for `x > 0`, `alpha * (exp(x) - 1)` below."""

    supports_masking = True

    def __init__(self, alpha=1.0, **kwargs):
        super().__init__(**kwargs)
        if not _is_number(alpha):
            raise ConfigurationError(
                f"{_label(self)}: expected a number `alpha`, received {alpha!r}.")
        self.alpha = float(alpha)

    def call(self, inputs):
        return activations.elu(inputs, alpha=self.alpha)

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha}


def _large_negative(dtype):
    # Keras's stand-in for -inf: finite, so a fully masked row gives no NaN
    return -3e4 if jnp.dtype(dtype) == jnp.float16 else -1e9


class Softmax(Layer):
    """Softmax along `axis` (an int or a list of ints).

    `call(inputs, mask=None)`: where `mask` is False (or <= 0.5) the input is replaced by a
    large negative number before the softmax and the output is set to 0 after it, so masked
    positions get no probability (a fully masked row is all zeros). As in Keras, the mask is
    broadcast against the inputs from the right: each of its dimensions must be 1 or equal the
    input's, so a `(batch, steps)` mask fits `(batch, steps)` scores or `(batch, heads, queries,
    steps)` scores with a `(batch, 1, 1, steps)` mask.
    """

    supports_masking = True

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        def is_int(a):
            return isinstance(a, int) and not isinstance(a, bool)

        axis = list(axis) if isinstance(axis, (list, tuple)) else axis
        if not (is_int(axis) or isinstance(axis, list) and axis and all(map(is_int, axis))):
            raise ConfigurationError(
                f"{_label(self)}: expected `axis` to be an int or a non-empty "
                f"list of ints, received {axis!r}.")
        self.axis = axis

    def _check_mask(self, inputs, mask):
        if mask.ndim > inputs.ndim or any(
                m != 1 and m != i
                # trailing axes only: a lower-rank mask broadcasts over the leading ones
                for m, i in zip(mask.shape[::-1], inputs.shape[::-1], strict=False)):
            raise InputSpecError(
                f"{_label(self)}: expected a mask broadcastable to the inputs (each dimension, "
                f"aligned from the right, 1 or equal to the input's), received mask shape "
                f"{tuple(mask.shape)} for inputs of shape {tuple(inputs.shape)}.")

    def call(self, inputs, mask=None):
        axis = tuple(self.axis) if isinstance(self.axis, list) else self.axis
        if mask is None:
            return softmax_logits.softmax(inputs, axis=axis)
        mask = jnp.asarray(mask)
        self._check_mask(inputs, mask)
        if mask.dtype != jnp.bool_:
            mask = mask > 0.5
        inputs = jnp.where(mask, inputs, _large_negative(inputs.dtype))
        return jnp.where(mask, jax.nn.softmax(inputs, axis=axis), 0)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


LAYERS = (ReLU, LeakyReLU, PReLU, ELU, Softmax)
