"""Regression losses (Keras 3 names and formulas): squared, absolute, percentage, logarithmic,
Huber, log-cosh, cosine similarity and Poisson.

Each function takes `(y_true, y_pred)` and returns one value per sample (the mean over the
last axis unless said otherwise); each class wraps its function with the Keras reduction.
"""
import jax
import jax.numpy as jnp

from lamina.errors import ConfigurationError
from lamina.losses.base import EPSILON, LossFunctionWrapper, check_axis, prepare, reduce_last

_DEFAULT = "sum_over_batch_size"


def mean_squared_error(y_true, y_pred):
    """`mean((y_pred - y_true) ** 2, axis=-1)`."""
    y_true, y_pred = prepare(y_true, y_pred)
    return reduce_last(jnp.square(y_pred - y_true))


def mean_absolute_error(y_true, y_pred):
    """`mean(abs(y_pred - y_true), axis=-1)`."""
    y_true, y_pred = prepare(y_true, y_pred)
    return reduce_last(jnp.abs(y_pred - y_true))


def mean_absolute_percentage_error(y_true, y_pred):
    """`100 * mean(abs((y_true - y_pred) / max(abs(y_true), epsilon)), axis=-1)`."""
    y_true, y_pred = prepare(y_true, y_pred)
    return 100.0 * reduce_last(jnp.abs((y_true - y_pred) / jnp.maximum(jnp.abs(y_true), EPSILON)))


def mean_squared_logarithmic_error(y_true, y_pred):
    """`mean((log(max(y_pred, eps) + 1) - log(max(y_true, eps) + 1)) ** 2, axis=-1)`."""
    y_true, y_pred = prepare(y_true, y_pred)
    diff = jnp.log(jnp.maximum(y_pred, EPSILON) + 1.0) - jnp.log(jnp.maximum(y_true, EPSILON) + 1.0)
    return reduce_last(jnp.square(diff))


def huber(y_true, y_pred, delta=1.0):
    """Quadratic `0.5 * e ** 2` for `|e| <= delta`, linear `delta * |e| - 0.5 * delta ** 2`
    beyond; the mean over the last axis."""
    y_true, y_pred = prepare(y_true, y_pred)
    error = y_pred - y_true
    abs_error = jnp.abs(error)
    per = jnp.where(abs_error <= delta, 0.5 * jnp.square(error),
                    delta * abs_error - 0.5 * delta ** 2)
    return reduce_last(per)


def log_cosh(y_true, y_pred):
    """`mean(log(cosh(y_pred - y_true)), axis=-1)`, computed stably as
    `x + softplus(-2x) - log(2)`."""
    y_true, y_pred = prepare(y_true, y_pred)
    x = y_pred - y_true
    return reduce_last(x + jax.nn.softplus(-2.0 * x) - jnp.log(2.0).astype(x.dtype))


def l2_normalize(x, axis=-1):
    """`x / ||x||` along `axis`, with the inverse norm capped at `1 / epsilon` (Keras)."""
    inv_norm = jax.lax.rsqrt(jnp.sum(jnp.square(x), axis=axis, keepdims=True))
    return x * jnp.minimum(inv_norm, 1.0 / EPSILON)


def cosine_similarity(y_true, y_pred, axis=-1):
    """`-sum(l2_normalize(y_true) * l2_normalize(y_pred), axis)`: -1 for the same direction,
    0 for orthogonal vectors (or a zero vector), 1 for opposite ones."""
    y_true, y_pred = prepare(y_true, y_pred)
    return -jnp.sum(l2_normalize(y_true, axis) * l2_normalize(y_pred, axis), axis=axis)


def poisson(y_true, y_pred):
    """`mean(y_pred - y_true * log(y_pred + epsilon), axis=-1)` (y_pred is a rate)."""
    y_true, y_pred = prepare(y_true, y_pred)
    return reduce_last(y_pred - y_true * jnp.log(y_pred + EPSILON))


class MeanSquaredError(LossFunctionWrapper):
    """Mean of squares of errors. String names: "mean_squared_error", "mse"."""

    def __init__(self, reduction=_DEFAULT, name="mean_squared_error", dtype=None):
        super().__init__(mean_squared_error, reduction, name, dtype)


class MeanAbsoluteError(LossFunctionWrapper):
    """Mean of absolute errors. String names: "mean_absolute_error", "mae"."""

    def __init__(self, reduction=_DEFAULT, name="mean_absolute_error", dtype=None):
        super().__init__(mean_absolute_error, reduction, name, dtype)


class MeanAbsolutePercentageError(LossFunctionWrapper):
    """Mean absolute error in percent of `|y_true|`. Names: "mean_absolute_percentage_error",
    "mape"."""

    def __init__(self, reduction=_DEFAULT, name="mean_absolute_percentage_error", dtype=None):
        super().__init__(mean_absolute_percentage_error, reduction, name, dtype)


class MeanSquaredLogarithmicError(LossFunctionWrapper):
    """Mean squared error of `log(1 + y)`. Names: "mean_squared_logarithmic_error", "msle"."""

    def __init__(self, reduction=_DEFAULT, name="mean_squared_logarithmic_error", dtype=None):
        super().__init__(mean_squared_logarithmic_error, reduction, name, dtype)


class Huber(LossFunctionWrapper):
    """Huber loss: squared error near zero, absolute error beyond `delta`. Name: "huber".

    Args:
        delta: where the loss turns from quadratic to linear (> 0, default 1.0).
    """

    def __init__(self, delta=1.0, reduction=_DEFAULT, name="huber_loss", dtype=None):
        if not isinstance(delta, (int, float)) or isinstance(delta, bool) or delta <= 0:
            raise ConfigurationError(
                f"Huber: delta must be a number > 0, received {delta!r} "
                f"(of type {type(delta).__name__}).")
        super().__init__(huber, reduction, name, dtype, delta=delta)


class LogCosh(LossFunctionWrapper):
    """Log of the hyperbolic cosine of the error: like MSE near zero, like MAE far away.
    Name: "log_cosh"."""

    def __init__(self, reduction=_DEFAULT, name="log_cosh", dtype=None):
        super().__init__(log_cosh, reduction, name, dtype)


class CosineSimilarity(LossFunctionWrapper):
    """Negative cosine similarity along `axis` (minimising it aligns the vectors).
    Name: "cosine_similarity"."""

    def __init__(self, axis=-1, reduction=_DEFAULT, name="cosine_similarity", dtype=None):
        super().__init__(cosine_similarity, reduction, name, dtype,
                         axis=check_axis(axis, "CosineSimilarity"))


class Poisson(LossFunctionWrapper):
    """Poisson negative log-likelihood up to a constant; `y_pred` is the (positive) rate.
    Name: "poisson"."""

    def __init__(self, reduction=_DEFAULT, name="poisson", dtype=None):
        super().__init__(poisson, reduction, name, dtype)
