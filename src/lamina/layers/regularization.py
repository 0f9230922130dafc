"""Regularization layers: Dropout and its variants (spatial, Gaussian, alpha), GaussianNoise and
ActivityRegularization.

The random layers act only when training and draw their randomness from a seed variable that
is part of the model state (`lamina.random.SeedGenerator`), so a jitted step is a pure
function of it.
"""
import math
import numbers

import jax
import jax.numpy as jnp

from lamina import regularizers
from lamina.core.layer import Layer
from lamina.errors import ConfigurationError, InputSpecError
from lamina.random import SeedGenerator

# SELU's constants (Klambauer et al., 2017), as Keras writes them
_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def _is_number(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _check_rate(layer, rate):
    if not _is_number(rate) or not 0 <= rate < 1:
        raise ConfigurationError(
            f"{type(layer).__name__} '{layer.name}': expected 0 <= rate < 1, "
            f"received {rate!r}.")
    return float(rate)


def _resolved_noise_shape(layer, noise_shape, inputs):
    """`noise_shape` with its None entries filled from the input's shape (the input's shape
    when it is None); an InputSpecError when its rank is not the input's."""
    if not noise_shape:
        return tuple(inputs.shape)
    if len(noise_shape) != inputs.ndim:
        raise InputSpecError(
            f"{type(layer).__name__} '{layer.name}': expected `noise_shape` of rank "
            f"{inputs.ndim} (the input's, shape {tuple(inputs.shape)}), received "
            f"{tuple(noise_shape)}.")
    return tuple(s if d is None else d for s, d in zip(inputs.shape, noise_shape, strict=True))


def _float_dtype(layer, inputs):
    return inputs.dtype if jnp.issubdtype(inputs.dtype, jnp.floating) else jnp.dtype(layer.dtype)


class _RandomLayer(Layer):
    """A weightless layer with a seed variable; masks pass through."""

    supports_masking = True

    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed
        self.seed_generator = SeedGenerator(seed, owner=self)
        self.built = True


class Dropout(_RandomLayer):
    """Zeroes a fraction `rate` of inputs when training and scales the rest by 1/(1-rate).

    Args:
        rate: fraction to drop, in [0, 1).
        noise_shape: broadcastable mask shape (e.g. `(batch, 1, features)`); None entries
            take the input's size.
        seed: makes the sequence of masks reproducible.
    """

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.rate = _check_rate(self, rate)
        self.noise_shape = tuple(noise_shape) if noise_shape is not None else None

    def _noise_shape(self, inputs):
        return _resolved_noise_shape(self, self.noise_shape, inputs)

    def call(self, inputs, training=False):
        if not training or self.rate == 0:
            return inputs
        keep = jax.random.bernoulli(self.seed_generator.next(), 1.0 - self.rate,
                                    self._noise_shape(inputs))
        return jnp.where(keep, inputs / (1.0 - self.rate), jnp.zeros_like(inputs))

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "noise_shape": self.noise_shape,
                "seed": self.seed}


class _SpatialDropout(Dropout):
    """Dropout of whole channels: one keep/drop draw per (sample, channel)."""

    rank = None  # the input rank, batch included

    def __init__(self, rate, data_format=None, seed=None, **kwargs):
        super().__init__(rate, seed=seed, **kwargs)
        data_format = "channels_last" if data_format is None else data_format
        if data_format not in ("channels_last", "channels_first"):
            raise ConfigurationError(
                f"{type(self).__name__} '{self.name}': expected data_format "
                f"'channels_last' or 'channels_first', received {data_format!r}.")
        self.data_format = data_format

    def check_input(self, inputs):
        if inputs.ndim != self.rank:
            raise InputSpecError(
                f"{type(self).__name__} '{self.name}': expected inputs of rank {self.rank} "
                f"(batch, {self.rank - 2} spatial axes and channels), received shape "
                f"{tuple(inputs.shape)}.")

    def _noise_shape(self, inputs):
        ones = (1,) * (self.rank - 2)
        if self.data_format == "channels_first":
            return inputs.shape[:2] + ones
        return (inputs.shape[0],) + ones + (inputs.shape[-1],)

    def get_config(self):
        config = super().get_config()
        del config["noise_shape"]
        return {**config, "data_format": self.data_format}


class SpatialDropout1D(_SpatialDropout):
    """Dropout of whole feature maps of `(batch, steps, channels)` inputs when training.

    Args:
        rate: fraction of channels to drop (per sample), in [0, 1).
        seed: makes the sequence of masks reproducible.
    """

    rank = 3

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(rate, seed=seed, **kwargs)

    def get_config(self):
        config = super().get_config()
        del config["data_format"]
        return config


class SpatialDropout2D(_SpatialDropout):
    """Dropout of whole 2D feature maps of `(batch, rows, cols, channels)` inputs when
    training (`(batch, channels, rows, cols)` with `data_format="channels_first"`).

    Args:
        rate: fraction of channels to drop (per sample), in [0, 1).
        data_format: "channels_last" (default) or "channels_first".
        seed: makes the sequence of masks reproducible.
    """

    rank = 4


class SpatialDropout3D(_SpatialDropout):
    """Dropout of whole 3D feature maps of `(batch, d1, d2, d3, channels)` inputs when
    training (channels second with `data_format="channels_first"`).

    Args:
        rate: fraction of channels to drop (per sample), in [0, 1).
        data_format: "channels_last" (default) or "channels_first".
        seed: makes the sequence of masks reproducible.
    """

    rank = 5


class GaussianNoise(_RandomLayer):
    """Adds zero-mean Gaussian noise of standard deviation `stddev` when training.

    Args:
        stddev: standard deviation of the noise, >= 0 (Keras also caps it at 1; lamina
            does not).
        seed: makes the sequence of draws reproducible.
    """

    def __init__(self, stddev, seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        if not _is_number(stddev) or stddev < 0:
            raise ConfigurationError(
                f"GaussianNoise '{self.name}': expected a number stddev >= 0, "
                f"received {stddev!r}.")
        self.stddev = float(stddev)

    def call(self, inputs, training=False):
        if not training or self.stddev == 0:
            return inputs
        dtype = _float_dtype(self, inputs)
        noise = jax.random.normal(self.seed_generator.next(), inputs.shape, dtype)
        return inputs.astype(dtype) + self.stddev * noise

    def get_config(self):
        return {**super().get_config(), "stddev": self.stddev, "seed": self.seed}


class GaussianDropout(_RandomLayer):
    """Multiplies inputs by Gaussian noise of mean 1 and standard deviation
    `sqrt(rate / (1 - rate))` when training.

    Args:
        rate: drop probability as for `Dropout`, in [0, 1).
        seed: makes the sequence of draws reproducible.
    """

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.rate = _check_rate(self, rate)

    def call(self, inputs, training=False):
        if not training or self.rate == 0:
            return inputs
        dtype = _float_dtype(self, inputs)
        stddev = math.sqrt(self.rate / (1.0 - self.rate))
        noise = jax.random.normal(self.seed_generator.next(), inputs.shape, dtype)
        return inputs.astype(dtype) * (1.0 + stddev * noise)

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}


class AlphaDropout(_RandomLayer):
    """Dropout for SELU networks: when training, sets a fraction `rate` of inputs to SELU's
    negative saturation value and applies the affine correction that keeps the mean and
    variance of standardised inputs (Klambauer et al., 2017).

    Args:
        rate: fraction to drop, in [0, 1).
        noise_shape: broadcastable mask shape; None entries take the input's size.
        seed: makes the sequence of masks reproducible.
    """

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.rate = _check_rate(self, rate)
        self.noise_shape = list(noise_shape) if noise_shape is not None else None

    def call(self, inputs, training=False):
        if not training or self.rate == 0:
            return inputs
        shape = _resolved_noise_shape(self, self.noise_shape, inputs)
        keep = jax.random.bernoulli(self.seed_generator.next(), 1.0 - self.rate, shape)
        dtype = _float_dtype(self, inputs)
        saturation = -_SELU_ALPHA * _SELU_SCALE
        a = ((1 - self.rate) * (1 + self.rate * saturation ** 2)) ** -0.5
        b = -a * saturation * self.rate
        x = jnp.where(keep, inputs.astype(dtype), saturation)
        return (a * x + b).astype(dtype)

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "noise_shape": self.noise_shape,
                "seed": self.seed}


class ActivityRegularization(Layer):
    """Returns its inputs unchanged and adds `l1 * sum(|x|) + l2 * sum(x ** 2)` of them,
    divided by the batch size (as Keras 3), to the training loss.

    Args:
        l1, l2: non-negative factors.
    """

    supports_masking = True

    def __init__(self, l1=0.0, l2=0.0, **kwargs):
        super().__init__(**kwargs)
        for name, value in (("l1", l1), ("l2", l2)):
            if not _is_number(value) or value < 0:
                raise ConfigurationError(
                    f"ActivityRegularization '{self.name}': expected a "
                    f"non-negative number for `{name}`, received {value!r}.")
        self.l1, self.l2 = float(l1), float(l2)
        self.activity_regularizer = regularizers.L1L2(l1=self.l1, l2=self.l2)

    def call(self, inputs):
        return inputs

    def get_config(self):
        config = super().get_config()
        del config["activity_regularizer"]
        return {**config, "l1": self.l1, "l2": self.l2}


LAYERS = (Dropout, SpatialDropout1D, SpatialDropout2D, SpatialDropout3D, GaussianNoise,
          GaussianDropout, AlphaDropout, ActivityRegularization)
