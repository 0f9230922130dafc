"""Hinge losses (Keras 3 names and formulas) for maximum-margin classifiers.

Targets are -1/1; binary 0/1 targets are converted to -1/1 when every target of the batch is 0
or 1 (decided with `jnp.where`, so it runs inside `jit`).
"""
import jax.numpy as jnp

from lamina.losses.base import LossFunctionWrapper, prepare, reduce_last

_DEFAULT = "sum_over_batch_size"


def _signed_labels(y_true):
    is_binary = jnp.all((y_true == 0) | (y_true == 1))
    return jnp.where(is_binary, 2.0 * y_true - 1.0, y_true)


def hinge(y_true, y_pred):
    """`mean(max(1 - y_true * y_pred, 0), axis=-1)`."""
    y_true, y_pred = prepare(y_true, y_pred)
    return reduce_last(jnp.maximum(1.0 - _signed_labels(y_true) * y_pred, 0.0))


def squared_hinge(y_true, y_pred):
    """`mean(max(1 - y_true * y_pred, 0) ** 2, axis=-1)`."""
    y_true, y_pred = prepare(y_true, y_pred)
    return reduce_last(jnp.square(jnp.maximum(1.0 - _signed_labels(y_true) * y_pred, 0.0)))


def categorical_hinge(y_true, y_pred):
    """`max(neg - pos + 1, 0)` with `pos = sum(y_true * y_pred)` and
    `neg = max((1 - y_true) * y_pred)` over the last axis (one-hot targets)."""
    y_true, y_pred = prepare(y_true, y_pred)
    pos = jnp.sum(y_true * y_pred, axis=-1)
    neg = jnp.max((1.0 - y_true) * y_pred, axis=-1)
    return jnp.maximum(neg - pos + 1.0, 0.0)


class Hinge(LossFunctionWrapper):
    """Hinge loss for -1/1 (or 0/1) targets. Name: "hinge"."""

    def __init__(self, reduction=_DEFAULT, name="hinge", dtype=None):
        super().__init__(hinge, reduction, name, dtype)


class SquaredHinge(LossFunctionWrapper):
    """Squared hinge loss for -1/1 (or 0/1) targets. Name: "squared_hinge"."""

    def __init__(self, reduction=_DEFAULT, name="squared_hinge", dtype=None):
        super().__init__(squared_hinge, reduction, name, dtype)


class CategoricalHinge(LossFunctionWrapper):
    """Hinge loss between the true class score and the best other one (one-hot targets).
    Name: "categorical_hinge"."""

    def __init__(self, reduction=_DEFAULT, name="categorical_hinge", dtype=None):
        super().__init__(categorical_hinge, reduction, name, dtype)
