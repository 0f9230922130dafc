"""F-scores (Keras 3 names): FBetaScore and F1Score for (batch, classes) targets and scores.

A class is predicted for a sample when its score is the sample's maximum (default) or above
`threshold`. Per-class precision and recall come from weighted counts; the F-beta score is
`(1 + beta^2) * p * r / (beta^2 * p + r)` (with Keras's epsilon terms), then averaged.
"""
import jax.numpy as jnp

from lamina.errors import ConfigurationError, InputSpecError
from lamina.losses.base import EPSILON, match_rank
from lamina.metrics.base import Metric, as_float, broadcast_weights, check_size

_AVERAGES = (None, "micro", "macro", "weighted")
_STATE = ("true_positives", "false_positives", "false_negatives", "intermediate_weights")


def _is_number(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool)


class FBetaScore(Metric):
    """The F-beta score, per class or averaged. Name: "fbeta_score".

    Args:
        average: None (default: one score per class; the result is an array), "micro"
            (from the counts pooled over classes), "macro" (the mean of the per-class
            scores) or "weighted" (weighted by each class's weighted support).
        beta: > 0; recall counts `beta` times as much as precision (default 1.0).
        threshold: None (default: a sample's highest score is its prediction) or a float in
            (0, 1]: every class with a score above it is predicted.
    """

    name = "fbeta_score"

    def __init__(self, average=None, beta=1.0, threshold=None, name="fbeta_score"):
        super().__init__(name)
        owner = type(self).__name__
        if average not in _AVERAGES:
            raise ConfigurationError(
                f"{owner}: average must be one of {_AVERAGES}, received "
                f"{average!r}.")
        if not _is_number(beta) or beta <= 0:
            raise ConfigurationError(
                f"{owner}: beta must be a float > 0, received {beta!r} "
                f"(of type {type(beta).__name__}).")
        if threshold is not None and (not _is_number(threshold) or not 0 < threshold <= 1):
            raise ConfigurationError(
                f"{owner}: threshold must be None or a float in (0, 1], "
                f"received {threshold!r}.")
        self.average, self.beta, self.threshold = average, float(beta), threshold
        self._classes = None

    def build(self, y_pred_shape):
        self._classes = int(y_pred_shape[-1])

    def _shape(self, classes):
        return () if self.average == "micro" else (classes,)

    def init(self):
        return {k: jnp.zeros(self._shape(self._classes or 0), jnp.float32) for k in _STATE}

    def update(self, state, y_true, y_pred, sample_weight=None, mask=None):
        y_pred = as_float(y_pred)
        y_true = match_rank(as_float(y_true), y_pred)
        if y_pred.ndim != 2 or y_true.shape != y_pred.shape:
            raise InputSpecError(
                f"{type(self).__name__}: expected y_true and y_pred of the same "
                f"shape (batch, classes), received {y_true.shape} and "
                f"{y_pred.shape}.")
        if self.average != "micro" and check_size(state, type(self).__name__, y_pred.shape[1]):
            state = {k: jnp.zeros(self._shape(y_pred.shape[1]), jnp.float32) for k in _STATE}
        if self.threshold is None:
            top = jnp.max(y_pred, axis=-1, keepdims=True)
            predicted = (y_pred >= top) & (jnp.abs(y_pred) > 1e-9)
        else:
            predicted = y_pred > self.threshold
        predicted = predicted.astype(jnp.float32)
        weights = broadcast_weights(sample_weight, mask, y_pred.shape)
        axis = None if self.average == "micro" else 0

        def total(values):
            return jnp.sum(values if weights is None else values * weights, axis=axis)

        increments = {"true_positives": total(predicted * y_true),
                      "false_positives": total(predicted * (1.0 - y_true)),
                      "false_negatives": total((1.0 - predicted) * y_true),
                      "intermediate_weights": total(y_true)}
        return {k: state[k] + increments[k] for k in _STATE}

    def result(self, state):
        tp = state["true_positives"]
        precision = tp / (tp + state["false_positives"] + EPSILON)
        recall = tp / (tp + state["false_negatives"] + EPSILON)
        b2 = self.beta ** 2
        score = (1.0 + b2) * precision * recall / (b2 * precision + recall + EPSILON)
        if self.average == "weighted":
            support = state["intermediate_weights"]
            return jnp.sum(score * support / (jnp.sum(support) + EPSILON))
        if self.average is not None:
            return jnp.mean(score) if score.size else jnp.zeros(())
        return score

    def get_config(self):
        return {**super().get_config(), "average": self.average, "beta": self.beta,
                "threshold": self.threshold}


class F1Score(FBetaScore):
    """The F1 score (FBetaScore with beta=1): the harmonic mean of precision and recall.
    Arguments as FBetaScore. Name: "f1_score"."""

    name = "f1_score"

    def __init__(self, average=None, threshold=None, name="f1_score"):
        super().__init__(average, 1.0, threshold, name)

    def get_config(self):
        config = super().get_config()
        del config["beta"]
        return config
