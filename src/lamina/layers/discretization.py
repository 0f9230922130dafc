"""Discretization: continuous values to bin indices, with bins given or learnt by `adapt`.

An ordinary JAX layer: `call` is `jnp.digitize` plus the categorical encoding, inside the
compiled step. `adapt` runs on the host and reproduces Keras 3's approximate quantiles
(`summarize`, `merge_summaries`, `compress_summary`: a weighted summary of at most about
`1 / epsilon` points per batch, merged batch by batch), so adapted boundaries equal Keras's.
"""
from collections.abc import Iterable

import jax.numpy as jnp
import numpy as np

from lamina.core.layer import Layer
from lamina.errors import ArgumentTypeError, ConfigurationError, InputSpecError
from lamina.layers.categorical_encoding import encode_categorical
from lamina.layers.category_encoding import check_no_sparse

OUTPUT_MODES = ("int", "one_hot", "multi_hot", "count")

MSG_NO_BOUNDARIES = """\
Discretization '{name}': expected bin boundaries, received a call before any.
The layer was created with `num_bins={num_bins}` and has not been adapted. Either
    layer.adapt(data)                       # numpy array or iterable of batches
before calling or training the model, or pass the boundaries:
    Discretization(bin_boundaries=[...])"""


def summarize(values: np.ndarray, epsilon: float) -> np.ndarray:
    """Keras's summary of one batch: every `len / (1 / epsilon)`-th sorted value, with that
    step as its weight (rows: values, weights)."""
    values = np.sort(np.reshape(values, [-1]))
    step = max(values.size / (1.0 / epsilon), 1)
    boundaries = values[int(step - 1)::int(step)]
    return np.stack([boundaries, np.ones_like(boundaries) * step])


def compress_summary(summary: np.ndarray, epsilon: float) -> np.ndarray:
    """Interpolate a summary down to `1 / epsilon` points of equal cumulative weight."""
    if summary.shape[1] * epsilon < 1:
        return summary
    percents = epsilon + np.arange(0.0, 1.0, epsilon)
    cum_weights = summary[1].cumsum()
    cum_weight_percents = cum_weights / cum_weights[-1]
    new_bins = np.interp(percents, cum_weight_percents, summary[0])
    cum_weights = np.interp(percents, cum_weight_percents, cum_weights)
    new_weights = cum_weights - np.concatenate((np.array([0]), cum_weights[:-1]))
    return np.stack((new_bins, new_weights)).astype("float32")


def merge_summaries(prev: np.ndarray, new: np.ndarray, epsilon: float) -> np.ndarray:
    merged = np.concatenate((prev, new), axis=1)
    merged = np.take(merged, np.argsort(merged[0]), axis=1)
    return compress_summary(merged, epsilon)


def bin_boundaries_of(summary: np.ndarray, num_bins: int) -> list:
    return compress_summary(summary, 1.0 / num_bins)[0, :-1].tolist()


class Discretization(Layer):
    """Buckets continuous values by ranges: bins `(-inf, b0)`, `[b0, b1)`, ..., `[bn, inf)`.

    Args:
        bin_boundaries: the sorted inner boundaries (a list of numbers). Give these, or
            `num_bins` and then call `adapt`.
        num_bins: the number of bins `adapt` computes (approximate quantiles of the data).
        epsilon: the quantile approximation's error tolerance (Keras's, default 0.01).
        output_mode: `"int"` (the bin index, int32), `"one_hot"`, `"multi_hot"` or
            `"count"` (encoded as `CategoryEncoding` does, in the compute dtype).
        sparse: must be False (lamina has no sparse tensors).

    The boundaries are configuration, not weights, as in Keras 3: they are saved in the
    model's config. Adapt the layer before the first compiled call (`fit`, `predict`): a
    compiled step keeps the boundaries it was traced with.
    """

    def __init__(self, bin_boundaries=None, num_bins=None, epsilon=0.01, output_mode="int",
                 sparse=False, **kwargs):
        super().__init__(**kwargs)
        check_no_sparse(self, sparse)
        if output_mode not in OUTPUT_MODES:
            raise ConfigurationError(
                f"Discretization '{self.name}': expected `output_mode` in {OUTPUT_MODES}, "
                f"received {output_mode!r}.")
        if num_bins is not None and bin_boundaries is not None:
            raise ConfigurationError(
                f"Discretization '{self.name}': expected `num_bins` or `bin_boundaries`, "
                f"received both (num_bins={num_bins!r}, bin_boundaries={bin_boundaries!r}).")
        if num_bins is None and bin_boundaries is None:
            raise ConfigurationError(
                f"Discretization '{self.name}': expected `num_bins` (then call `adapt`) or "
                "`bin_boundaries`, received neither.")
        if num_bins is not None and (isinstance(num_bins, bool) or not isinstance(
                num_bins, int) or num_bins < 0):
            raise ConfigurationError(
                f"Discretization '{self.name}': expected `num_bins` to be an int >= 0, "
                f"received {num_bins!r}.")
        self.bin_boundaries = None if bin_boundaries is None else self._checked(bin_boundaries)
        self.num_bins = num_bins
        self.epsilon = float(epsilon)
        self.output_mode = output_mode
        self.sparse = False
        self.summary = None if self.bin_boundaries else np.array([[], []], dtype="float32")

    def _checked(self, boundaries):
        array = np.asarray(boundaries)
        if array.ndim != 1 or array.dtype.kind not in "biuf":
            raise ConfigurationError(
                f"Discretization '{self.name}': expected `bin_boundaries` to be a list of "
                f"numbers, received {boundaries!r}.")
        return [float(b) for b in array.tolist()]

    @property
    def output_dtype(self):
        return "int32" if self.output_mode == "int" else self.compute_dtype

    # -- adapting ---------------------------------------------------------------------
    def adapt(self, data, steps=None):
        """Compute `num_bins - 1` boundaries from approximate quantiles of `data`.

        Args:
            data: a numpy or jax array, or an iterable of batches (`(x, y)` tuples
                contribute `x`).
            steps: with an iterable, the number of batches to read (None: all).
        """
        if self.num_bins is None:
            raise ConfigurationError(
                f"Discretization '{self.name}': `adapt` computes boundaries for `num_bins`, "
                "received a layer created with `bin_boundaries`. Create it with `num_bins=` "
                "to adapt it to data.")
        if self.num_bins < 1:
            raise ConfigurationError(
                f"Discretization '{self.name}': `adapt` needs `num_bins` >= 1, received "
                f"num_bins={self.num_bins}.")
        summary, seen = np.array([[], []], dtype="float32"), False
        for batch in self._batches(data, steps):
            batch = np.asarray(batch).astype("float32")
            if batch.size == 0:
                continue
            summary = merge_summaries(summarize(batch, self.epsilon), summary, self.epsilon)
            seen = True
        if not seen:
            raise InputSpecError(
                f"Discretization '{self.name}'.adapt: expected at least one value, received "
                "empty data.")
        self.summary = summary
        self.bin_boundaries = bin_boundaries_of(summary, self.num_bins)

    def _batches(self, data, steps) -> Iterable:
        if hasattr(data, "shape"):
            return [data]
        if isinstance(data, (str, bytes, dict)) or not hasattr(data, "__iter__"):
            raise ArgumentTypeError(
                f"Discretization '{self.name}'.adapt: expected a numpy array or an iterable "
                f"of array batches, received {type(data).__name__}.")
        return self._iterate(data, steps)

    def _iterate(self, data, steps):
        for i, batch in enumerate(data):
            if steps is not None and i >= steps:
                return
            batch = batch[0] if isinstance(batch, tuple) else batch
            if np.asarray(batch).dtype.kind not in "biuf":
                raise ArgumentTypeError(
                    f"Discretization '{self.name}'.adapt: expected numeric batches, received "
                    f"{type(batch).__name__} of dtype {np.asarray(batch).dtype}.")
            yield batch

    # -- calling ----------------------------------------------------------------------
    def call(self, inputs):
        if self.bin_boundaries is None:
            raise ConfigurationError(
                MSG_NO_BOUNDARIES.format(name=self.name, num_bins=self.num_bins))
        x = jnp.asarray(inputs).astype(jnp.float32)
        indices = jnp.digitize(x, jnp.asarray(self.bin_boundaries, jnp.float32))
        return encode_categorical(indices, self.output_mode, len(self.bin_boundaries) + 1,
                                  dtype=self.output_dtype, xp=jnp,
                                  name=f"Discretization '{self.name}'")

    # -- config -----------------------------------------------------------------------
    def get_config(self):
        return {**super().get_config(), "bin_boundaries": self.bin_boundaries,
                "num_bins": self.num_bins, "epsilon": self.epsilon,
                "output_mode": self.output_mode, "sparse": self.sparse}

    @classmethod
    def from_config(cls, config):
        # an adapted layer's config has both `num_bins` and its learnt `bin_boundaries`
        config = dict(config)
        boundaries = config.pop("bin_boundaries", None)
        if config.get("num_bins") is None:
            return cls(bin_boundaries=boundaries, **config)
        layer = cls(**config)
        if boundaries is not None:
            layer.bin_boundaries = layer._checked(boundaries)
        return layer


LAYERS = (Discretization,)
