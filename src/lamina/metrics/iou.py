"""Intersection-over-union metrics (Keras 3 names): IoU, MeanIoU, BinaryIoU, OneHotIoU and
OneHotMeanIoU, from a weighted (num_classes, num_classes) confusion matrix.

For class c, IoU = tp / (tp + fp + fn). The result is the mean IoU over the target classes
that occur (in the targets or the predictions). Entries whose target or prediction is out of
range, or whose target is `ignore_class`, are left out. Unlike Keras (an integer confusion
matrix by default), lamina accumulates float weights, so fractional sample weights count
exactly.
"""
import jax
import jax.numpy as jnp

from lamina.errors import ConfigurationError
from lamina.losses.base import EPSILON
from lamina.metrics.base import Metric, broadcast_weights


def confusion_matrix(labels, predictions, num_classes, weights):
    """The weighted confusion matrix (rows: targets, columns: predictions) of int arrays."""
    index = (labels * num_classes + predictions).reshape(-1)
    flat = jax.ops.segment_sum(weights.reshape(-1), index, num_segments=num_classes ** 2)
    return flat.reshape(num_classes, num_classes)


def _check_classes(num_classes, target_class_ids, owner):
    if not isinstance(num_classes, int) or isinstance(num_classes, bool) or num_classes < 1:
        raise ConfigurationError(
            f"{owner}: num_classes must be an int >= 1, received {num_classes!r}.")
    ids = list(target_class_ids)
    if not ids or any(not isinstance(i, int) or not 0 <= i < num_classes for i in ids):
        raise ConfigurationError(
            f"{owner}: target_class_ids must be class ids in [0, {num_classes}), "
            f"received {target_class_ids!r}.")
    return ids


class IoU(Metric):
    """The mean IoU over `target_class_ids`. Name: "io_u" (Keras's default).

    Args:
        num_classes: the number of classes (labels are 0 .. num_classes - 1).
        target_class_ids: the classes averaged over.
        ignore_class: a target label left out (e.g. a "void" class).
        sparse_y_true, sparse_y_pred: True when the input holds class ids; False when it holds
            one score per class along `axis` (the arg-max is taken).
        axis: the class axis of non-sparse inputs (default -1).
    """

    name = "io_u"

    def __init__(self, num_classes, target_class_ids, name=None, ignore_class=None,
                 sparse_y_true=True, sparse_y_pred=True, axis=-1):
        super().__init__(name)
        self.target_class_ids = _check_classes(num_classes, target_class_ids, type(self).__name__)
        self.num_classes, self.ignore_class, self.axis = num_classes, ignore_class, axis
        self.sparse_y_true, self.sparse_y_pred = sparse_y_true, sparse_y_pred

    def init(self):
        shape = (self.num_classes, self.num_classes)
        return {"total_confusion_matrix": jnp.zeros(shape, jnp.float32)}

    def _classes(self, y_true, y_pred):
        y_true, y_pred = jnp.asarray(y_true), jnp.asarray(y_pred)
        if not self.sparse_y_true:
            y_true = jnp.argmax(y_true, axis=self.axis)
        if not self.sparse_y_pred:
            y_pred = jnp.argmax(y_pred, axis=self.axis)
        return y_true.astype(jnp.int32), y_pred.astype(jnp.int32)

    def update(self, state, y_true, y_pred, sample_weight=None, mask=None):
        labels, predictions = self._classes(y_true, y_pred)
        if labels.ndim == predictions.ndim + 1 and labels.shape[-1] == 1:
            labels = labels[..., 0]
        if predictions.ndim == labels.ndim + 1 and predictions.shape[-1] == 1:
            predictions = predictions[..., 0]
        weights = broadcast_weights(sample_weight, mask, labels.shape)
        weights = jnp.ones(labels.shape, jnp.float32) if weights is None else weights
        valid = ((labels >= 0) & (labels < self.num_classes)
                 & (predictions >= 0) & (predictions < self.num_classes))
        if self.ignore_class is not None:
            valid = valid & (labels != self.ignore_class)
        labels, predictions = jnp.where(valid, labels, 0), jnp.where(valid, predictions, 0)
        current = confusion_matrix(labels, predictions, self.num_classes,
                                   jnp.where(valid, weights, 0.0))
        return {"total_confusion_matrix": state["total_confusion_matrix"] + current}

    def result(self, state):
        cm = state["total_confusion_matrix"]
        tp = jnp.diagonal(cm)
        denominator = jnp.sum(cm, axis=0) + jnp.sum(cm, axis=1) - tp
        ids = jnp.asarray(self.target_class_ids)
        tp, denominator = tp[ids], denominator[ids]
        valid = denominator > 1e-9
        iou = jnp.where(valid, tp / (denominator + EPSILON), 0.0)
        return jnp.sum(iou) / (jnp.sum(valid) + EPSILON)

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes,
                "target_class_ids": self.target_class_ids, "ignore_class": self.ignore_class,
                "sparse_y_true": self.sparse_y_true, "sparse_y_pred": self.sparse_y_pred,
                "axis": self.axis}


class MeanIoU(IoU):
    """The mean IoU over all `num_classes` classes (semantic segmentation's usual metric).
    Other arguments as IoU; with probability outputs pass `sparse_y_pred=False`.
    Name: "mean_io_u" (Keras's default)."""

    name = "mean_io_u"

    def __init__(self, num_classes, name=None, ignore_class=None, sparse_y_true=True,
                 sparse_y_pred=True, axis=-1):
        _check_classes(num_classes, [0], "MeanIoU")
        super().__init__(num_classes, list(range(num_classes)), name, ignore_class,
                         sparse_y_true, sparse_y_pred, axis)

    def get_config(self):
        config = super().get_config()
        del config["target_class_ids"]
        return config


class BinaryIoU(IoU):
    """IoU for 0/1 targets and scores thresholded at `threshold` (a score >= threshold is
    class 1), averaged over `target_class_ids` (default both). Name: "binary_io_u"."""

    name = "binary_io_u"

    def __init__(self, target_class_ids=(0, 1), threshold=0.5, name=None):
        super().__init__(2, target_class_ids, name)
        self.threshold = threshold

    def _classes(self, y_true, y_pred):
        return (jnp.asarray(y_true).astype(jnp.int32),
                (jnp.asarray(y_pred) >= self.threshold).astype(jnp.int32))

    def get_config(self):
        return {"name": self.name, "target_class_ids": self.target_class_ids,
                "threshold": self.threshold}


class OneHotIoU(IoU):
    """IoU for one-hot targets (and, by default, per-class scores). Name: "one_hot_io_u"."""

    name = "one_hot_io_u"

    def __init__(self, num_classes, target_class_ids, name=None, ignore_class=None,
                 sparse_y_pred=False, axis=-1):
        super().__init__(num_classes, target_class_ids, name, ignore_class, False,
                         sparse_y_pred, axis)

    def get_config(self):
        config = super().get_config()
        del config["sparse_y_true"]
        return config


class OneHotMeanIoU(MeanIoU):
    """MeanIoU for one-hot targets (and, by default, per-class scores).
    Name: "one_hot_mean_io_u"."""

    name = "one_hot_mean_io_u"

    def __init__(self, num_classes, name=None, ignore_class=None, sparse_y_pred=False, axis=-1):
        super().__init__(num_classes, name, ignore_class, False, sparse_y_pred, axis)

    def get_config(self):
        config = super().get_config()
        del config["sparse_y_true"]
        return config
