"""Normalization layers: BatchNormalization (mode by docs/design.md rule 7), LayerNormalization,
GroupNormalization and UnitNormalization, with Keras 3 arguments and weight layouts."""
import jax
import jax.numpy as jnp

from lamina import constraints, initializers, regularizers
from lamina.core import scope as scope_lib
from lamina.core.layer import Layer
from lamina.errors import ConfigurationError, InputSpecError

# Keras's backend epsilon, added to the masked element count in BatchNormalization
_COUNT_EPSILON = 1e-7


def _int_axes(layer, axis, allow_list=True):
    """`axis` as given (an int, or a list of ints when allowed), checked for type."""
    if isinstance(axis, int) and not isinstance(axis, bool):
        return axis
    if allow_list and isinstance(axis, (list, tuple)) and axis and all(
            isinstance(a, int) and not isinstance(a, bool) for a in axis):
        return list(axis)
    expected = "an int or a non-empty list of ints" if allow_list else "an int"
    raise ConfigurationError(
        f"{type(layer).__name__} '{layer.name}': expected `axis` to be {expected}, "
        f"received {axis!r}.")


def _resolve_axes(layer, axis, input_shape):
    """Sorted non-negative axes of `axis` for inputs of `input_shape`; known sizes only."""
    ndim = len(input_shape)
    axes = [axis] if isinstance(axis, int) else list(axis)
    if any(not -ndim <= a < ndim for a in axes):
        raise InputSpecError(
            f"{type(layer).__name__} '{layer.name}': axis {axis} is out of range for inputs of "
            f"rank {ndim} (shape {tuple(input_shape)}); expected axes in [{-ndim}, {ndim}).")
    axes = sorted({a % ndim for a in axes})
    if len(axes) != len([axis] if isinstance(axis, int) else axis):
        raise InputSpecError(f"{type(layer).__name__} '{layer.name}': axis {axis} names the same "
                             f"dimension twice for inputs of shape {tuple(input_shape)}.")
    for a in axes:
        if input_shape[a] is None:
            raise InputSpecError(
                f"{type(layer).__name__} '{layer.name}': expected a known size on axis {a}, "
                f"received inputs of shape {tuple(input_shape)}.")
    return axes


class _AffineNormalization(Layer):
    """Shared part of the normalizations with a learned scale `gamma` and offset `beta`."""

    supports_masking = True

    def __init__(self, epsilon, center, scale, beta_initializer, gamma_initializer,
                 beta_regularizer, gamma_regularizer, beta_constraint, gamma_constraint,
                 **kwargs):
        super().__init__(**kwargs)
        self.epsilon = float(epsilon)
        self.center = bool(center)
        self.scale = bool(scale)
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.beta_regularizer = regularizers.get(beta_regularizer)
        self.gamma_regularizer = regularizers.get(gamma_regularizer)
        self.beta_constraint = constraints.get(beta_constraint)
        self.gamma_constraint = constraints.get(gamma_constraint)
        self.gamma = self.beta = None

    def _add_affine(self, shape, scale, center):
        """Create `gamma` then `beta` (Keras's order) of `shape` where asked for."""
        if scale:
            self.gamma = self.add_weight(shape, self.gamma_initializer, name="gamma",
                                         regularizer=self.gamma_regularizer,
                                         constraint=self.gamma_constraint)
        if center:
            self.beta = self.add_weight(shape, self.beta_initializer, name="beta",
                                        regularizer=self.beta_regularizer,
                                        constraint=self.beta_constraint)

    def _record_input(self, input_shape, axes):
        """Remember the rank and the normalized axes' sizes that later inputs must have."""
        self._ndim, self._axes = len(input_shape), axes
        self._sizes = tuple(input_shape[a] for a in axes)

    def check_input(self, inputs):
        if inputs.ndim != self._ndim or any(
                inputs.shape[a] != s for a, s in zip(self._axes, self._sizes, strict=True)):
            expected = ", ".join(
                f"axis {a}: {s}" for a, s in zip(self._axes, self._sizes, strict=True))
            raise InputSpecError(
                f"{type(self).__name__} '{self.name}': expected inputs of rank {self._ndim} with "
                f"{expected} (as when the layer was built), received shape {tuple(inputs.shape)}.")

    def _normalize(self, x, mean, variance, broadcast):
        """`gamma * (x - mean) / sqrt(variance + epsilon) + beta`, in Keras's fused form."""
        inv = jax.lax.rsqrt(variance + self.epsilon)
        if self.gamma is not None:
            inv = inv * self.gamma.value.reshape(broadcast)
        offset = -mean * inv
        if self.beta is not None:
            offset = offset + self.beta.value.reshape(broadcast)
        return x * inv + offset

    def get_config(self):
        return {
            **super().get_config(),
            "epsilon": self.epsilon, "center": self.center, "scale": self.scale,
            "beta_initializer": initializers.serialize(self.beta_initializer),
            "gamma_initializer": initializers.serialize(self.gamma_initializer),
            "beta_regularizer": regularizers.serialize(self.beta_regularizer),
            "gamma_regularizer": regularizers.serialize(self.gamma_regularizer),
            "beta_constraint": constraints.serialize(self.beta_constraint),
            "gamma_constraint": constraints.serialize(self.gamma_constraint),
        }


class BatchNormalization(_AffineNormalization):
    """Normalises with batch statistics when training, with moving statistics otherwise.

    Frozen layers run in inference mode (rule 7): when the use path through which the model
    being trained calls this layer is closed (a `trainable = False` flag or a scoped `freeze`),
    it normalises with the moving statistics and does not update them, exactly as Keras does
    for a layer with `trainable = False`. `training=` passed explicitly to this layer's call
    always wins. `train_when_frozen=True` keeps batch statistics (and their updates) for a
    frozen layer.

    Args:
        axis: the feature axis, one int (default -1; use `LayerNormalization` for several).
        momentum: moving average momentum (Keras default 0.99).
        epsilon: added to the variance.
        center, scale: learn `beta` / `gamma`.
        beta_initializer, gamma_initializer, moving_mean_initializer,
            moving_variance_initializer: initializers of the four weights.
        beta_regularizer, gamma_regularizer: penalties added to the loss while they train.
        beta_constraint, gamma_constraint: applied after each optimizer update.
        synchronized, renorm: accepted for Keras compatibility; only False is supported
            (cross-replica statistics and batch renormalization are not in lamina).
        train_when_frozen: use batch statistics even when frozen (lamina only).

    Call arguments:
        mask: boolean array of the input's shape without the last axis (for a sequence,
            `(batch, timesteps)`); in training, the batch statistics count unmasked entries
            only, as Keras 3 does.

    Weights, in order: `gamma`, `beta`, `moving_mean`, `moving_variance` (as Keras 3).
    """

    def __init__(self, axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones",
                 moving_mean_initializer="zeros", moving_variance_initializer="ones",
                 beta_regularizer=None, gamma_regularizer=None, beta_constraint=None,
                 gamma_constraint=None, renorm=False, synchronized=False,
                 train_when_frozen=False, **kwargs):
        super().__init__(epsilon, center, scale, beta_initializer, gamma_initializer,
                         beta_regularizer, gamma_regularizer, beta_constraint, gamma_constraint,
                         **kwargs)
        self.axis = _int_axes(self, axis, allow_list=False)
        for option, value, reason in (
                ("synchronized", synchronized, "cross-replica batch statistics"),
                ("renorm", renorm, "batch renormalization")):
            if value:
                raise ConfigurationError(
                    f"BatchNormalization '{self.name}': expected {option}=False, received "
                    f"{option}={value!r}: {reason} is not available in lamina. Remove the "
                    "argument.")
        self.momentum = float(momentum)
        self.moving_mean_initializer = initializers.get(moving_mean_initializer)
        self.moving_variance_initializer = initializers.get(moving_variance_initializer)
        self.train_when_frozen = train_when_frozen

    def build(self, input_shape):
        self._record_input(input_shape, _resolve_axes(self, self.axis, input_shape))
        (self._axis,) = self._axes
        shape = self._sizes
        self._add_affine(shape, self.scale, self.center)
        self.moving_mean = self.add_weight(shape, self.moving_mean_initializer, trainable=False,
                                           name="moving_mean")
        self.moving_variance = self.add_weight(shape, self.moving_variance_initializer,
                                               trainable=False, name="moving_variance")

    def _use_batch_statistics(self, training):
        frame = scope_lib.current_frame()
        if not training:
            return False
        if frame.training_explicit or self.train_when_frozen:
            return True
        return frame.path.open

    def _moments(self, x, reduce_axes, mask):
        if mask is None:
            return jnp.mean(x, axis=reduce_axes), jnp.var(x, axis=reduce_axes)
        keep = jnp.broadcast_to(jnp.expand_dims(mask.astype(bool), -1), x.shape)
        count = jnp.sum(keep.astype(x.dtype), axis=reduce_axes, keepdims=True) + _COUNT_EPSILON
        mean = jnp.sum(jnp.where(keep, x, 0.0), axis=reduce_axes, keepdims=True) / count
        squares = jnp.square(jnp.where(keep, x - mean, 0.0))
        variance = jnp.sum(squares, axis=reduce_axes, keepdims=True) / count
        return mean.reshape(-1), variance.reshape(-1)

    def call(self, inputs, training=False, mask=None):
        if mask is not None and mask.ndim != inputs.ndim - 1:
            raise InputSpecError(
                f"BatchNormalization '{self.name}': expected a mask of rank {inputs.ndim - 1} "
                f"(the input's shape without its last axis), received mask shape "
                f"{tuple(mask.shape)} for inputs of shape {tuple(inputs.shape)}.")
        reduce_axes = tuple(i for i in range(inputs.ndim) if i != self._axis)
        broadcast = [1] * inputs.ndim
        broadcast[self._axis] = inputs.shape[self._axis]
        x = inputs.astype(self.dtype)
        if self._use_batch_statistics(training):
            mean, variance = self._moments(x, reduce_axes, mask)
            m = self.momentum
            self.moving_mean.assign(self.moving_mean.value * m + mean * (1 - m))
            self.moving_variance.assign(self.moving_variance.value * m + variance * (1 - m))
        else:
            mean, variance = self.moving_mean.value, self.moving_variance.value
        return self._normalize(x, mean.reshape(broadcast), variance.reshape(broadcast), broadcast)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis, "momentum": self.momentum,
                "moving_mean_initializer": initializers.serialize(self.moving_mean_initializer),
                "moving_variance_initializer": initializers.serialize(
                    self.moving_variance_initializer),
                "train_when_frozen": self.train_when_frozen}


class LayerNormalization(_AffineNormalization):
    """Normalises each sample over `axis` (default the last): `gamma * (x - mean) /
    sqrt(var + epsilon) + beta`, with statistics over the given axes of that sample.

    Args:
        axis: an int or a list of ints; `gamma` and `beta` have the sizes of those axes.
        epsilon: added to the variance (Keras default 1e-3).
        center, scale: learn `beta` / `gamma`.
        beta_initializer, gamma_initializer, beta_regularizer, gamma_regularizer,
            beta_constraint, gamma_constraint: as for `Dense`'s kernel and bias.
        rms_scaling: Keras 3's (deprecated) variant: `gamma * x / sqrt(var + epsilon)`, with
            no centering and no `beta`. For RMS normalization proper, Keras now has
            `RMSNormalization`.

    Masks pass through unchanged. Weights: `gamma`, then `beta`.
    """

    def __init__(self, axis=-1, epsilon=1e-3, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones", beta_regularizer=None,
                 gamma_regularizer=None, beta_constraint=None, gamma_constraint=None,
                 rms_scaling=False, **kwargs):
        super().__init__(epsilon, center, scale, beta_initializer, gamma_initializer,
                         beta_regularizer, gamma_regularizer, beta_constraint, gamma_constraint,
                         **kwargs)
        self.axis = _int_axes(self, axis)
        self.rms_scaling = bool(rms_scaling)

    def build(self, input_shape):
        self._record_input(input_shape, _resolve_axes(self, self.axis, input_shape))
        self._add_affine(self._sizes, self.scale or self.rms_scaling,
                         self.center and not self.rms_scaling)

    def call(self, inputs):
        x = inputs.astype(self.dtype)
        axes = tuple(self._axes)
        broadcast = [x.shape[i] if i in axes else 1 for i in range(x.ndim)]
        variance = jnp.var(x, axis=axes, keepdims=True)
        if self.rms_scaling:
            y = x * jax.lax.rsqrt(variance + self.epsilon)
            return y * self.gamma.value.reshape(broadcast)
        return self._normalize(x, jnp.mean(x, axis=axes, keepdims=True), variance, broadcast)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis, "rms_scaling": self.rms_scaling}


class GroupNormalization(_AffineNormalization):
    """Splits the channels (axis `axis`) into `groups` groups and normalises each group of
    each sample over the group's channels and every other non-batch axis.

    Args:
        groups: number of groups; must divide the number of channels. -1 means one group
            per channel (instance normalization).
        axis: the channel axis (default -1).
        epsilon, center, scale and the beta/gamma initializers, regularizers and
            constraints: as `LayerNormalization`.

    Masks pass through unchanged. Weights: `gamma`, then `beta`, one value per channel.
    """

    def __init__(self, groups=32, axis=-1, epsilon=1e-3, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones", beta_regularizer=None,
                 gamma_regularizer=None, beta_constraint=None, gamma_constraint=None, **kwargs):
        super().__init__(epsilon, center, scale, beta_initializer, gamma_initializer,
                         beta_regularizer, gamma_regularizer, beta_constraint, gamma_constraint,
                         **kwargs)
        if not isinstance(groups, int) or isinstance(groups, bool) or (
                groups <= 0 and groups != -1):
            raise ConfigurationError(
                f"GroupNormalization '{self.name}': expected `groups` to be a "
                f"positive integer (or -1 for one group per channel), received "
                f"{groups!r}.")
        self.groups = groups
        self.axis = _int_axes(self, axis, allow_list=False)

    def build(self, input_shape):
        self._record_input(input_shape, _resolve_axes(self, self.axis, input_shape))
        (self._axis,), (channels,) = self._axes, self._sizes
        self._groups = channels if self.groups == -1 else self.groups
        if channels % self._groups:
            raise InputSpecError(
                f"GroupNormalization '{self.name}': expected a number of channels (axis "
                f"{self.axis}) divisible by groups={self._groups}, received {channels} channels "
                f"(input shape {tuple(input_shape)}). Choose `groups` among the divisors of "
                f"{channels}.")
        self._add_affine((channels,), self.scale, self.center)

    def call(self, inputs):
        x = inputs.astype(self.dtype)
        a = self._axis
        per_group = self._sizes[0] // self._groups
        # (..., C, ...) -> (..., groups, C // groups, ...): statistics per sample and group
        grouped = x.reshape(x.shape[:a] + (self._groups, per_group) + x.shape[a + 1:])
        axes = tuple(i for i in range(1, grouped.ndim) if i != a)
        mean = jnp.mean(grouped, axis=axes, keepdims=True)
        variance = jnp.var(grouped, axis=axes, keepdims=True)
        broadcast = [1] * grouped.ndim
        broadcast[a], broadcast[a + 1] = self._groups, per_group
        return self._normalize(grouped, mean, variance, broadcast).reshape(x.shape)

    def get_config(self):
        return {**super().get_config(), "groups": self.groups, "axis": self.axis}


class UnitNormalization(Layer):
    """Scales each sample to unit L2 norm over `axis`: `x / max(||x||, 1e-12)` (Keras 3).

    Args:
        axis: an int or a list of ints (default -1).

    No weights; masks pass through unchanged.
    """

    supports_masking = True

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = _int_axes(self, axis)

    def call(self, inputs):
        x = inputs.astype(self.dtype)
        axes = tuple(_resolve_axes(self, self.axis, x.shape))
        square_sum = jnp.sum(jnp.square(x), axis=axes, keepdims=True)
        # min(rsqrt(s), 1 / 1e-12) as Keras, with a finite gradient at zero
        return x * jax.lax.rsqrt(jnp.maximum(square_sum, 1e-24))

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


LAYERS = (BatchNormalization, LayerNormalization, GroupNormalization, UnitNormalization)
