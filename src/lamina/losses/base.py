"""The `Loss` base class: per-sample values, then masks, sample weights and a Keras reduction.

A loss object is called as `loss(y_true, y_pred, sample_weight=None, mask=None)`. Its `call`
gives one value per sample (or per time step); `__call__` weights and reduces them. The default
reduction is Keras's "sum over batch size": `sum(per_sample * weight) / number_of_values`. A
mask (the model output's mask, e.g. padded time steps) averages over the valid entries only,
as Keras 3 does.
"""
import functools

import jax
import jax.numpy as jnp

from lamina.errors import AbstractMethodError, ConfigurationError

EPSILON = 1e-7  # keras.backend.epsilon()


@functools.partial(jax.custom_jvp, nondiff_argnums=(1, 2))
def clip(x, low, high):
    """`jnp.clip(x, low, high)` (`low`, `high`: Python numbers) with the same derivative,
    bit for bit, computed without a division.

    JAX differentiates `clip` as `max` then `min`, each derivative a quotient of two selects
    (1/1 inside, 1/2 at a tie, 0 outside); the losses on probabilities clip every
    prediction, so those divisions and their selects reach every train step's program and
    cost XLA compile time. Here the same factors (1, 0.5 or 0, NaN giving 0) are selected
    directly."""
    return jnp.clip(x, low, high)


@clip.defjvp
def _clip_jvp(low, high, primals, tangents):
    # jax.lax, not jnp: every jnp call is a nested jit that costs Python tracing time at
    # each first `fit` (the same program; `tests/training/test_step_program.py`)
    (x,), (tangent,) = primals, tangents
    low, high, one, half, zero = (jax.lax.full_like(x, v) for v in (low, high, 1.0, 0.5, 0.0))
    raised = jax.lax.max(low, x)
    below = jax.lax.select(jax.lax.gt(x, low), one,
                           jax.lax.select(jax.lax.eq(x, low), half, zero))
    above = jax.lax.select(jax.lax.lt(raised, high), one,
                           jax.lax.select(jax.lax.eq(raised, high), half, zero))
    return jax.lax.min(high, raised), jax.lax.mul(jax.lax.mul(tangent, above), below)


REDUCTIONS = ("sum_over_batch_size", "sum", "mean", "mean_with_sample_weight", "none", None)


def match_rank(a, b):
    """`a` squeezed or expanded by one trailing axis of size 1 to the rank of `b` (Keras)."""
    if a.ndim == b.ndim - 1 and b.shape[-1] == 1:
        return a[..., None]
    if a.ndim == b.ndim + 1 and a.shape[-1] == 1:
        return a[..., 0]
    if a.ndim < b.ndim:  # weights (batch,) against per-sample values (batch, steps)
        return a.reshape(a.shape + (1,) * (b.ndim - a.ndim))
    return a


def as_array(x, dtype=None):
    """`x` as a jax array (of `dtype`): `x` itself when it is one already, so that a softmax
    output reaches the cross-entropies as the array its softmax remembered
    (`lamina.losses.softmax_logits`)."""
    if isinstance(x, jax.Array) and (dtype is None or x.dtype == jnp.dtype(dtype)):
        return x
    return jnp.asarray(x, dtype)


def prepare(y_true, y_pred):
    """`y_pred` as an array and `y_true` in its dtype, at its rank (the function forms)."""
    y_pred = as_array(y_pred)
    if not jnp.issubdtype(y_pred.dtype, jnp.floating):
        y_pred = y_pred.astype(jnp.float32)
    return match_rank(jnp.asarray(y_true, y_pred.dtype), y_pred), y_pred


def reduce_last(x):
    """The mean over the last axis: one value per sample (1-D inputs are per-sample already)."""
    return jnp.mean(x, axis=-1) if x.ndim > 1 else x


def mask_weights(mask, sample_weight, per_sample, averaged=True):
    """Sample weights that zero the masked entries (Keras's `apply_mask`).

    With `averaged` (the "sum_over_batch_size" and "mean" reductions) valid entries get
    `total / valid`, so the sum-over-batch-size mean becomes the mean over valid entries.
    """
    mask = match_rank(jnp.asarray(mask, per_sample.dtype), per_sample)
    weights = mask
    if averaged:
        valid = jnp.sum(mask)
        weights = mask * jnp.where(valid > 0, mask.size / jnp.maximum(valid, 1.0), 0.0)
    if sample_weight is not None:
        weights = weights * match_rank(jnp.asarray(sample_weight, per_sample.dtype), weights)
    return weights


def _divide_no_nan(total, divisor):
    if isinstance(divisor, int):  # a static count: no selects in the traced program
        return total / divisor if divisor else jnp.zeros_like(total)
    safe = jnp.where(divisor == 0, 1.0, divisor)
    return jnp.where(divisor == 0, 0.0, total / safe)


def reduce_weighted(values, sample_weight=None, mask=None, reduction="sum_over_batch_size"):
    """Weight `values` by the mask and `sample_weight`, then reduce them as Keras does."""
    if mask is not None:
        sample_weight = mask_weights(mask, sample_weight, values,
                                     averaged=reduction in ("sum_over_batch_size", "mean"))
    if sample_weight is not None:
        sample_weight = match_rank(jnp.asarray(sample_weight, values.dtype), values)
        values = values * sample_weight
    if reduction in (None, "none") or values.ndim == 0:
        return values
    total = jnp.sum(values)
    if reduction == "sum":
        return total
    if reduction == "mean_with_sample_weight" and sample_weight is not None:
        return _divide_no_nan(total, jnp.sum(jnp.broadcast_to(sample_weight, values.shape)))
    return _divide_no_nan(total, values.size)


def check_reduction(reduction, owner):
    if reduction not in REDUCTIONS:
        raise ConfigurationError(
            f"{owner}: invalid reduction={reduction!r}. Expected one of "
            f"{', '.join(repr(r) for r in REDUCTIONS)}; 'sum_over_batch_size' is the default."
        )
    return reduction


def check_axis(axis, owner):
    # a ValueError (ConfigurationError), as Keras raises for a bad argument of a loss
    if not isinstance(axis, int) or isinstance(axis, bool):
        raise ConfigurationError(
            f"{owner}: axis must be an int, received {axis!r} (of type {type(axis).__name__}).")
    return axis


def check_probability(value, what, owner):
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 <= value <= 1:
        raise ConfigurationError(
            f"{owner}: {what} must be a number in [0, 1], received {value!r} "
            f"(of type {type(value).__name__}).")
    return value


class Loss:
    """Base class: subclasses define `call(y_true, y_pred) -> per-sample loss`.

    Args:
        name: the loss name (the log key of a per-output loss).
        reduction: "sum_over_batch_size" (default), "mean" (the same), "sum",
            "mean_with_sample_weight" (divide by the sum of the weights) or "none"/None
            (return the weighted per-sample values; not usable as a compiled loss).
        dtype: the dtype the loss computes in (default float32, like Keras's floatx, so
            bfloat16 outputs are upcast).
    """

    name = "loss"
    _int_labels = False  # sparse labels stay integers

    def __init__(self, name=None, reduction="sum_over_batch_size", dtype=None):
        if name is not None:
            self.name = name
        self.reduction = check_reduction(reduction, type(self).__name__)
        self.dtype = dtype

    def call(self, y_true, y_pred):
        raise AbstractMethodError(
            f"{type(self).__name__} does not define `call(self, y_true, y_pred)`: "
            "expected every subclass of Loss to define it.")

    def call_with_mask(self, y_true, y_pred):
        """(per-sample values, a mask of the valid values or None); see ignore_class."""
        return self.call(y_true, y_pred), None

    def __call__(self, y_true, y_pred, sample_weight=None, mask=None):
        y_pred = as_array(y_pred, self.dtype or jnp.float32)
        if self._int_labels:
            y_true = jnp.asarray(y_true)
        else:
            y_true = match_rank(jnp.asarray(y_true, y_pred.dtype), y_pred)
        per_sample, own_mask = self.call_with_mask(y_true, y_pred)
        if own_mask is not None:
            mask = own_mask if mask is None else jnp.logical_and(
                match_rank(jnp.asarray(mask, bool), own_mask), own_mask)
        return reduce_weighted(per_sample, sample_weight, mask, self.reduction)

    def get_config(self):
        return {"name": self.name, "reduction": self.reduction, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class LossFunctionWrapper(Loss):
    """A `Loss` over `fn(y_true, y_pred, **options) -> per-sample loss` (Keras's wrapper);
    the options are attributes of the loss and part of its config."""

    def __init__(self, fn, reduction="sum_over_batch_size", name=None, dtype=None, **options):
        super().__init__(name, reduction, dtype)
        self.fn = fn
        self.options = options
        for key, value in options.items():
            setattr(self, key, value)

    def call(self, y_true, y_pred):
        return self.fn(y_true, y_pred, **self.options)

    def get_config(self):
        return {**super().get_config(), **self.options}
