"""Preprocessing layers: Rescaling, Normalization (with `adapt`) and Identity."""
import math

import jax.numpy as jnp
import numpy as np

from lamina.core import scope as scope_lib
from lamina.core.layer import Layer
from lamina.errors import ArgumentTypeError, ConfigurationError, InputSpecError

# Keras's backend epsilon: the smallest standard deviation Normalization divides by
_STDDEV_FLOOR = 1e-7
_INT32_MAX = np.iinfo(np.int32).max

MSG_NOT_ADAPTED = """\
Normalization '{name}': expected statistics to normalise with, received a call before any.
The layer was built without `mean` and `variance` and has not been adapted, so it would
silently use mean 0 and variance 1. Either
    layer.adapt(data)                              # numpy array or iterable of batches
before calling or training the model, or pass the statistics:
    Normalization(mean=..., variance=...)
(or copy adapted weights in with `set_weights`)."""


def _as_config_value(value):
    """A number or nested list (JSON-ready) for a scalar or array-like argument."""
    array = np.asarray(value)
    if array.dtype.kind not in "biuf":
        raise ArgumentTypeError(f"expected a number or an array of numbers, received {value!r}")
    return array.tolist()


class Rescaling(Layer):
    """`inputs * scale + offset`, computed in float32 (e.g. `Rescaling(1 / 255)` for images).

    Args:
        scale, offset: numbers, or arrays broadcastable to the inputs (per channel on the
            last axis).

    No weights; masks pass through unchanged.
    """

    supports_masking = True

    def __init__(self, scale, offset=0.0, **kwargs):
        super().__init__(**kwargs)
        try:
            self.scale, self.offset = _as_config_value(scale), _as_config_value(offset)
        except TypeError as err:
            raise ConfigurationError(
                f"Rescaling '{self.name}': `scale` and `offset`: {err}.") from err

    def call(self, inputs):
        x = inputs.astype(self.compute_dtype)
        return (x * jnp.asarray(self.scale, self.compute_dtype)
                + jnp.asarray(self.offset, self.compute_dtype))

    def get_config(self):
        return {**super().get_config(), "scale": self.scale, "offset": self.offset}


class Identity(Layer):
    """Returns its inputs unchanged (a placeholder, e.g. an optional block turned off).

    No weights; masks pass through unchanged.
    """

    supports_masking = True

    def call(self, inputs):
        return inputs


class Normalization(Layer):
    """`(inputs - mean) / sqrt(variance)` per position of the kept `axis`, with statistics
    given or computed from data by `adapt`.

    Args:
        axis: the axes that keep their own statistics (default -1: one mean and variance per
            feature); the others, batch included, are averaged over. An int, a list of ints,
            or None for one scalar mean and variance.
        mean, variance: fixed statistics (numbers or arrays broadcastable over the kept
            axes). Give both or neither; without them, call `adapt(data)` before use.
        invert: apply the inverse transformation, `mean + inputs * sqrt(variance)`.

    The adapted statistics are non-trainable weights `mean`, `variance` and `count`, as in
    Keras 3: saved with the model, never trained. `count` holds the number of values each
    statistic was computed from (Keras 3 leaves it at 0). The standard deviation is floored
    at 1e-7 as in Keras. Masks pass through unchanged.
    """

    supports_masking = True

    def __init__(self, axis=-1, mean=None, variance=None, invert=False, **kwargs):
        super().__init__(**kwargs)
        if axis is None:
            axis = ()
        elif isinstance(axis, int) and not isinstance(axis, bool):
            axis = (axis,)
        elif not (isinstance(axis, (list, tuple)) and all(
                isinstance(a, int) and not isinstance(a, bool) for a in axis)):
            raise ConfigurationError(
                f"Normalization '{self.name}': expected `axis` to be an int, a "
                f"list of ints or None, received {axis!r}.")
        self.axis = tuple(axis)
        self.invert = bool(invert)
        if (mean is None) != (variance is None):
            raise ConfigurationError(
                f"Normalization '{self.name}': expected both `mean` and "
                f"`variance` or neither, received mean={mean!r} and "
                f"variance={variance!r}.")
        self.input_mean = self.input_variance = None
        if mean is not None:
            try:
                self.input_mean = _as_config_value(mean)
                self.input_variance = _as_config_value(variance)
            except TypeError as err:
                raise ConfigurationError(
                    f"Normalization '{self.name}': `mean` and `variance`: "
                    f"{err}.") from err
            shapes = np.shape(self.input_mean), np.shape(self.input_variance)
            if shapes[0] != shapes[1] or len(shapes[0]) > len(self.axis):
                raise ConfigurationError(
                    f"Normalization '{self.name}': expected `mean` and `variance` of the same "
                    f"shape with at most {len(self.axis)} dimensions (one per kept axis "
                    f"{self.axis}), received shapes {shapes[0]} and {shapes[1]}.")
        # statistics known without `adapt`: given, adapted, or copied in with the weights
        self._adapted = mean is not None

    # -- building ---------------------------------------------------------------------
    def build(self, input_shape):
        ndim = len(input_shape)
        if any(not -ndim <= a < ndim for a in self.axis):
            raise InputSpecError(
                f"Normalization '{self.name}': axis {self.axis} is out of range for inputs of "
                f"shape {tuple(input_shape)}; expected axes in [{-ndim}, {ndim}).")
        self._keep = tuple(sorted({a % ndim for a in self.axis}))
        if any(input_shape[a] is None for a in self._keep):
            raise InputSpecError(f"Normalization '{self.name}': expected known sizes on the kept "
                                 f"axes {self._keep}, received shape {tuple(input_shape)}.")
        self._ndim = ndim
        self._reduce = tuple(a for a in range(ndim) if a not in self._keep)
        self._broadcast = tuple(input_shape[a] if a in self._keep else 1 for a in range(ndim))
        stat_shape = tuple(input_shape[a] for a in self._keep)
        if self.input_mean is not None:
            self._fixed = tuple(self._broadcast_given(v) for v in
                                (self.input_mean, self.input_variance))
            return
        self.adapt_mean = self.add_weight(stat_shape, "zeros", trainable=False, name="mean")
        self.adapt_variance = self.add_weight(stat_shape, "ones", trainable=False,
                                              name="variance")
        self.count = self.add_weight((), "zeros", dtype="int32", trainable=False, name="count")

    def _broadcast_given(self, value):
        """A given statistic laid out on the kept axes (its last dims match the last kept
        axes), broadcast to the layer's broadcast shape."""
        value = np.asarray(value, np.float32)
        expanded = [1] * self._ndim
        for i in range(1, value.ndim + 1):
            expanded[self._keep[-i]] = value.shape[-i]
        try:
            return np.broadcast_to(value.reshape(expanded), self._broadcast)
        except ValueError as err:
            raise InputSpecError(
                f"Normalization '{self.name}': the given mean/variance of shape {value.shape} "
                f"do not fit the kept axes {self._keep} of inputs with broadcast shape "
                f"{self._broadcast}.") from err

    def check_input(self, inputs):
        if inputs.ndim != self._ndim or any(
                inputs.shape[a] != self._broadcast[a] for a in self._keep):
            raise InputSpecError(
                f"Normalization '{self.name}': expected inputs of rank {self._ndim} with sizes "
                f"{[self._broadcast[a] for a in self._keep]} on axes {list(self._keep)} (as "
                f"when built), received shape {tuple(inputs.shape)}.")

    # -- adapting ---------------------------------------------------------------------
    def adapt(self, data):
        """Compute `mean` and `variance` over `data`, reducing every axis but the kept ones.

        Args:
            data: a numpy or jax array (batch first), or an iterable of such batches (a
                list, a generator; `(x, y)` tuples contribute `x`).
        """
        if self.input_mean is not None:
            raise ConfigurationError(
                f"Normalization '{self.name}': expected a layer without fixed statistics, "
                "received adapt() on one built with `mean` and `variance`. Create it without "
                "them to adapt it to data.")
        batches = self._batches([data] if hasattr(data, "shape") else data)
        total, mean, m2 = 0, None, None
        for batch in batches:
            batch = np.asarray(batch, np.float64)
            if not self.built:
                self._build_once(batch.shape)
            self.check_input(batch)
            n = math.prod(batch.shape[a] for a in self._reduce)
            batch_mean = batch.mean(axis=self._reduce)
            batch_m2 = batch.var(axis=self._reduce) * n
            if mean is None:
                total, mean, m2 = n, batch_mean, batch_m2
                continue
            # Chan et al.'s pairwise merge of (count, mean, sum of squared deviations)
            delta = batch_mean - mean
            merged = total + n
            mean = mean + delta * (n / merged)
            m2 = m2 + batch_m2 + delta ** 2 * (total * n / merged)
            total = merged
        self.adapt_mean.assign(mean.astype(np.float32))
        self.adapt_variance.assign((m2 / max(total, 1)).astype(np.float32))
        self.count.assign(np.int32(min(total, _INT32_MAX)))
        self._adapted = True

    def _batches(self, data):
        if isinstance(data, (str, bytes, dict)) or not hasattr(data, "__iter__"):
            raise ArgumentTypeError(
                f"Normalization '{self.name}'.adapt: expected a numpy array or an "
                f"iterable of array batches, received {type(data).__name__}.")
        seen = False
        for batch in data:
            batch = batch[0] if isinstance(batch, tuple) else batch
            if not hasattr(batch, "shape") or np.asarray(batch).dtype.kind not in "biuf":
                raise ArgumentTypeError(
                    f"Normalization '{self.name}'.adapt: expected batches that are "
                    f"numeric arrays, received {type(batch).__name__}.")
            seen = True
            yield batch
        if not seen:
            raise InputSpecError(
                f"Normalization '{self.name}'.adapt: expected at least one batch, "
                "received an empty iterable.")

    def set_weights(self, weights):
        """Copy in statistics (e.g. Keras 3's `[mean, variance, count]`); the layer then
        counts as adapted."""
        super().set_weights(weights)
        self._adapted = True

    # -- calling ----------------------------------------------------------------------
    def _check_adapted(self):
        if self._adapted:
            return
        scope = scope_lib.current()
        if scope is not None and scope.values is not None and self.count.uid not in scope.values:
            return  # a shape-only call (graph construction, loading): nothing is computed
        if int(self.count.stored()) > 0:  # statistics loaded from a file
            self._adapted = True
            return
        raise ConfigurationError(MSG_NOT_ADAPTED.format(name=self.name))

    def call(self, inputs):
        x = inputs.astype(self.compute_dtype)
        if self.input_mean is not None:
            mean, variance = (jnp.asarray(v) for v in self._fixed)
        else:
            self._check_adapted()
            mean = self.adapt_mean.value.reshape(self._broadcast)
            variance = self.adapt_variance.value.reshape(self._broadcast)
        stddev = jnp.maximum(jnp.sqrt(variance), _STDDEV_FLOOR)
        if self.invert:
            return mean + x * stddev
        return (x - mean) / stddev

    # -- config -----------------------------------------------------------------------
    def get_config(self):
        config = {**super().get_config(), "axis": list(self.axis), "invert": self.invert,
                  "mean": self.input_mean, "variance": self.input_variance}
        if self.input_mean is None:
            # a copy built from this config gets its statistics with the weights
            config["adapted"] = self._adapted
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        adapted = config.pop("adapted", False)
        layer = cls(**config)
        layer._adapted = layer._adapted or bool(adapted)
        return layer


LAYERS = (Rescaling, Normalization, Identity)
