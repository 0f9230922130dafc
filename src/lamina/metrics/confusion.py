"""Confusion-matrix metrics (Keras 3 names): true/false positive/negative counts at
thresholds, Precision and Recall.

A prediction is positive at threshold `t` when `y_pred > t`; a target is positive when it is
non-zero. Counts are weighted by `sample_weight` (and by the output mask). With several
thresholds the result is an array with one value per threshold.
"""
import jax
import jax.numpy as jnp
import numpy as np

from lamina.errors import ConfigurationError, InputSpecError
from lamina.losses.base import EPSILON, match_rank
from lamina.metrics.base import Metric, as_float, broadcast_weights, divide_no_nan

NEG_INF = -1e10  # the score given to entries outside the top k (Keras)
KEYS = {"tp": "true_positives", "fp": "false_positives", "tn": "true_negatives",
        "fn": "false_negatives"}


def parse_thresholds(thresholds, default, owner):
    """A list of floats in [0, 1] (the `default` when None)."""
    if thresholds is None:
        return [default]
    values = list(thresholds) if isinstance(thresholds, (list, tuple)) else [thresholds]
    bad = [t for t in values if isinstance(t, bool) or not isinstance(t, (int, float))
           or not 0 <= t <= 1]
    if not values or bad:
        raise ConfigurationError(
            f"{owner}: thresholds must be floats in [0, 1], received "
            f"{thresholds!r}.")
    return [float(t) for t in values]


def evenly_spaced(thresholds):
    """True for `i / (n - 1)`, n >= 3 (counted faster with buckets, exactly as Keras)."""
    n = len(thresholds)
    return n >= 3 and np.allclose(thresholds, np.arange(n, dtype=np.float32) / (n - 1),
                                  atol=EPSILON)


def _filter_top_k(y_pred, k):
    _, index = jax.lax.top_k(y_pred, k)
    in_top = jnp.sum(jax.nn.one_hot(index, y_pred.shape[-1], dtype=y_pred.dtype), axis=-2)
    return y_pred * in_top + NEG_INF * (1.0 - in_top)


def prepare(y_true, y_pred, sample_weight, mask, top_k=None, class_id=None, owner="metric"):
    """(labels as 0/1 floats, scores, weights or None), top-k filtered and sliced to
    `class_id`, all of `y_pred`'s shape."""
    y_pred = as_float(y_pred)
    y_true = match_rank(as_float(y_true), y_pred)
    weights = broadcast_weights(sample_weight, mask, y_pred.shape)
    if top_k is not None:
        y_pred = _filter_top_k(y_pred, top_k)
    if class_id is not None:
        if y_pred.ndim < 2 or class_id >= y_pred.shape[-1]:
            raise InputSpecError(
                f"{owner}: class_id={class_id} needs y_pred of shape (batch, "
                f"classes) with more than {class_id} classes, received shape "
                f"{y_pred.shape}.")
        y_true, y_pred = y_true[..., class_id], y_pred[..., class_id]
        weights = None if weights is None else weights[..., class_id]
    return (y_true != 0).astype(jnp.float32), y_pred, weights


def _bucket_counts(labels, y_pred, weights, n, with_epsilon):
    """Counts of `y_pred > thresholds[i]` for `thresholds = i / (n - 1)` (shifted by -eps at
    0 and +eps at 1 `with_epsilon`): scores fall in buckets, and reversed cumulative sums give
    the count above each threshold. labels, y_pred, weights: (values,)."""
    y_pred = jnp.clip(y_pred, 0.0, 1.0)
    bucket = jnp.ceil(y_pred * (n - 1)) - 1
    if with_epsilon:
        bucket = jnp.maximum(bucket, 0)
    bucket = bucket.astype(jnp.int32)  # -1 (never counted) for scores of exactly 0

    def above(values):
        per_bucket = jax.ops.segment_sum(values, bucket, num_segments=n)
        return jnp.flip(jnp.cumsum(jnp.flip(per_bucket)))

    tp, fp = above(labels * weights), above((1.0 - labels) * weights)
    return {"tp": tp, "fp": fp, "fn": jnp.sum(labels * weights) - tp,
            "tn": jnp.sum((1.0 - labels) * weights) - fp}


def confusion_counts(labels, y_pred, weights, thresholds, multi_label=False):
    """Weighted tp / fp / tn / fn at each threshold: arrays (thresholds,), or
    (thresholds, labels) with `multi_label` (inputs (batch, labels))."""
    weights = jnp.ones_like(y_pred) if weights is None else weights
    n = len(thresholds)
    if evenly_spaced(np.clip(thresholds, 0.0, 1.0)) and (thresholds[0] <= 0 and
                                                         thresholds[-1] >= 1):
        with_epsilon = thresholds[0] < 0.0 or thresholds[-1] > 1.0
        if multi_label:
            counts = jax.vmap(lambda lab, p, w: _bucket_counts(lab, p, w, n, with_epsilon),
                              in_axes=1, out_axes=1)(labels, y_pred, weights)
            return counts
        return _bucket_counts(labels.reshape(-1), y_pred.reshape(-1), weights.reshape(-1), n,
                              with_epsilon)
    if not multi_label:
        labels, y_pred, weights = labels.reshape(-1), y_pred.reshape(-1), weights.reshape(-1)
    t = jnp.asarray(thresholds, jnp.float32).reshape((n,) + (1,) * y_pred.ndim)
    pos = (y_pred[None] > t).astype(jnp.float32)  # (thresholds, values...)
    lw, nw = labels * weights, (1.0 - labels) * weights
    tp, fp = jnp.sum(pos * lw, axis=1), jnp.sum(pos * nw, axis=1)
    return {"tp": tp, "fp": fp, "fn": jnp.sum(lw, axis=0) - tp, "tn": jnp.sum(nw, axis=0) - fp}


class _Counts(Metric):
    """Counts of a set of confusion-matrix cells at `thresholds` (state: one array per cell)."""

    cells = ()

    def __init__(self, thresholds=None, name=None, top_k=None, class_id=None, default=0.5):
        super().__init__(name)
        owner = type(self).__name__
        if top_k is not None and (not isinstance(top_k, int) or isinstance(top_k, bool)
                                  or top_k < 1):
            raise ConfigurationError(
                f"{owner}: top_k must be an int >= 1 or None, received {top_k!r}.")
        if class_id is not None and (not isinstance(class_id, int) or isinstance(class_id, bool)
                                     or class_id < 0):
            raise ConfigurationError(
                f"{owner}: class_id must be an int >= 0 or None, received "
                f"{class_id!r}.")
        self.init_thresholds = thresholds
        self.thresholds = parse_thresholds(thresholds, default, owner)
        self.top_k, self.class_id = top_k, class_id

    def init(self):
        return {KEYS[c]: jnp.zeros((len(self.thresholds),), jnp.float32) for c in self.cells}

    def update(self, state, y_true, y_pred, sample_weight=None, mask=None):
        labels, scores, weights = prepare(y_true, y_pred, sample_weight, mask, self.top_k,
                                          self.class_id, type(self).__name__)
        counts = confusion_counts(labels, scores, weights, self.thresholds)
        return {KEYS[c]: state[KEYS[c]] + counts[c] for c in self.cells}

    def _one_or_all(self, value):
        return value[0] if len(self.thresholds) == 1 else value


class _Cell(_Counts):
    def __init__(self, thresholds=None, name=None):
        super().__init__(thresholds, name)

    def result(self, state):
        return self._one_or_all(state[KEYS[self.cells[0]]])

    def get_config(self):
        return {**super().get_config(), "thresholds": self.init_thresholds}


class TruePositives(_Cell):
    """Weighted count of true positives (`y_pred > threshold`, default 0.5; a list of
    thresholds gives one count each). Name: "true_positives"."""

    name, cells = "true_positives", ("tp",)


class FalsePositives(_Cell):
    """Weighted count of false positives. Name: "false_positives"."""

    name, cells = "false_positives", ("fp",)


class TrueNegatives(_Cell):
    """Weighted count of true negatives. Name: "true_negatives"."""

    name, cells = "true_negatives", ("tn",)


class FalseNegatives(_Cell):
    """Weighted count of false negatives. Name: "false_negatives"."""

    name, cells = "false_negatives", ("fn",)


class _PrecisionRecall(_Counts):
    def __init__(self, thresholds=None, top_k=None, class_id=None, name=None):
        # with top_k every score in the top k counts as positive unless thresholds are given
        super().__init__(thresholds, name, top_k, class_id,
                         default=0.5 if top_k is None else NEG_INF)

    def get_config(self):
        return {**super().get_config(), "thresholds": self.init_thresholds,
                "top_k": self.top_k, "class_id": self.class_id}


class Precision(_PrecisionRecall):
    """tp / (tp + fp): the fraction of predicted positives that are positive.

    Args:
        thresholds: a float or list of floats in [0, 1] (default 0.5); one result each.
        top_k: only the `k` highest scores of each sample can be positive.
        class_id: the class (last-axis index) to compute precision for.

    Name: "precision".
    """

    name, cells = "precision", ("tp", "fp")

    def result(self, state):
        tp, fp = state["true_positives"], state["false_positives"]
        return self._one_or_all(divide_no_nan(tp, tp + fp))


class Recall(_PrecisionRecall):
    """tp / (tp + fn): the fraction of positives predicted positive. Arguments as
    Precision. Name: "recall"."""

    name, cells = "recall", ("tp", "fn")

    def result(self, state):
        tp, fn = state["true_positives"], state["false_negatives"]
        return self._one_or_all(divide_no_nan(tp, tp + fn))
