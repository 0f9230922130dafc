"""Accuracy metrics (Keras 3 names): exact, binary, categorical, sparse and top-k accuracy.

Each is the weighted mean over samples of a per-sample 0/1 function, also available as a
function (`lamina.metrics.top_k_categorical_accuracy(y_true, y_pred, k=5)`).
"""
import jax.numpy as jnp

from lamina.errors import ConfigurationError
from lamina.metrics.base import MeanMetricWrapper


def accuracy(y_true, y_pred):
    """1 where `y_true == y_pred` exactly."""
    return (y_true.reshape(y_pred.shape) == y_pred).astype(jnp.float32)


def binary_accuracy(y_true, y_pred, threshold=0.5):
    """1 where `y_pred > threshold` agrees with the 0/1 target."""
    return (y_true.reshape(y_pred.shape) == (y_pred > threshold)).astype(jnp.float32)


def categorical_accuracy(y_true, y_pred):
    """1 where the arg-max of the one-hot target and of the prediction agree."""
    return (jnp.argmax(y_true, -1) == jnp.argmax(y_pred, -1)).astype(jnp.float32)


def _labels(y_true, y_pred):
    labels = jnp.asarray(y_true)
    if labels.ndim == y_pred.ndim and labels.shape[-1] == 1:
        labels = labels[..., 0]
    return labels.astype(jnp.int32)


def sparse_categorical_accuracy(y_true, y_pred):
    """1 where the integer label is the arg-max of the prediction."""
    return (_labels(y_true, y_pred) == jnp.argmax(y_pred, -1)).astype(jnp.float32)


def _in_top_k(labels, y_pred, k):
    # rank of the true class = 1 + the number of strictly larger scores (Keras's in_top_k);
    # a NaN score at the label never counts as large
    at_label = jnp.take_along_axis(y_pred, labels[..., None], axis=-1)
    at_label = jnp.where(jnp.isnan(at_label), -jnp.inf, at_label)
    return (1 + jnp.sum(y_pred > at_label, axis=-1) <= k).astype(jnp.float32)


def top_k_categorical_accuracy(y_true, y_pred, k=5):
    """1 where the one-hot target's class is among the `k` highest scores."""
    return _in_top_k(jnp.argmax(y_true, -1), y_pred, k)


def sparse_top_k_categorical_accuracy(y_true, y_pred, k=5, from_sorted_ids=False):
    """1 where the integer label is among the `k` highest scores; with `from_sorted_ids`,
    `y_pred` already holds class ids sorted by score and the first `k` are compared."""
    if from_sorted_ids:
        labels = _labels(y_true, y_pred[..., :1])
        return jnp.any(labels[..., None] == y_pred[..., :k], axis=-1).astype(jnp.float32)
    return _in_top_k(_labels(y_true, y_pred), y_pred, k)


def _check_k(k, owner):
    if not isinstance(k, int) or isinstance(k, bool) or k < 1:
        raise ConfigurationError(
            f"{owner}: k must be an int >= 1, received {k!r} "
            f"(of type {type(k).__name__}).")
    return k


class Accuracy(MeanMetricWrapper):
    """How often predictions equal targets exactly."""

    def __init__(self, name="accuracy"):
        super().__init__(accuracy, name)


class BinaryAccuracy(MeanMetricWrapper):
    """How often `y_pred > threshold` matches 0/1 targets. Name: "binary_accuracy"."""

    def __init__(self, name="binary_accuracy", threshold=0.5):
        super().__init__(binary_accuracy, name, threshold=threshold)


class CategoricalAccuracy(MeanMetricWrapper):
    """How often the arg-max matches the one-hot target. Name: "categorical_accuracy"."""

    def __init__(self, name="categorical_accuracy"):
        super().__init__(categorical_accuracy, name)


class SparseCategoricalAccuracy(MeanMetricWrapper):
    """How often the arg-max matches the integer label. Name: "sparse_categorical_accuracy"."""

    def __init__(self, name="sparse_categorical_accuracy"):
        super().__init__(sparse_categorical_accuracy, name)


class TopKCategoricalAccuracy(MeanMetricWrapper):
    """How often the one-hot target is in the top `k` scores (default 5).
    Name: "top_k_categorical_accuracy"."""

    def __init__(self, k=5, name="top_k_categorical_accuracy"):
        super().__init__(top_k_categorical_accuracy, name,
                         k=_check_k(k, "TopKCategoricalAccuracy"))


class SparseTopKCategoricalAccuracy(MeanMetricWrapper):
    """How often the integer label is in the top `k` scores (default 5).
    Name: "sparse_top_k_categorical_accuracy"."""

    def __init__(self, k=5, name="sparse_top_k_categorical_accuracy", from_sorted_ids=False):
        super().__init__(sparse_top_k_categorical_accuracy, name,
                         k=_check_k(k, "SparseTopKCategoricalAccuracy"),
                         from_sorted_ids=from_sorted_ids)
